/* TEMPORARY (until the generated transfers of branch dataflow are merged): the L1 staging that today's kernels
 * call (tm_pulp_stage_*, tm_pulp_dma_*, tm_xpulp.h), now on PMSIS through tm_xfer.h: L2 <-> L1 by the cluster DMA
 * (tm_xfer_to_l1 / tm_xfer_to_l2), L3 weight slabs from the HyperRAM copy (tm_xfer_from_l3). The linear weights
 * are linked at TM_PULP_L3_BASE (the Makefile's l3_weights.ld), i.e. byte 0 of the weight image; tm_l3_open runs
 * before the cluster is opened (link wrap of pi_cluster_open, l3_image_open below). Staging logic unchanged from
 * the bare-metal platform/pulp-open it replaces. */
#include <string.h>

#include "tm_arch.h"
#include "tm_kernels.h"
#include "tm_platform.h"
#include "tm_xfer.h"

#ifndef TM_PULP_STAGE_BYTES
#define TM_PULP_STAGE_BYTES (54u * 1024u)
#endif
#ifndef TM_PULP_SLAB_BYTES
#define TM_PULP_SLAB_BYTES (64u * 1024u)
#endif

/* ------------------------------------------------------------------------ the weight image before the cluster */
extern char __tm_l3_start[], __tm_l3_end[]; /* l3_weights.ld */
int __real_pi_cluster_open(struct pi_device *device);
int __wrap_pi_cluster_open(struct pi_device *device);
int __wrap_pi_cluster_open(struct pi_device *device)
{
    if (tm_l3_open("hyperflash.bin", (uint32_t)(__tm_l3_end - __tm_l3_start)) != 0) return -1;
    return __real_pi_cluster_open(device);
}

/* TEMPORARY stand-ins for tm_chip.c (left out of the pulp-open build until it uses the public signatures):
 * GVSoC's pulp-open has no PMU voltage and no GPIO to drive. */
int tm_set_operating_point(uint32_t fc_hz, uint32_t cluster_hz, uint32_t voltage_mv)
{
    (void)fc_hz, (void)cluster_hz, (void)voltage_mv; /* the counts are cluster cycles at any clock */
    return 0;
}
int tm_power_window_open(uint32_t pin) { (void)pin; return 0; }
void tm_power_window(int high) { (void)high; }

/* ------------------------------------------------------------------------------------ DMA and L3 on tm_xfer */
static tm_xfer_t dma_xfer;

int tm_pulp_dma_in(void *l1, const void *l2, uint32_t bytes)
{
    tm_xfer_to_l1(l1, l2, bytes, &dma_xfer);
    return 0;
}

int tm_pulp_dma_out(void *l2, const void *l1, uint32_t bytes)
{
    tm_xfer_to_l2(l2, l1, bytes, &dma_xfer);
    return 0;
}

void tm_pulp_dma_wait(int id)
{
    (void)id;
    tm_xfer_wait(&dma_xfer);
}

static tm_xfer_t l3_xfer;
static void l3_start(void *l2, const void *l3, uint32_t bytes)
{
    tm_xfer_from_l3(l2, (uint32_t)((const char *)l3 - __tm_l3_start), bytes, &l3_xfer);
}
static void l3_wait(void) { tm_xfer_wait(&l3_xfer); }

void tm_pulp_l3_read(void *l2, const void *l3, uint32_t bytes)
{
    l3_start(l2, l3, bytes);
    l3_wait();
}

/* ------------------------------------------------------------------------------------- L1 tile staging */
/* One L1 area for a linear tile: the weight rows first (kept while the next tiles use the same slab), the
 * activation rows after them. L3 weights come through an L2 slab buffer. */
static uint8_t stage_l1[TM_PULP_STAGE_BYTES] PI_CL_L1 __attribute__((aligned(16)));
static uint8_t slab_l2[2][TM_PULP_SLAB_BYTES] PI_L2 __attribute__((aligned(16))); /* L3 slabs: one read, one used */
static const void *prefetch_src; /* the L3 slab being read into slab_l2[prefetch_buf] while a tile computes */
static uint32_t prefetch_bytes;
static int prefetch_buf, prefetch_busy;
static const void *staged_w;
static uint32_t staged_w_bytes;
static uint32_t stage_used; /* bytes of stage_l1 in use by the current tile */

void tm_pulp_stage_invalidate(void) { staged_w = NULL; }

/* The L2 copy of an L3 weight slab: the one prefetched while the previous tile computed if it is this one, else
 * read now; then the next slab of the same matrix (the next tile's, as the network code walks the slabs in order)
 * starts reading into the other buffer: the uDMA works while the cluster computes. */
