/* Attention, one head at a time, query rows in blocks (numerics.softmax_int, ir.Attention):
 *   s[i,j] = sat(rne(f32(sum_d (q-128)(k-128)) * score_mult[h]) + 128)
 *          computed as sum_d q (k-128) - 128 sum_d (k-128): one u8 x s8 dot product per score;
 *   e[j] = exp_lut[h][rowmax - s[i,j]];  S = sum_j e[j] (int32: the build proves N * lut[0] + 510 lut[0] < 2^31);
 *   p[j] = (510 e[j] + S) / (2 S)  (truncating = round half up of 255 e / S; by tm_divide), u8 scale 1/255;
 *   y[i,h*hd+c] = sat(rne(f32(sum_j p[j] (v[j]-128)) * out_mult[h]) + 128).
 * prob_bits 9..16 (M = 2^bits - 1 levels instead of 255): the same with 2 M e[j] + S, probabilities kept as int32
 * rows in the row_i32 scratch and p.v by scalar int32 dot products (rows_wide below). */
#include "tm_arch.h"
#include "tm_check.h"
#include "tm_kernels.h"
#include "tm_round.h"

#define TM_PROB_TWICE (2 * TM_PROB_LEVELS)

/* Phase 1 (all cores, tokens split), tokens [j0, j1) (k and v hold these rows): k_s8 = k - 128, k_sum = row sums
 * of k_s8; 8-bit probabilities: v_t = (v - 128)^T; wider: v_t holds v itself, row-major (N, hd) u8 (p.v reads four
 * adjacent columns of it, output_rows_wide). */
static void prepare_worker(void *arg)
{
    tm_attention_args_t *a = arg;
    int hd = a->d / a->heads, col = a->head * hd, start, stop;
    tm_core_range(a->j0, a->j1, &start, &stop);
    for (int j = start; j < stop; j++) {
        const uint8_t *k = a->k + (long)(j - a->j0) * a->d + col;
        const uint8_t *v = a->v + (long)(j - a->j0) * a->d + col;
        int32_t sum = 0;
        for (int c = 0; c < hd; c++) {
            int8_t ks = (int8_t)((int32_t)k[c] - TM_ACT_ZERO_POINT);
            a->k_s8[(long)j * hd + c] = ks;
            sum += ks;
            if (a->prob_bits == 8)
                a->v_t[(long)c * a->n + j] = (int8_t)((int32_t)v[c] - TM_ACT_ZERO_POINT);
            else
                ((uint8_t *)a->v_t)[(long)j * hd + c] = v[c];
        }
        a->k_sum[j] = sum;
    }
}

void tm_attention_prepare(tm_attention_args_t *a, int head, int j0, int j1)
{
    int hd = a->d / a->heads, n = a->n;
    a->head = head, a->j0 = j0, a->j1 = j1;
    TM_CHECK_READ("k", a->k + head * hd, TM_SPAN(j1 - j0, hd, a->d));
    TM_CHECK_READ("v", a->v + head * hd, TM_SPAN(j1 - j0, hd, a->d));
    TM_CHECK_WRITE("k_s8", a->k_s8 + (long)j0 * hd, (j1 - j0) * hd);
    TM_CHECK_WRITE("v_t", a->v_t, n * hd);
    TM_CHECK_WRITE("k_sum", a->k_sum + j0, 4 * (j1 - j0));
    tm_fork(prepare_worker, a);
}

/* Scores of query rows i..i+nr-1 (nr <= 4): int32 accumulators into acc (row t at acc + t*n), 4 keys at a time,
 * then requantised row by row into s (row t at s + t*n) by a vectorisable loop. */
