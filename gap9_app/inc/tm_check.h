/* tm_check.h: the checking build (compile with -DTM_CHECK_MEMORY; host and rv32, no simulator).
 *
 * network.c declares, per layer, the L1 arena and the planned L1 tile buffers (memory/tiling.py); kernels declare
 * every pointer range they read or write; tm_xfer_memcpy.c checks each transfer. A range outside the layer's
 * planned L1 buffers, a transfer out of its level's bounds, a hazard against a pending transfer, a pending transfer
 * at the end of a layer or a transfer count other than the planned one prints the layer and exits non-zero.
 * Without TM_CHECK_MEMORY every macro is nothing. */
#ifndef TM_CHECK_H
#define TM_CHECK_H

#include <stdint.h>

/* bytes of a 2-D range: rows of row_bytes, ld bytes apart (the span a kernel touches) */
#define TM_SPAN(rows, row_bytes, ld) ((rows) > 0 ? (uint32_t)(((rows) - 1) * (ld) + (row_bytes)) : 0u)

#if defined(TM_CHECK_MEMORY)
void tm_check_layer(const char *name, const void *l1, uint32_t l1_bytes);
void tm_check_l1_buffer(const void *p, uint32_t bytes);
void tm_check_layer_end(uint32_t planned_transfers);
void tm_check_kernel(const char *kernel, const char *what, const void *p, uint32_t bytes, int writes);
#define TM_CHECK_LAYER(name, l1, bytes) tm_check_layer(name, l1, bytes)
#define TM_CHECK_L1_BUFFER(p, bytes) tm_check_l1_buffer(p, bytes)
#define TM_CHECK_LAYER_END(transfers) tm_check_layer_end(transfers)
#define TM_CHECK_READ(what, p, bytes) tm_check_kernel(__func__, what, p, (uint32_t)(bytes), 0)
#define TM_CHECK_WRITE(what, p, bytes) tm_check_kernel(__func__, what, p, (uint32_t)(bytes), 1)
#else
#define TM_CHECK_LAYER(name, l1, bytes) ((void)0)
#define TM_CHECK_L1_BUFFER(p, bytes) ((void)0)
#define TM_CHECK_LAYER_END(transfers) ((void)0)
/* sizeof: the operands count as used and are never evaluated */
#define TM_CHECK_READ(what, p, bytes) ((void)sizeof(p), (void)sizeof(bytes))
#define TM_CHECK_WRITE(what, p, bytes) ((void)sizeof(p), (void)sizeof(bytes))
#endif

#endif /* TM_CHECK_H */
