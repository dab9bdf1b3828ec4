/* Linear: acc[r,m] = bias_folded[m] + sum_k x[r,k] w[m,k] (x u8, w s8, int32);
 * y = table[sat(round_shift(acc * M[m], S[m]) + zp)] (integer only, tm_requant_fixed; table optional: a fused
 * GELU/SiLU);
 * LinearDequant: y = f32(acc) * scale[m].
 * The tile is a grid of 4 x 4 blocks (tm_dot_u8s8_4x4); edge rows/columns reuse the block with a zero stride.
 * Cores split the tile's rows, or its columns when the tile has fewer rows than cores (the classifier).
 * Pure compute on the L1 tile network.c hands over: m is the leading dimension of y (the tile's column count). */
#include <stddef.h>

#include "tm_arch.h"
#include "tm_check.h"
#include "tm_kernels.h"
#include "tm_round.h"

#define TM_COL_CHUNK 64 /* output columns requantised together (an int32 stack buffer of 4 x 64) */

/* acc[4*i + j] for rows r..r+nr-1 (nr <= 4) and columns m..m+nc-1 (nc <= 4), bias added. */
static inline void acc_block(const uint8_t *x, const int8_t *w, const int32_t *bias, int k, int r, int nr, int m,
                             int nc, int32_t acc[16])
{
    long xs = nr == 4 ? k : 0, ws = nc == 4 ? k : 0;
    if (nr == 4 || nr == 1) {
        tm_dot_u8s8_4x4(x + (long)r * k, xs, w + (long)m * k, ws, k, acc);
    } else { /* 2 or 3 rows: one row at a time */
        for (int i = 0; i < nr; i++) {
            int32_t one[16];
            tm_dot_u8s8_4x4(x + (long)(r + i) * k, 0, w + (long)m * k, ws, k, one);
            for (int j = 0; j < 4; j++)
                acc[4 * i + j] = one[j];
        }
    }
    if (nc < 4) /* the zero stride computed column m four times: spread the other columns one by one */
        for (int i = 0; i < nr; i++)
            for (int j = 1; j < nc; j++)
                acc[4 * i + j] = tm_dot_u8s8(x + (long)(r + i) * k, w + (long)(m + j) * k, k);
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++)
            acc[4 * i + j] += bias[m + j];
}

/* y[j] = table[requant_fixed(acc[j], M[j], S[j], zp)] over a row chunk (rq: M, S pairs). */
static void requant_row(const int32_t *acc, const int32_t *rq, int zp, const uint8_t *table, uint8_t *y, int n)
{
    for (int j = 0; j < n; j++)
        y[j] = tm_requant_fixed(acc[j], rq[2 * j], rq[2 * j + 1], zp);
    if (table)
        for (int j = 0; j < n; j++)
            y[j] = table[y[j]];
}

#if !defined(TM_PLATFORM_GAP9) && !defined(TM_PLATFORM_PULP_OPEN) /* the cluster's split: linear_items */
static void linear_block(const tm_linear_args_t *a, int r0, int r1, int m0, int m1)
{
    int k = a->k, ldy = a->m;
#if defined(TM_HAVE_PACKED_ROWS) /* rv32: 4 input rows interleaved once for all their column blocks (tm_rv32.h) */
    tm_packed_t xp[TM_PACKED_ROWS_MAX];
    int packed = 4 * k <= TM_PACKED_ROWS_MAX;
#endif
    for (int r = r0; r < r1; r += 4) {
        int nr = TM_MIN(4, r1 - r);
#if defined(TM_HAVE_PACKED_ROWS)
        if (packed && nr == 4)
            tm_pack_rows4(a->x + (long)r * k, k, k, xp);
#endif
        for (int mc = m0; mc < m1; mc += TM_COL_CHUNK) {
            int mend = TM_MIN(mc + TM_COL_CHUNK, m1);
            int32_t acc[4][TM_COL_CHUNK];
            for (int m = mc; m < mend; m += 4) {
                int nc = TM_MIN(4, mend - m);
                int32_t blk[16];
#if defined(TM_HAVE_PACKED_ROWS)
                if (packed && nr == 4 && nc == 4) {
                    tm_dot_u8s8_4x4_packed(xp, a->w + (long)m * k, k, k, blk);
                    for (int i = 0; i < 16; i++)
                        blk[i] += a->bias[m + (i & 3)];
                } else
#endif
                    acc_block(a->x, a->w, a->bias, k, r, nr, m, nc, blk);
                for (int i = 0; i < nr; i++)
                    for (int j = 0; j < nc; j++)
                        acc[i][m - mc + j] = blk[4 * i + j];
            }
            for (int i = 0; i < nr; i++)
                requant_row(acc[i], a->rq + 2 * mc, a->zero_point, a->table, a->y + (long)(r + i) * ldy + mc,
                            mend - mc);
        }
    }
}

#endif

#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
/* Xpulpv2 cluster: the tile is a grid of 4 x 4 output blocks, item = column quad * row blocks + row block; each core
 * takes a contiguous range of items (tm_core_range: balanced to one item, whatever the tile's shape, so no core
 * computes a 2- or 3-row remainder 4 times over with a zero stride), so a core's blocks share few column quads and
 * each quad's requantisation constants are prepared once (tm_xpulp_requant_constants). Consecutive full blocks of
 * one quad whose rows are word aligned (x and w rows both K bytes apart, K % 4 == 0; y rows and quads too) and whose
 * S are all in 33..53 (the usual case) are one tm_xpulp_linear_run (register blocks from the bias, codes in the same
 * asm); other blocks take acc_block / requant_row (the same codes). */