static void score_rows(const tm_attention_args_t *a, int i, int nr, int32_t *acc, uint8_t *s, float mult, int hd)
{
    const uint8_t *q = a->q + (long)i * a->d + a->head * hd;
    const int32_t *ksum = a->k_sum;
    int n = a->n;
    int j = 0;
    if (nr == 4) { /* the common case: whole 4 x 4 blocks */
#if defined(TM_HAVE_PACKED_ROWS) /* rv32: the 4 query rows interleaved once for all keys (tm_rv32.h) */
        uint8_t qp[TM_PACKED_ROWS_MAX];
        int packed = 4 * hd <= TM_PACKED_ROWS_MAX;
        if (packed)
            tm_pack_rows4(q, a->d, hd, qp);
#endif
        for (; j + 4 <= n; j += 4) {
            int32_t blk[16];
#if defined(TM_HAVE_PACKED_ROWS)
            if (packed)
                tm_dot_u8s8_4x4_packed(qp, a->k_s8 + (long)j * hd, hd, hd, blk);
            else
#endif
                tm_dot_u8s8_4x4(q, a->d, a->k_s8 + (long)j * hd, hd, hd, blk);
            for (int t = 0; t < 4; t++)
                for (int c = 0; c < 4; c++)
                    acc[(long)t * n + j + c] = blk[4 * t + c];
        }
    }
    for (; j < n; j += 4) {
        int nk = TM_MIN(4, n - j);
        for (int r = 0; r < (nr == 4 ? 1 : nr); r++) {
            int32_t blk[16];
            tm_dot_u8s8_4x4(q + (long)r * a->d, nr == 4 ? a->d : 0, a->k_s8 + (long)j * hd, nk == 4 ? hd : 0, hd, blk);
            for (int t = 0; t < (nr == 4 ? 4 : 1); t++)
                for (int c = 0; c < nk; c++)
                    acc[(long)(r + t) * n + j + c] =
                        c == 0 || nk == 4 ? blk[4 * t + c]
                                          : tm_dot_u8s8(q + (long)(r + t) * a->d, a->k_s8 + (long)(j + c) * hd, hd);
        }
    }
    for (int r = 0; r < nr; r++) {
        const int32_t *row = acc + (long)r * n;
        uint8_t *out = s + (long)r * n;
        for (int j = 0; j < n; j++)
            out[j] = tm_requant(row[j] - TM_ACT_ZERO_POINT * ksum[j], mult);
    }
}

/* In place: scores s (u8) -> probabilities (u8, scale 1/255); e is scratch. */
static void softmax_row(uint8_t *restrict s, int32_t *restrict e, const int32_t *restrict lut, int n)
{
    int32_t rowmax = 0, sum = 0;
    for (int j = 0; j < n; j++)
        rowmax = s[j] > rowmax ? s[j] : rowmax;
/* 32-bit RISC-V (GAP9, pulp-open, rv32): the table read twice instead of an e[] row, the division by one mulhu */
#if defined(__riscv) && __riscv_xlen == 32
    (void)e;
    for (int j = 0; j < n; j++)
        sum += lut[rowmax - s[j]];
    tm_divisor_t d = tm_divisor((uint32_t)(2 * sum));
    if (d.shift >= 32 && (d.mult >> 32) == 0) { /* tm_divide with the low product word dropped: one mulhu */
        uint32_t m32 = (uint32_t)d.mult;
        int sh = d.shift - 32;
        for (int j = 0; j < n; j++) {
            uint32_t num = (uint32_t)(TM_PROB_TWICE * lut[rowmax - s[j]] + sum);
            s[j] = (uint8_t)((uint32_t)(((uint64_t)num * m32) >> 32) >> sh);
        }
        return;
    }
    for (int j = 0; j < n; j++)
        s[j] = (uint8_t)tm_divide((uint32_t)(TM_PROB_TWICE * lut[rowmax - s[j]] + sum), d);
    return;
#endif
    for (int j = 0; j < n; j++)
        e[j] = lut[rowmax - s[j]];
    for (int j = 0; j < n; j++)
        sum += e[j];
    tm_divisor_t div = tm_divisor((uint32_t)(2 * sum)); /* exact: the numerators are < 2^31 (bound proven) */
    for (int j = 0; j < n; j++)
        s[j] = (uint8_t)tm_divide((uint32_t)(TM_PROB_TWICE * e[j] + sum), div);
}

