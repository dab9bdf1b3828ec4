/* Linear: acc[r,m] = bias_folded[m] + sum_k x[r,k] w[m,k] (x u8, w s8, int32);
 * y = table[sat(rne(f32(acc) * mult[m]) + 128)] (table optional: a fused GELU/SiLU);
 * LinearDequant: y = f32(acc) * scale[m].
 * The tile is a grid of 4 x 4 blocks (tm_dot_u8s8_4x4); edge rows/columns reuse the block with a zero stride.
 * Cores split the tile's rows, or its columns when the tile has fewer rows than cores (the classifier). */
#include <stddef.h>

#include "tm_arch.h"
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

/* y[j] = table[requant(acc[j], mult[j])] over a row chunk: a plain loop the compiler vectorises. */
#if !defined(TM_PLATFORM_PULP_OPEN)
static void requant_row(const int32_t *acc, const float *mult, const uint8_t *table, uint8_t *y, int n)
{
    for (int j = 0; j < n; j++)
        y[j] = tm_requant(acc[j], mult[j]);
    if (table)
        for (int j = 0; j < n; j++)
            y[j] = table[y[j]];
}

static void linear_block(const tm_linear_args_t *a, int r0, int r1, int m0, int m1)
{
    int k = a->k, ldy = a->m;
#if defined(TM_HAVE_PACKED_ROWS) /* rv32: 4 input rows interleaved once for all their column blocks (tm_rv32.h) */
    uint8_t xp[TM_PACKED_ROWS_MAX];
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
                requant_row(acc[i], a->mult + mc, a->table, a->y + (long)(r + i) * ldy + mc, mend - mc);
        }
    }
}

#endif

#if defined(TM_PLATFORM_PULP_OPEN)
/* One 4 x 4 block (nr x nc at the tile's edge) straight into y: no row buffers, a small stack frame (the cluster
 * stacks are 1 kB). */
static void linear_unit(const tm_linear_args_t *a, int r, int nr, int m, int nc)
{
    int32_t blk[16];
    if (nr == 4 && nc == 4) { /* the common case, without acc_block's edge handling */
        tm_dot_u8s8_4x4(a->x + (long)r * a->k, a->k, a->w + (long)m * a->k, a->k, a->k, blk);
        for (int i = 0; i < 16; i++)
            blk[i] += a->bias[m + (i & 3)];
    } else {
        acc_block(a->x, a->w, a->bias, a->k, r, nr, m, nc, blk);
    }
#if defined(TM_PULP_ZFINX)
    if (nc == 4 && tm_xpulp_finite4(a->mult + m)) { /* four requantisations interleaved on the float unit */
        for (int i = 0; i < nr; i++) {
            uint8_t *y = a->y + (long)(r + i) * a->m + m;
            if (!a->table) {
                tm_xpulp_requant4(blk + 4 * i, a->mult + m, y);
                continue;
            }
            uint8_t q[4];
            tm_xpulp_requant4(blk + 4 * i, a->mult + m, q);
            uint32_t word = a->table[q[0]] | (uint32_t)a->table[q[1]] << 8 | (uint32_t)a->table[q[2]] << 16 |
                            (uint32_t)a->table[q[3]] << 24;
            if (((uintptr_t)y & 3u) == 0u) /* one store to L2 instead of four */
                *(uint32_t *)(void *)y = word;
            else
                y[0] = (uint8_t)word, y[1] = (uint8_t)(word >> 8), y[2] = (uint8_t)(word >> 16), y[3] = (uint8_t)(word >> 24);
        }
        return;
    }
#endif
    for (int i = 0; i < nr; i++) {
        uint8_t *y = a->y + (long)(r + i) * a->m + m;
        for (int j = 0; j < nc; j++)
            y[j] = a->table ? a->table[tm_requant(blk[4 * i + j], a->mult[m + j])] : tm_requant(blk[4 * i + j],
                                                                                                    a->mult[m + j]);
    }
}

/* 8 cores on a small tile: the tile's 4 x 4 blocks in row-major order are split evenly, so that no core computes a
 * 2- or 3-row remainder block (4 times the work of a row) unless the tile's own edge has one. */
static void linear_worker(void *arg)
{
    const tm_linear_args_t *a = arg;
    int col_blocks = (a->m1 - a->m0 + 3) / 4, start, stop;
    tm_core_range(0, (a->r1 - a->r0 + 3) / 4 * col_blocks, &start, &stop);
    int r = a->r0 + 4 * (start / col_blocks), m = a->m0 + 4 * (start % col_blocks);
    for (int u = start; u < stop; u++) {
        linear_unit(a, r, TM_MIN(4, a->r1 - r), m, TM_MIN(4, a->m1 - m));
        m += 4;
        if (m >= a->m1)
            m = a->m0, r += 4;
    }
}
#else
static void linear_worker(void *arg)
{
    const tm_linear_args_t *a = arg;
    int start, stop;
    if (a->r1 - a->r0 >= TM_NUM_CORES) {
        tm_core_range(a->r0, a->r1, &start, &stop);
        linear_block(a, start, stop, a->m0, a->m1);
    } else {
        tm_core_range(a->m0, a->m1, &start, &stop);
        linear_block(a, a->r0, a->r1, start, stop);
    }
}

#endif

#if defined(TM_PLATFORM_PULP_OPEN)
/* The tile's weight rows [m0, m1) and input rows [r0, r1) go to L1 (tm_xpulp.h); the tile is then rebased to
 * start at row 0 / column 0 of those copies (bias, multiplier and output pointers follow). */
#define TM_STAGE_TILE(t, coeff)                                                                                   \
    do {                                                                                                          \
        (t).w += (long)(t).m0 * (t).k, (t).x += (long)(t).r0 * (t).k;                                           \
        tm_pulp_stage_linear(&(t).w, (uint32_t)(((t).m1 - (t).m0) * (t).k), &(t).x,                             \
                             (uint32_t)(((t).r1 - (t).r0) * (t).k));                                             \
        (t).bias = tm_pulp_stage_extra((t).bias + (t).m0, (uint32_t)((t).m1 - (t).m0) * 4u);                   \
        (t).coeff = tm_pulp_stage_extra((t).coeff + (t).m0, (uint32_t)((t).m1 - (t).m0) * 4u);                 \
        (t).y += (long)(t).r0 * (t).m + (t).m0;                                                                  \
        (t).r1 -= (t).r0, (t).m1 -= (t).m0, (t).r0 = 0, (t).m0 = 0;                                              \
    } while (0)
#else
#define TM_STAGE_TILE(t, coeff) ((void)0)
#endif

void tm_linear(const tm_linear_args_t *a)
{
    tm_linear_args_t t = *a;
    TM_STAGE_TILE(t, mult);
#if defined(TM_PLATFORM_PULP_OPEN)
    t.table = tm_pulp_stage_extra(t.table, 256);
#endif
    tm_fork(linear_worker, &t);
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
    tm_linear_dequant_args_t t = *a;
    TM_STAGE_TILE(t, scale);
    tm_fork(dequant_worker, &t);
}
