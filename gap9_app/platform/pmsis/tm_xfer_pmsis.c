/* tm_xfer.h on PMSIS, one implementation for GAP9 (GAP9 SDK) and pulp-open (the open PULP SDK on GVSoC):
 *   L2 <-> L1  the cluster DMA: pi_cl_dma_cmd / pi_cl_dma_cmd_2d, waited by pi_cl_dma_cmd_wait;
 *   L3 -> L2   pi_cl_ram_read / pi_cl_ram_read_wait from the RAM copy of the weight image (tm_pmsis_l3.h).
 * One DMA command carries less than 64 KiB (its size field is 16 bits), so a transfer is split into pieces of at
 * most TM_XFER_DMA_PIECE bytes (2-D: whole rows); a handle holds TM_XFER_MAX_CMDS pieces, and a transfer with
 * more waits for the pieces already issued before it reuses their slots (still correct, less overlap). */
#include "tm_pmsis_l3.h"
#include "tm_xfer.h"

#define TM_XFER_DMA_PIECE 0xFFF0u /* < 65536, a multiple of 16 so that aligned pieces stay aligned */
#ifndef TM_XFER_L3_PIECE
#define TM_XFER_L3_PIECE 0x10000u /* bytes per RAM request (a uDMA transfer) */
#endif

struct pi_device *tm_l3_ram;
uint32_t tm_l3_ram_base;
uint32_t tm_l3_image_bytes;

static void wait_pieces(tm_xfer_t *x)
{
    for (unsigned i = 0; i < x->dma_cmds; i++) pi_cl_dma_cmd_wait(&x->dma[i]);
    for (unsigned i = 0; i < x->ram_reqs; i++) pi_cl_ram_read_wait(&x->ram[i]);
    x->dma_cmds = 0, x->ram_reqs = 0;
}

static void begin(tm_xfer_t *x, void *dst, uint32_t bytes)
{
    x->dma_cmds = 0, x->ram_reqs = 0;
    x->pending = 1;
    x->dst = dst, x->bytes = bytes;
}

static pi_cl_dma_cmd_t *dma_slot(tm_xfer_t *x)
{
    if (x->dma_cmds == TM_XFER_MAX_CMDS) wait_pieces(x);
    return &x->dma[x->dma_cmds++];
}

/* ext (L2) and loc (L1), contiguous, in pieces. */
static void dma_1d(tm_xfer_t *x, uint32_t ext, uint32_t loc, uint32_t bytes, pi_cl_dma_dir_e dir)
{
    for (uint32_t done = 0; done < bytes; done += TM_XFER_DMA_PIECE) {
        uint32_t n = bytes - done < TM_XFER_DMA_PIECE ? bytes - done : TM_XFER_DMA_PIECE;
        pi_cl_dma_cmd(ext + done, loc + done, n, dir, dma_slot(x));
    }
}

/* rows of row_bytes, ext_stride apart in L2, packed in L1: whole rows per command. */
static void dma_2d(tm_xfer_t *x, uint32_t ext, uint32_t loc, uint32_t row_bytes, uint32_t rows, uint32_t ext_stride,
                   pi_cl_dma_dir_e dir)
{
    if (rows == 0 || row_bytes == 0) return;
    if (row_bytes == ext_stride) { /* contiguous after all */
        dma_1d(x, ext, loc, row_bytes * rows, dir);
        return;
    }
    if (row_bytes > TM_XFER_DMA_PIECE) { /* rows longer than a command: row by row */
        for (uint32_t r = 0; r < rows; r++) dma_1d(x, ext + r * ext_stride, loc + r * row_bytes, row_bytes, dir);
        return;
    }
    uint32_t per_cmd = TM_XFER_DMA_PIECE / row_bytes;
    for (uint32_t r = 0; r < rows; r += per_cmd) {
        uint32_t n = rows - r < per_cmd ? rows - r : per_cmd;
        pi_cl_dma_cmd_2d(ext + r * ext_stride, loc + r * row_bytes, n * row_bytes, ext_stride, row_bytes, dir,
                         dma_slot(x));
    }
}

void tm_xfer_to_l1(void *l1, const void *l2, uint32_t bytes, tm_xfer_t *x)
{
    begin(x, l1, bytes);
    dma_1d(x, (uint32_t)(uintptr_t)l2, (uint32_t)(uintptr_t)l1, bytes, PI_CL_DMA_DIR_EXT2LOC);
}

void tm_xfer_to_l1_2d(void *l1, const void *l2, uint32_t row_bytes, uint32_t rows, uint32_t l2_stride, tm_xfer_t *x)
{
    begin(x, l1, row_bytes * rows);
    dma_2d(x, (uint32_t)(uintptr_t)l2, (uint32_t)(uintptr_t)l1, row_bytes, rows, l2_stride, PI_CL_DMA_DIR_EXT2LOC);
}

void tm_xfer_to_l2(void *l2, const void *l1, uint32_t bytes, tm_xfer_t *x)
{
    begin(x, l2, bytes);
    dma_1d(x, (uint32_t)(uintptr_t)l2, (uint32_t)(uintptr_t)l1, bytes, PI_CL_DMA_DIR_LOC2EXT);
}

void tm_xfer_to_l2_2d(void *l2, const void *l1, uint32_t row_bytes, uint32_t rows, uint32_t l2_stride, tm_xfer_t *x)
{
    begin(x, l2, row_bytes * rows);
    dma_2d(x, (uint32_t)(uintptr_t)l2, (uint32_t)(uintptr_t)l1, row_bytes, rows, l2_stride, PI_CL_DMA_DIR_LOC2EXT);
}

void tm_xfer_from_l3(void *l2, uint32_t l3_offset, uint32_t bytes, tm_xfer_t *x)
{
    begin(x, l2, bytes);
    for (uint32_t done = 0; done < bytes; done += TM_XFER_L3_PIECE) {
        uint32_t n = bytes - done < TM_XFER_L3_PIECE ? bytes - done : TM_XFER_L3_PIECE;
        if (x->ram_reqs == TM_XFER_MAX_CMDS) wait_pieces(x);
        pi_cl_ram_read(tm_l3_ram, tm_l3_ram_base + l3_offset + done, (uint8_t *)l2 + done, n,
                       &x->ram[x->ram_reqs++]);
    }
}

void tm_xfer_wait(tm_xfer_t *x)
{
    if (!x->pending) return;
    wait_pieces(x);
    x->pending = 0;
}