/* Outputs of rows i..i+nr-1 from their probabilities p (row t in p + t*n), 4 head columns at a time. */
static void output_rows(const tm_attention_args_t *a, int i, int nr, const uint8_t *p, float mult, int hd)
{
    int n = a->n;
    uint8_t *y = a->y + (long)i * a->d + a->head * hd;
#if defined(TM_HAVE_PACKED_ROWS) /* rv32: the 4 probability rows interleaved once for all head columns (tm_rv32.h) */
    uint8_t pp[TM_PACKED_ROWS_MAX];
    int packed = nr == 4 && 4 * n <= TM_PACKED_ROWS_MAX;
    if (packed)
        tm_pack_rows4(p, n, n, pp);
#endif
    for (int c = 0; c < hd; c += 4) {
        int nc = TM_MIN(4, hd - c);
        for (int r = 0; r < nr; r++) {
            int32_t acc[16];
            if (nr == 4 && r > 0)
                break;
#if defined(TM_HAVE_PACKED_ROWS)
            if (packed && nc == 4)
                tm_dot_u8s8_4x4_packed(pp, a->v_t + (long)c * n, n, n, acc);
            else
#endif
                tm_dot_u8s8_4x4(p + (long)r * n, nr == 4 ? n : 0, a->v_t + (long)c * n, nc == 4 ? n : 0, n, acc);
            for (int t = 0; t < (nr == 4 ? 4 : 1); t++)
                for (int u = 0; u < nc; u++) {
                    int32_t v = u == 0 || nc == 4 ? acc[4 * t + u]
                                                  : tm_dot_u8s8(p + (long)(r + t) * n, a->v_t + (long)(c + u) * n, n);
                    y[(long)(r + t) * a->d + c + u] = tm_requant(v, mult);
                }
        }
    }
}

/* prob_bits 9..16: p[j] = (2 M e[j] + S) / (2 S) into int32 p (the lowering proves 2 M lut[0] + N lut[0] < 2^31). */
static void softmax_row_wide(const uint8_t *restrict s, int32_t *restrict p, const int32_t *restrict lut, int n,
                             uint32_t twice_max)
{
    int32_t rowmax = 0, sum = 0;
    for (int j = 0; j < n; j++)
        rowmax = s[j] > rowmax ? s[j] : rowmax;
    for (int j = 0; j < n; j++)
        sum += lut[rowmax - s[j]];
    tm_divisor_t div = tm_divisor((uint32_t)(2 * sum));
    for (int j = 0; j < n; j++)
        p[j] = (int32_t)tm_divide(twice_max * (uint32_t)lut[rowmax - s[j]] + (uint32_t)sum, div);
}

/* acc[4 t + u] = sum_j p_t[j] v[j * vstride + u] (u = 0..3: 4 adjacent u8 columns of v, one pointer with immediate
 * offsets) for 2 probability rows (p1 may equal p0): 6 loads for 8 products, the 8 sums in registers. Unsigned: the
 * sums of p v_u8 <= 255 (M + N/2) are exact mod 2^32; the caller subtracts 128 sum(p). */