static const int8_t *l3_slab(const int8_t *l3, uint32_t bytes)
{
    if (bytes > TM_PULP_SLAB_BYTES) {
        printf("error: a weight tile of %lu bytes exceeds the L2 slab buffer\n", (unsigned long)bytes);
        pmsis_exit(70);
    }
    if (prefetch_busy)
        l3_wait(), prefetch_busy = 0;
    int buf = prefetch_buf;
    if (prefetch_src != l3 || prefetch_bytes != bytes) {
        buf ^= 1;
        tm_pulp_l3_read(slab_l2[buf], l3, bytes);
    }
    prefetch_src = NULL;
    if (l3 + 2 * bytes <= (const int8_t *)__tm_l3_end) {
        prefetch_buf = buf ^ 1, prefetch_src = l3 + bytes, prefetch_bytes = bytes, prefetch_busy = 1;
        l3_start(slab_l2[prefetch_buf], prefetch_src, bytes);
    }
    return (const int8_t *)slab_l2[buf];
}

void tm_pulp_stage_linear(const int8_t **w, uint32_t w_bytes, const uint8_t **x, uint32_t x_bytes)
{
    uint32_t w_room = (w_bytes + 15u) & ~15u;
    const int8_t *src = *w;
    if (staged_w != src || staged_w_bytes != w_bytes) {
        staged_w = NULL;
        if (tm_pulp_in_l3(src))
            src = l3_slab(src, w_bytes);
        if (w_room > TM_PULP_STAGE_BYTES) { /* too big for L1: computed from L2 (slower, same result) */
            *w = src;
            return;
        }
        tm_pulp_dma_wait(tm_pulp_dma_in(stage_l1, src, w_bytes));
        staged_w = *w;
        staged_w_bytes = w_bytes;
    }
    *w = (const int8_t *)stage_l1;
    stage_used = w_room;
    *x = tm_pulp_stage_extra(*x, x_bytes);
}

void tm_pulp_stage_begin(void)
{
    staged_w = NULL;
    stage_used = 0;
}

static uint8_t *out_l2, *out_l1;
static uint32_t out_bytes;

uint8_t *tm_pulp_stage_out(uint8_t *dst, uint32_t bytes)
{
    uint32_t room = (bytes + 15u) & ~15u;
    out_l2 = NULL;
    if (stage_used + room > TM_PULP_STAGE_BYTES)
        return dst;
    out_l2 = dst, out_l1 = stage_l1 + stage_used, out_bytes = bytes;
    stage_used += room;
    return out_l1;
}

void tm_pulp_stage_out_flush(void)
{
    if (out_l2 != NULL)
        tm_pulp_dma_wait(tm_pulp_dma_out(out_l2, out_l1, out_bytes));
    out_l2 = NULL;
}

const void *tm_pulp_stage_extra(const void *src, uint32_t bytes)
{
    uint32_t room = (bytes + 15u) & ~15u;
    if (src == NULL || stage_used + room > TM_PULP_STAGE_BYTES)
        return src;
    uint8_t *dst = stage_l1 + stage_used;
    tm_pulp_dma_wait(tm_pulp_dma_in(dst, src, bytes));
    stage_used += room;
    return dst;
}

/* Scratch, not copies (the attention kernel fills it), all or none; the exp tables are copied. The linear weight
 * copy is lost (same L1 area). */
uint8_t *tm_pulp_attn_q;
int8_t *tm_pulp_attn_v;

void tm_pulp_stage_attention(int8_t **k_s8, int32_t **k_sum, uint8_t **row_u8, const int32_t **exp_lut, int n,
                             int hd, int heads)
{
    uint32_t k_room = ((uint32_t)(n * hd) + 15u) & ~15u, sum_room = ((uint32_t)n * 4u + 15u) & ~15u;
    uint32_t rows_room = ((uint32_t)(TM_PULP_CORES * TM_ATTN_ROWS * n) + 15u) & ~15u;
    uint32_t lut_room = (uint32_t)heads * 1024u, q_room = ((uint32_t)(TM_PULP_CORES * 4 * hd) + 15u) & ~15u;
    if ((uint8_t *)*k_s8 == stage_l1)
        return; /* staged by an earlier head of this op */
    uint32_t v_room = ((uint32_t)(TM_PULP_CORES * 2 * n) + 15u) & ~15u;
    tm_pulp_attn_q = NULL, tm_pulp_attn_v = NULL;
    if (k_room + sum_room + rows_room + lut_room + q_room > TM_PULP_STAGE_BYTES)
        return; /* too big: stays in L2 */
    staged_w = NULL;
    uint8_t *at = stage_l1;
    *k_s8 = (int8_t *)at, at += k_room;
    *k_sum = (int32_t *)(void *)at, at += sum_room;
    *row_u8 = at, at += rows_room;
    tm_pulp_dma_wait(tm_pulp_dma_in(at, *exp_lut, lut_room));
    *exp_lut = (const int32_t *)(const void *)at, at += lut_room;
    tm_pulp_attn_q = at, at += q_room;
    if ((uint32_t)(at - stage_l1) + v_room <= TM_PULP_STAGE_BYTES)
        tm_pulp_attn_v = (int8_t *)at, at += v_room;
    stage_used = (uint32_t)(at - stage_l1);
}