static void linear_items(const tm_linear_args_t *a)
{
    int k = a->k, ldy = a->m;
    int nrb = (a->r1 - a->r0 + 3) / 4, items = nrb * ((a->m1 - a->m0 + 3) / 4), start, stop;
    int fast = tm_xpulp_aligned(a->x, k, a->w, k) && tm_xpulp_aligned(a->y + a->m0, ldy, a->y, 0) && k >= 4;
    tm_core_range(0, items, &start, &stop);
    int cq = nrb ? start / nrb : 0, rb = nrb ? start % nrb : 0, prepared = -1, quick = 0;
    int32_t q[12];
    tm_xpulp_quad_run_t run;
    for (int it = start; it < stop;) {
        int r = a->r0 + 4 * rb, m = a->m0 + 4 * cq, nr = TM_MIN(4, a->r1 - r), nc = TM_MIN(4, a->m1 - m);
        int full = fast && nr == 4 && nc == 4, blocks = 1;
        if (full && prepared != cq)
            quick = tm_xpulp_requant_constants(a->rq + 2 * m, a->zero_point, q), prepared = cq;
        if (full && quick) { /* the quad's full row blocks from here to the core's last item: one asm run */
            blocks = TM_MIN(stop - it, (a->r1 - r) / 4);
            run.bias = a->bias + m, run.q = q, run.table = a->table, run.y = a->y + (long)r * ldy + m;
            run.ldy = ldy, run.blocks = blocks, run.words = k / 4;
            tm_xpulp_linear_run(a->x + (long)r * k, a->w + (long)m * k, &run);
        } else {
            int32_t blk[16];
            if (full)
                tm_xpulp_dot_4x4_same_stride(a->x + (long)r * k, a->w + (long)m * k, k, k / 4, a->bias + m, blk);
            else
                acc_block(a->x, a->w, a->bias, k, r, nr, m, nc, blk);
            for (int i = 0; i < nr; i++)
                requant_row(blk + 4 * i, a->rq + 2 * m, a->zero_point, a->table, a->y + (long)(r + i) * ldy + m,
                            nc);
        }
        it += blocks, rb += blocks;
        if (rb == nrb)
            rb = 0, cq++;
    }
}
#endif

static void linear_worker(void *arg)
{
    const tm_linear_args_t *a = arg;
#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
    linear_items(a);
#else
    int start, stop;
    if (a->r1 - a->r0 >= TM_NUM_CORES) {
        tm_core_range(a->r0, a->r1, &start, &stop);
        linear_block(a, start, stop, a->m0, a->m1);
    } else {
        tm_core_range(a->m0, a->m1, &start, &stop);
        linear_block(a, a->r0, a->r1, start, stop);
    }
#endif
}

/* The ranges a Linear tile reads and writes (the checking build, tm_check.h); the tile's operands are L1 copies. */
#define TM_CHECK_LINEAR(t, coeff, per_col, out_bytes)                                                              \
    do {                                                                                                          \
        TM_CHECK_READ("x", (t)->x + (long)(t)->r0 * (t)->k, ((t)->r1 - (t)->r0) * (t)->k);                       \
        TM_CHECK_READ("w", (t)->w + (long)(t)->m0 * (t)->k, ((t)->m1 - (t)->m0) * (t)->k);                       \
        TM_CHECK_READ("bias", (t)->bias + (t)->m0, 4 * ((t)->m1 - (t)->m0));                                      \
        TM_CHECK_READ(#coeff, (t)->coeff + (per_col) * (t)->m0, 4 * (per_col) * ((t)->m1 - (t)->m0));             \
        TM_CHECK_WRITE("y", (t)->y + (long)(t)->r0 * (t)->m + (t)->m0,                                          \
                       (out_bytes) * TM_SPAN((t)->r1 - (t)->r0, (t)->m1 - (t)->m0, (t)->m));                      \
    } while (0)

void tm_linear(const tm_linear_args_t *a)
{
    TM_CHECK_LINEAR(a, rq, 2, 1);
    if (a->table)
        TM_CHECK_READ("table", a->table, 256);
    tm_fork(linear_worker, (void *)a);
}

static void dequant_block(const tm_linear_dequant_args_t *a, int r0, int r1, int m0, int m1)
{
    const float *scale = a->scale;
    float *y = a->y;
    int k = a->k, ldy = a->m;
    for (int r = r0; r < r1; r += 4) {
        int nr = TM_MIN(4, r1 - r);
        for (int m = m0; m < m1; m += 4) {
            int nc = TM_MIN(4, m1 - m);
            int32_t acc[16];
            acc_block(a->x, a->w, a->bias, k, r, nr, m, nc, acc);
            for (int i = 0; i < nr; i++)
                for (int j = 0; j < nc; j++)
                    y[(long)(r + i) * ldy + m + j] = (float)acc[4 * i + j] * scale[m + j];
        }
    }
}

static void dequant_worker(void *arg)
{
    const tm_linear_dequant_args_t *a = arg;
    int start, stop;
    if (a->r1 - a->r0 >= TM_NUM_CORES) {
        tm_core_range(a->r0, a->r1, &start, &stop);
        dequant_block(a, start, stop, a->m0, a->m1);
    } else {
        tm_core_range(a->m0, a->m1, &start, &stop);
        dequant_block(a, a->r0, a->r1, start, stop);
    }
}

void tm_linear_dequant(const tm_linear_dequant_args_t *a)
{
    TM_CHECK_LINEAR(a, scale, 1, 4);
    tm_fork(dequant_worker, (void *)a);
}