static void dot_wide_2x4(const int32_t *restrict p0, const int32_t *restrict p1, const uint8_t *restrict v, int vstride,
                         int n, uint32_t acc[8])
{
    uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    for (int j = 0; j < n; j++, v += vstride) {
        uint32_t x = (uint32_t)p0[j], z = (uint32_t)p1[j], w0 = v[0], w1 = v[1], w2 = v[2], w3 = v[3];
        a0 += x * w0, a1 += x * w1, a2 += x * w2, a3 += x * w3;
        b0 += z * w0, b1 += z * w1, b2 += z * w2, b3 += z * w3;
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3, acc[4] = b0, acc[5] = b1, acc[6] = b2, acc[7] = b3;
}

/* prob_bits 9..16: y = requant(sum_j p[j] (v[j] - 128)); |sum| <= 128 (M + N/2) < 2^31 (quant/ranges.py, lowering).
 * 2 rows x 4 head columns at a time from the u8 v (sum p v - 128 sum p), one v^T column per leftover column. */
static void output_rows_wide(const tm_attention_args_t *a, int i, int nr, const int32_t *p, float mult, int hd)
{
    int n = a->n;
    uint8_t *y = a->y + (long)i * a->d + a->head * hd;
    uint32_t psum[TM_ATTN_ROWS];
    for (int r = 0; r < nr; r++) {
        psum[r] = 0;
        for (int j = 0; j < n; j++)
            psum[r] += (uint32_t)p[(long)r * n + j];
    }
    int c = 0;
    for (; c + 4 <= hd; c += 4)
        for (int r = 0; r < nr; r += 2) {
            uint32_t acc[8];
            int two = r + 1 < nr;
            dot_wide_2x4(p + (long)r * n, p + (long)(r + two) * n, (const uint8_t *)a->v_t + c, hd, n, acc);
            for (int t = 0; t <= two; t++)
                for (int u = 0; u < 4; u++)
                    y[(long)(r + t) * a->d + c + u] =
                        tm_requant((int32_t)(acc[4 * t + u] - TM_ACT_ZERO_POINT * psum[r + t]), mult);
        }
    for (; c < hd; c++) {
        const uint8_t *v = (const uint8_t *)a->v_t + c; /* column c of the (N, hd) u8 v */
        for (int r = 0; r < nr; r++) {
            const int32_t *pr = p + (long)r * n;
            int32_t acc = 0;
            for (int j = 0; j < n; j++)
                acc += pr[j] * ((int32_t)v[(long)j * hd] - TM_ACT_ZERO_POINT);
            y[(long)r * a->d + c] = tm_requant(acc, mult);
        }
    }
}

/* prob_bits 9..16, rows i..i+nr-1: scores as on the 8-bit path, then the probabilities overwrite their (consumed)
 * int32 accumulators in acc (row t at acc + t*n). */
static void rows_wide(const tm_attention_args_t *a, int i, int nr, int32_t *acc, uint8_t *s, const int32_t *lut, int hd)
{
    uint32_t twice_max = 2u * ((1u << a->prob_bits) - 1u);
    score_rows(a, i, nr, acc, s, a->score_mult[a->head], hd);
    for (int r = 0; r < nr; r++)
        softmax_row_wide(s + (long)r * a->n, acc + (long)r * a->n, lut, a->n, twice_max);
    output_rows_wide(a, i, nr, acc, a->out_mult[a->head], hd);
}

/* Phase 2 (all cores, query rows of the block split): scores, softmax and outputs, four rows at a time. */
static void rows_worker(void *arg)
{
    const tm_attention_args_t *a = arg;
    int hd = a->d / a->heads, core = tm_core_id(), start, stop;
    uint8_t *rows = a->row_u8 + (long)core * TM_ATTN_ROWS * a->n;
    int32_t *acc = a->row_i32 + (long)core * TM_ATTN_ROWS * a->n;
    const int32_t *lut = a->exp_lut + a->head * 256;
    tm_core_range(a->r0, a->r1, &start, &stop);
    for (int i = start; i < stop; i += TM_ATTN_ROWS) {
        int nr = TM_MIN(TM_ATTN_ROWS, stop - i);
        if (a->prob_bits != 8) {
            rows_wide(a, i, nr, acc, rows, lut, hd);
            continue;
        }
        score_rows(a, i, nr, acc, rows, a->score_mult[a->head], hd);
        for (int r = 0; r < nr; r++)
            softmax_row(rows + (long)r * a->n, acc, lut, a->n);
        output_rows(a, i, nr, rows, a->out_mult[a->head], hd);
    }
}

void tm_attention_rows(tm_attention_args_t *a, int head, int r0, int r1)
{
    int hd = a->d / a->heads, n = a->n, rows = TM_NUM_CORES * TM_ATTN_ROWS * n;
    a->head = head;
    a->r0 = r0;
    a->r1 = r1;
    TM_CHECK_READ("q", a->q + (long)r0 * a->d + head * hd, TM_SPAN(r1 - r0, hd, a->d));
    TM_CHECK_READ("k_s8", a->k_s8, n * hd);
    TM_CHECK_READ("v_t", a->v_t, n * hd);
    TM_CHECK_READ("k_sum", a->k_sum, 4 * n);
    TM_CHECK_READ("exp_lut", a->exp_lut + head * 256, 4 * 256);
    TM_CHECK_READ("score_mult", a->score_mult + head, 4);
    TM_CHECK_READ("out_mult", a->out_mult + head, 4);
    TM_CHECK_WRITE("row_u8", a->row_u8, rows);
    TM_CHECK_WRITE("row_i32", a->row_i32, 4 * rows);
    TM_CHECK_WRITE("y", a->y + (long)r0 * a->d + head * hd, TM_SPAN(r1 - r0, hd, a->d));
    tm_fork(rows_worker, a);
}
