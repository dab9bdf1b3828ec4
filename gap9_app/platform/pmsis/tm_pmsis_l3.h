/* The L3 of a PMSIS platform (GAP9 SDK; the open PULP SDK on GVSoC pulp-open): the weight image (weights.bin)
 * copied once into external RAM by the platform's tm_l3_open, read back by tm_xfer_from_l3 (tm_xfer_pmsis.c)
 * with pi_cl_ram_read. Why a RAM copy and not flash reads: the cluster can read external RAM directly
 * (pi_cl_ram_read); flash is an FC-side driver, and the RAM's latency is the lower one.
 *
 * Each platform's tm_l3_open (GAP9: readfs in flash -> RAM, platform/gap9; pulp-open: raw HyperFlash image ->
 * HyperRAM, platform/pmsis/pulp_open) opens the RAM, allocates the image there, copies it and then sets these. */
#ifndef TM_PMSIS_L3_H
#define TM_PMSIS_L3_H

#include <stdint.h>

#include "pmsis.h"

extern struct pi_device *tm_l3_ram;  /* the opened external RAM; NULL until tm_l3_open succeeded */
extern uint32_t tm_l3_ram_base;      /* RAM address of byte 0 of the weight image */
extern uint32_t tm_l3_image_bytes;   /* bytes of the image (TM_L3_IMAGE_BYTES of the network) */

#endif /* TM_PMSIS_L3_H */
