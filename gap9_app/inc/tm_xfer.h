/* tm_xfer.h: data movement between the memory levels, the ONLY way data moves in a network.
 *
 * network.c (generated from the memory plan) starts every transfer and waits for it; kernels compute on L1
 * pointers and never fetch anything themselves. Each platform family implements these functions once:
 *   PMSIS (GAP9 SDK; the open PULP SDK on GVSoC pulp-open): L2 <-> L1 by the cluster DMA (pi_cl_dma_cmd,
 *        pi_cl_dma_cmd_2d, pi_cl_dma_cmd_wait), L3 -> L2 by pi_cl_ram_read / pi_cl_ram_read_wait from the
 *        HyperRAM copy of the weight image;
 *   host, rv32: memcpy between separate L1, L2 and L3 regions of the board's sizes; with TM_CHECK_MEMORY defined,
 *        every transfer is bounds- and hazard-checked (a missing or misplaced transfer fails naming the layer).
 *
 * Rules: transfers are issued by cluster core 0 between forks, never inside a worker. They are asynchronous: the
 * destination may be read, and the source overwritten, only after tm_xfer_wait(handle). Any size is allowed (the
 * platform splits what one DMA command cannot carry). L3 is the weight image (weights.bin, offsets in weights.h);
 * L3 is read-only and its transfers land in L2.
 */
#ifndef TM_XFER_H
#define TM_XFER_H

#include <stdint.h>

#include "tm_arch.h"
#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
#include "bsp/ram.h" /* pi_cl_ram_req_t (both SDKs: pmsis_bsp include/bsp/ram.h) */
#endif

#define TM_XFER_MAX_CMDS 8 /* DMA commands one handle may hold (a split transfer) */

typedef struct {
#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
    pi_cl_dma_cmd_t dma[TM_XFER_MAX_CMDS]; /* L2 <-> L1 pieces */
    pi_cl_ram_req_t ram[TM_XFER_MAX_CMDS]; /* L3 -> L2 pieces */
#endif
    uint16_t dma_cmds, ram_reqs; /* pieces started, waited for by tm_xfer_wait */
    uint16_t pending;            /* 1 between start and wait */
    void *dst;                   /* destination and size, kept for the checking build */
    uint32_t bytes;
} tm_xfer_t;

/* L2 -> L1: bytes contiguous bytes. */
void tm_xfer_to_l1(void *l1, const void *l2, uint32_t bytes, tm_xfer_t *x);
/* L2 -> L1, strided source: rows of row_bytes each, l2_stride bytes apart in L2, packed back to back in L1. */
void tm_xfer_to_l1_2d(void *l1, const void *l2, uint32_t row_bytes, uint32_t rows, uint32_t l2_stride, tm_xfer_t *x);
/* L1 -> L2: bytes contiguous bytes. */
void tm_xfer_to_l2(void *l2, const void *l1, uint32_t bytes, tm_xfer_t *x);
/* L1 -> L2, strided destination: rows of row_bytes packed in L1 go l2_stride bytes apart in L2. */
void tm_xfer_to_l2_2d(void *l2, const void *l1, uint32_t row_bytes, uint32_t rows, uint32_t l2_stride, tm_xfer_t *x);
/* L3 -> L2: bytes of the weight image from l3_offset. */
void tm_xfer_from_l3(void *l2, uint32_t l3_offset, uint32_t bytes, tm_xfer_t *x);
/* Returns when every piece of the transfer has landed. A handle that was never started returns at once. */
void tm_xfer_wait(tm_xfer_t *x);

/* Makes the weight image (TM_L3_IMAGE_BYTES bytes, weights.bin) readable as L3, once, before the first inference
 * (host: a file into the L3 region; GAP9: readfs in flash -> HyperRAM; pulp-open: HyperFlash -> HyperRAM).
 * 0 on success; non-zero after printing why (missing or short image). Called on the FC side. */
int tm_l3_open(const char *image, uint32_t bytes);

#endif /* TM_XFER_H */
