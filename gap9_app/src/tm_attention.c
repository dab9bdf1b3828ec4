/* Attention, one head and one block of query rows at a time, K and V streamed in key chunks (ir.Attention).
 * Deferred softmax (numerics.attention_deferred_head), integer only:
 *   t[i,j] = (acc * M + 2^(S-1)) >> S, acc = sum_d (q-128)(k-128) = sum_d k (q-128) - 128 sum_d (q-128): u8 keys
 *          straight from their L1 tile against the block's q - 128 (prepared once per block), 4 keys x 4 rows per
 *          block of dot products, converted in registers; the int32 product and the int16 score are proven
 *          (quant/ranges.py); int16 score rows (stride 2 N bytes);
 *   e[j] = lut8[min(rowmax - t[j], 255)] (u8, written in place over the row's first N bytes), s = sum_j e[j];
 *   o[c] = sum_j e[j] (v[j,c] - 128): the same u8 x s8 dot products as prob_bits 8 ((v - 128)^T of the chunk);
 *   r = (2 Mo + s) / (2 s) (one 64-bit division per row), y = sat(((int64)o r + 2^(So-1)) >> So) + 128).
 * Normalized softmax (numerics.softmax_int):
 *   s[i,j] = sat(rne(f32(sum_d (q-128)(k-128)) * score_mult[h]) + 128)
 *          computed as sum_d q (k-128) - 128 sum_d (k-128): one u8 x s8 dot product per score;
 *   e[j] = exp_lut[h][rowmax - s[i,j]];  S = sum_j e[j] (int32: the build proves N * lut[0] + 510 lut[0] < 2^31);
 *   p[j] = (510 e[j] + S) / (2 S)  (truncating = round half up of 255 e / S; by tm_divide), u8 scale 1/255;
 *   y[i,h*hd+c] = sat(rne(f32(sum_j p[j] (v[j]-128)) * out_mult[h]) + 128).
 * prob_bits 9..16 (M = 2^bits - 1 levels instead of 255): the same with 2 M e[j] + S, scores and probabilities as
 * uint16 rows, p.v by scalar dot products on the u8 v chunk (values_wide below).
 * Every sum is an integer sum, so splitting the keys into chunks changes no bit: the score of (i, j) needs key j
 * only, and p.v accumulates over the chunks in acc (int32; the wide path mod 2^32, its true value fits int32). */
#include "tm_arch.h"
#include "tm_check.h"
#include "tm_kernels.h"
#include "tm_round.h"

#define TM_PROB_TWICE (2 * TM_PROB_LEVELS)

#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
#define TM_PV_ROWS_BYTES 512 /* a worker's stack copy of 4 numerator rows of a chunk (2 kB worker stacks) */
#endif

static int head_dim(const tm_attention_args_t *a) { return a->d / a->heads; }

/* The cores' work items of a query block: row quads x segments (of the chunk's keys, or of the head columns; len
 * of them, in quads). The fewest segments that make the item count a multiple of the core count (at most one per
 * quad of len): every core gets the same number of whole 4-row items, e.g. a last block of 16 rows on 8 cores is
 * 4 quads x 2 segments, where a split by rows would leave each core 2 rows for the slow edge loops. */
static int block_segments(int row_quads, int len)
{
    int segs = 1, len_quads = (len + 3) / 4;
    while ((row_quads * segs) % TM_NUM_CORES != 0 && segs < len_quads && segs < TM_NUM_CORES)
        segs++;
    return segs;
}

/* Item it of block_segments' grid: rows [*i, *i + *nr), segment [*b, *e) of len (multiples of 4 but the end). */
static void block_item(const tm_attention_args_t *a, int it, int segs, int len, int *i, int *nr, int *b, int *e)
{
    int len_quads = (len + 3) / 4, s = it % segs;
    *i = a->r0 + 4 * (it / segs), *nr = TM_MIN(4, a->r1 - *i);
    *b = 4 * (len_quads * s / segs), *e = TM_MIN(len, 4 * (len_quads * (s + 1) / segs));
}

/* u8 rows for p.v (the u8 x s8 dot products on (v - 128)^T): u8 probabilities or the deferred numerators */
static int u8_rows(const tm_attention_args_t *a) { return a->deferred || a->prob_bits == 8; }

/* bytes from one score row to the next: u8 probabilities N, uint16 probabilities or int16 scores 2 N */
static long row_bytes(const tm_attention_args_t *a) { return (long)a->n * (a->prob_bits == 8 && !a->deferred ? 1 : 2); }

/* where the u8 rows of p.v start: deferred with values_in_rows, the second half of each score row; with the head
 * resident, the numerator rows e */
static const uint8_t *u8_rows_base(const tm_attention_args_t *a)
{
    if (a->e)
        return a->e;
    return a->p + (a->deferred && a->values_in_rows ? a->n : 0);
}

/* bytes from one u8 row of p.v to the next: e rows N, score rows row_bytes */
static long u8_row_stride(const tm_attention_args_t *a) { return a->e ? a->n : row_bytes(a); }

/* (v - 128)^T of the chunk, column c (nj bytes): blocks of 4 columns, block c/4 at kv_s8 + 4 nj (c/4), or with
 * values_in_rows in the first half of score row c/4 */
static int8_t *values_column(const tm_attention_args_t *a, int c)
{
    int nj = a->j1 - a->j0;
    long block = a->deferred && a->values_in_rows ? row_bytes(a) : 4L * nj;
    int8_t *base = a->deferred && a->values_in_rows ? (int8_t *)(void *)a->p : a->kv_s8;
    return base + (long)(c / 4) * block + (long)(c % 4) * nj;
}

/* All cores, keys of the chunk split: kv_s8 = k - 128 (row-major (nj, hd)), k_sum = its row sums. */
static void keys_prepare_worker(void *arg)
{
    tm_attention_args_t *a = arg;
    int hd = head_dim(a), col = a->head * hd, start, stop;
    tm_core_range(0, a->j1 - a->j0, &start, &stop);
    for (int j = start; j < stop; j++) {
        const uint8_t *k = a->k + (long)j * a->d + col;
        int32_t sum = 0;
        for (int c = 0; c < hd; c++) {
            int8_t ks = (int8_t)((int32_t)k[c] - TM_ACT_ZERO_POINT);
            a->kv_s8[(long)j * hd + c] = ks;
            sum += ks;
        }
        a->k_sum[j] = sum;
    }
}

/* Scores of block rows i..i+nr-1 (nr <= 4) against the chunk's nj keys: int32 accumulators into acc (row t at
 * acc + t*kc), 4 keys at a time, then requantised into the score rows (row i at p + i*n, columns from j0). */
static void score_rows(const tm_attention_args_t *a, int i, int nr, int32_t *acc, int hd)
{
    const uint8_t *q = a->q + (long)i * a->d + a->head * hd;
    const int8_t *ks = a->kv_s8;
    int n = a->n, kc = a->kc, nj = a->j1 - a->j0;
    int j = 0;
    if (nr == 4) { /* the common case: whole 4 x 4 blocks */
#if defined(TM_HAVE_PACKED_ROWS) /* rv32: the 4 query rows interleaved once for the chunk's keys (tm_rv32.h) */
        tm_packed_t qp[TM_PACKED_ROWS_MAX];
        int packed = 4 * hd <= TM_PACKED_ROWS_MAX;
        if (packed)
            tm_pack_rows4(q, a->d, hd, qp);
#endif
        for (; j + 4 <= nj; j += 4) {
            int32_t blk[16];
#if defined(TM_HAVE_PACKED_ROWS)
            if (packed)
                tm_dot_u8s8_4x4_packed(qp, ks + (long)j * hd, hd, hd, blk);
            else
#endif
                tm_dot_u8s8_4x4(q, a->d, ks + (long)j * hd, hd, hd, blk);
            for (int t = 0; t < 4; t++)
                for (int c = 0; c < 4; c++)
                    acc[(long)t * kc + j + c] = blk[4 * t + c];
        }
    }
    for (; j < nj; j += 4) {
        int nk = TM_MIN(4, nj - j);
        for (int r = 0; r < (nr == 4 ? 1 : nr); r++) {
            int32_t blk[16];
            tm_dot_u8s8_4x4(q + (long)r * a->d, nr == 4 ? a->d : 0, ks + (long)j * hd, nk == 4 ? hd : 0, hd, blk);
            for (int t = 0; t < (nr == 4 ? 4 : 1); t++)
                for (int c = 0; c < nk; c++)
                    acc[(long)(r + t) * kc + j + c] =
                        c == 0 || nk == 4 ? blk[4 * t + c]
                                          : tm_dot_u8s8(q + (long)(r + t) * a->d, ks + (long)(j + c) * hd, hd);
        }
    }
    for (int r = 0; r < nr; r++) {
        const int32_t *row = acc + (long)r * kc;
        if (a->prob_bits == 8) {
            uint8_t *out = a->p + (long)(i + r) * n + a->j0;
            for (int c = 0; c < nj; c++)
                out[c] = tm_requant(row[c] - TM_ACT_ZERO_POINT * a->k_sum[c], a->score_mult[a->head]);
        } else {
            uint16_t *out = (uint16_t *)(void *)a->p + (long)(i + r) * n + a->j0;
            for (int c = 0; c < nj; c++)
                out[c] = tm_requant(row[c] - TM_ACT_ZERO_POINT * a->k_sum[c], a->score_mult[a->head]);
        }
    }
}

/* Deferred, all cores, the block's rows split: q_s8 = q - 128, q_sum = its row sums. */
static void query_prepare_worker(void *arg)
{
    tm_attention_args_t *a = arg;
    int hd = head_dim(a), start, stop;
    tm_core_range(a->r0, a->r1, &start, &stop);
    for (int i = start; i < stop; i++) {
        const uint8_t *q = a->q + (long)i * a->d + a->head * hd;
        int32_t sum = 0;
#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
        if (hd % 8 == 0 && tm_xpulp_aligned(q, 0, a->q_s8 + (long)i * hd, 0)) { /* 8 codes a step (tm_xpulp.h) */
            uint32_t codes = tm_xpulp_minus128_pairs(q, a->q_s8 + (long)i * hd, hd / 8);
            a->q_sum[i] = (int32_t)codes - TM_ACT_ZERO_POINT * hd;
            continue;
        }
#endif
        for (int c = 0; c < hd; c++) {
            int8_t qs = (int8_t)((int32_t)q[c] - TM_ACT_ZERO_POINT);
            a->q_s8[(long)i * hd + c] = qs;
            sum += qs;
        }
        a->q_sum[i] = sum;
    }
}

#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
/* The full 4 keys x 4 rows blocks of rows [i0, i0 + 4 floor((i1 - i0) / 4)) x keys [kb, kb + 4 floor((ke - kb) / 4))
 * (kb a multiple of 4), when every one is word aligned: per row quad one tm_xpulp_scores_run over its key quads
 * (keys and q - 128 rows hd apart, the register blocks from -128 q_sum, so each ends at acc = dot - 128 q_sum),
 * converted to t = (acc M + 2^(S-1)) >> S with 32-bit wrapping products (the true value fits int32, proven: the
 * wrapped products give the same bits) and stored as two words a row. Returns the rows done. */
static int scores_full_blocks_xpulp(const tm_attention_args_t *a, int i0, int i1, int kb, int ke, int hd,
                                    int16_t *rows, long ts, int32_t m, int32_t half, int sh)
{
    const uint8_t *k = a->k + a->head * hd;
    if (a->d != hd || hd % 4 != 0 || !tm_xpulp_aligned(k, hd, a->q_s8, hd) ||
        (((uintptr_t)rows | (uintptr_t)(2 * ts)) & 3u) != 0u || ke - kb < 4)
        return 0;
    int iend = i0 + (i1 - i0) / 4 * 4;
    tm_xpulp_scores_run_t run = {.tsb = 2 * ts, .m = m, .half = half, .sh = sh, .words = hd / 4};
    for (int i = i0; i < iend; i += 4) {
        int32_t init[4];
        for (int c = 0; c < 4; c++)
            init[c] = -TM_ACT_ZERO_POINT * a->q_sum[i + c];
        run.init = init, run.t = rows + (long)i * ts + kb, run.blocks = (ke - kb) / 4;
        tm_xpulp_scores_run(k + (long)kb * hd, a->q_s8 + (long)i * hd, &run);
    }
    return iend - i0;
}
#endif

/* Deferred: the integer scores of rows [i0, i1) against the chunk's keys [kb, ke) into the int16 score rows, 4 keys
 * x 4 rows of dot products sum_d k (q - 128) at a time (k u8 from its tile, the rows' q - 128 from q_s8), each
 * converted to t = ((dot - 128 q_sum) M + 2^(S-1)) >> S while in registers (int32: |acc| M + 2^(S-1) < 2^31,
 * proven). On the cluster the full blocks go through scores_full_blocks_xpulp first; this loop does the rest. */
static void scores_deferred(const tm_attention_args_t *a, int i0, int i1, int kb, int ke, int hd)
{
    int32_t m = a->score_fixed[2 * a->head], sh = a->score_fixed[2 * a->head + 1];
    int32_t half = (int32_t)1 << (sh - 1);
    long ts = row_bytes(a) / 2; /* int16 scores per row */
    int16_t *rows = (int16_t *)(void *)a->p + a->j0;
    int idone = 0, jdone = kb; /* rows [i0, i0 + idone) x keys [kb, jdone) are done */
#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
    idone = scores_full_blocks_xpulp(a, i0, i1, kb, ke, hd, rows, ts, m, half, sh);
    jdone = idone ? kb + (ke - kb) / 4 * 4 : kb;
#endif
    for (int j = idone == i1 - i0 ? jdone : kb; j < ke; j += 4) { /* the key quads not done for every row */
        int nk = TM_MIN(4, ke - j);
        const uint8_t *k = a->k + (long)j * a->d + a->head * hd;
        for (int i = j < jdone ? i0 + idone : i0; i < i1; i += 4) {
            int nq = TM_MIN(4, i1 - i);
            const int8_t *qs = a->q_s8 + (long)i * hd;
            int32_t blk[16]; /* blk[4 u + c]: key j + u, row i + c */
            if (nk == 4 && nq == 4)
                tm_dot_u8s8_4x4(k, a->d, qs, hd, hd, blk);
            else
                for (int u = 0; u < nk; u++)
                    for (int c = 0; c < nq; c++)
                        blk[4 * u + c] = tm_dot_u8s8(k + (long)u * a->d, qs + (long)c * hd, hd);
            for (int c = 0; c < nq; c++) {
                int32_t corr = TM_ACT_ZERO_POINT * a->q_sum[i + c];
                int16_t *t = rows + (long)(i + c) * ts + j;
                for (int u = 0; u < nk; u++)
                    t[u] = (int16_t)(((blk[4 * u + c] - corr) * m + half) >> sh);
            }
        }
    }
}

/* All cores: scores against the chunk; deferred by block_segments' items (row quad x key segment), normalized by
 * the block's rows split, four rows at a time. */
static void keys_worker(void *arg)
{
    const tm_attention_args_t *a = arg;
    int hd = head_dim(a), start, stop;
    if (a->deferred) {
        int nj = a->j1 - a->j0, segs = block_segments((a->r1 - a->r0 + 3) / 4, nj);
        tm_core_range(0, (a->r1 - a->r0 + 3) / 4 * segs, &start, &stop);
        for (int it = start; it < stop; it++) {
            int i, nr, kb, ke;
            block_item(a, it, segs, nj, &i, &nr, &kb, &ke);
            scores_deferred(a, i, i + nr, kb, ke, hd);
        }
        return;
    }
    int32_t *acc = a->row_i32 + (long)tm_core_id() * TM_ATTN_ROWS * a->kc;
    tm_core_range(a->r0, a->r1, &start, &stop);
    for (int i = start; i < stop; i += TM_ATTN_ROWS)
        score_rows(a, i, TM_MIN(TM_ATTN_ROWS, stop - i), acc, hd);
}

void tm_attention_keys(tm_attention_args_t *a, int j0, int j1)
{
    int hd = head_dim(a), nj = j1 - j0;
    a->j0 = j0, a->j1 = j1;
    TM_CHECK_READ("k", a->k + a->head * hd, TM_SPAN(nj, hd, a->d));
    TM_CHECK_WRITE("p", a->p + a->r0 * row_bytes(a), (a->r1 - a->r0) * row_bytes(a));
    if (a->deferred) {
        TM_CHECK_READ("score_fixed", a->score_fixed + 2 * a->head, 8);
        TM_CHECK_READ("q_s8", a->q_s8 + (long)a->r0 * hd, (a->r1 - a->r0) * hd);
        TM_CHECK_READ("q_sum", a->q_sum + a->r0, 4 * (a->r1 - a->r0));
        if (j0 == 0) { /* the block's first chunk: its q - 128 once */
            TM_CHECK_READ("q", a->q + (long)a->r0 * a->d + a->head * hd, TM_SPAN(a->r1 - a->r0, hd, a->d));
            TM_CHECK_WRITE("q_s8", a->q_s8 + (long)a->r0 * hd, (a->r1 - a->r0) * hd);
            TM_CHECK_WRITE("q_sum", a->q_sum + a->r0, 4 * (a->r1 - a->r0));
            tm_fork(query_prepare_worker, a);
        }
        tm_fork(keys_worker, a);
        return;
    }
    TM_CHECK_READ("q", a->q + (long)a->r0 * a->d + a->head * hd, TM_SPAN(a->r1 - a->r0, hd, a->d));
    TM_CHECK_READ("score_mult", a->score_mult + a->head, 4);
    TM_CHECK_WRITE("kv_s8", a->kv_s8, nj * hd);
    TM_CHECK_WRITE("k_sum", a->k_sum, 4 * nj);
    TM_CHECK_WRITE("row_i32", a->row_i32, 4 * TM_NUM_CORES * TM_ATTN_ROWS * a->kc);
    tm_fork(keys_prepare_worker, a);
    tm_fork(keys_worker, a);
}

/* In place: scores s (u8) -> probabilities (u8, scale 1/255); the table read twice instead of an e[] row. */
static void softmax_row(uint8_t *restrict s, const int32_t *restrict lut, int n)
{
    int32_t rowmax = 0, sum = 0;
    for (int j = 0; j < n; j++)
        rowmax = s[j] > rowmax ? s[j] : rowmax;
    for (int j = 0; j < n; j++)
        sum += lut[rowmax - s[j]];
    tm_divisor_t d = tm_divisor((uint32_t)(2 * sum)); /* exact: the numerators are < 2^31 (bound proven) */
/* 32-bit RISC-V (GAP9, pulp-open, rv32): the division by one mulhu */
#if defined(__riscv) && __riscv_xlen == 32
    if (d.shift >= 32 && (d.mult >> 32) == 0) { /* tm_divide with the low product word dropped: one mulhu */
        uint32_t m32 = (uint32_t)d.mult;
        int sh = d.shift - 32;
        for (int j = 0; j < n; j++) {
            uint32_t num = (uint32_t)(TM_PROB_TWICE * lut[rowmax - s[j]] + sum);
            s[j] = (uint8_t)((uint32_t)(((uint64_t)num * m32) >> 32) >> sh);
        }
        return;
    }
#endif
    for (int j = 0; j < n; j++)
        s[j] = (uint8_t)tm_divide((uint32_t)(TM_PROB_TWICE * lut[rowmax - s[j]] + sum), d);
}

/* prob_bits 9..16, in place: scores -> p[j] = (2 M e[j] + S) / (2 S) (the lowering proves 2 M lut[0] + N lut[0] <
 * 2^31; p <= M < 2^16). */
static void softmax_row_wide(uint16_t *restrict s, const int32_t *restrict lut, int n, uint32_t twice_max)
{
    int32_t rowmax = 0, sum = 0;
    for (int j = 0; j < n; j++)
        rowmax = s[j] > rowmax ? s[j] : rowmax;
    for (int j = 0; j < n; j++)
        sum += lut[rowmax - s[j]];
    tm_divisor_t div = tm_divisor((uint32_t)(2 * sum));
    for (int j = 0; j < n; j++)
        s[j] = (uint16_t)tm_divide(twice_max * (uint32_t)lut[rowmax - s[j]] + (uint32_t)sum, div);
}

/* max of n >= 1 int16 scores (pairs by pv.max.h on the cluster when word aligned) */
static int32_t row_max_i16(const int16_t *t, int n)
{
    int32_t rowmax = t[0];
    int j = 1;
#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
    if (n >= 2 && ((uintptr_t)t & 3u) == 0u) {
        rowmax = tm_xpulp_max_i16(t, n / 2);
        j = n & ~1;
    }
#endif
    for (; j < n; j++)
        rowmax = t[j] > rowmax ? t[j] : rowmax;
    return rowmax;
}

/* Deferred, in place: int16 scores t -> u8 numerators e = lut8[min(rowmax - t, 255)]; returns s. upper = 0: e[j]
 * at byte j, forwards (byte j lies in t[j / 2], read already); upper = 1: e[j] at byte n + j, backwards (byte n + j
 * lies in t[(n + j) / 2], an index > j for j < n: read already, and t[j] is only overwritten at step 2 j - n < j). */
static int32_t numerator_row(uint8_t *row, const uint8_t *restrict lut8, int n, int upper)
{
    const int16_t *t = (const int16_t *)(const void *)row;
    int32_t rowmax = row_max_i16(t, n), sum = 0;
    if (upper) {
        int j = n - 1;
#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
        for (; j >= (n & ~3); j--) { /* the top n % 4 first, then the quads backwards (tm_xpulp.h) */
            int32_t d = rowmax - t[j];
            uint32_t e = lut8[d < TM_DEFERRED_D_MAX ? d : TM_DEFERRED_D_MAX];
            row[n + j] = (uint8_t)e;
            sum += (int32_t)e;
        }
        if (n >= 4 && (((uintptr_t)row | (uintptr_t)n) & 3u) == 0u) {
            sum += tm_xpulp_numerators(t + j - 3, row + n + j - 3, lut8, (j + 1) / 4, rowmax, TM_DEFERRED_D_MAX, 1);
            j = -1;
        }
#endif
        for (; j >= 0; j--) {
            int32_t d = rowmax - t[j];
            uint32_t e = lut8[d < TM_DEFERRED_D_MAX ? d : TM_DEFERRED_D_MAX];
            row[n + j] = (uint8_t)e;
            sum += (int32_t)e;
        }
        return sum;
    }
    for (int j = 0; j < n; j++) {
        int32_t d = rowmax - t[j];
        uint32_t e = lut8[d < TM_DEFERRED_D_MAX ? d : TM_DEFERRED_D_MAX];
        row[j] = (uint8_t)e;
        sum += (int32_t)e;
    }
    return sum;
}

/* Deferred, the head resident: int16 scores t -> u8 numerators e[j] = lut8[min(rowmax - t, 255)] into their own
 * row; returns s. */
static int32_t numerator_row_to(const uint8_t *row, uint8_t *restrict e, const uint8_t *restrict lut8, int n)
{
    const int16_t *t = (const int16_t *)(const void *)row;
    int32_t rowmax = row_max_i16(t, n), sum = 0;
    int j = 0;
#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
    if (n >= 4 && (((uintptr_t)t | (uintptr_t)e) & 3u) == 0u) { /* 4 numerators a step (tm_xpulp.h) */
        sum = tm_xpulp_numerators(t, e, lut8, n / 4, rowmax, TM_DEFERRED_D_MAX, 0);
        j = n & ~3;
    }
#endif
    for (; j < n; j++) {
        int32_t d = rowmax - t[j];
        uint32_t x = lut8[d < TM_DEFERRED_D_MAX ? d : TM_DEFERRED_D_MAX];
        e[j] = (uint8_t)x;
        sum += (int32_t)x;
    }
    return sum;
}

static void softmax_worker(void *arg)
{
    const tm_attention_args_t *a = arg;
    int start, stop;
    if (a->deferred) {
        const uint8_t *lut8 = a->exp_lut8 + a->head * 256;
        tm_core_range(a->r0, a->r1, &start, &stop);
        for (int i = start; i < stop; i++)
            a->row_sum[i] = a->e ? numerator_row_to(a->p + (long)i * row_bytes(a), a->e + (long)i * a->n, lut8, a->n)
                                 : numerator_row(a->p + (long)i * row_bytes(a), lut8, a->n, a->values_in_rows);
        return;
    }
    const int32_t *lut = a->exp_lut + a->head * 256;
    uint32_t twice_max = 2u * ((1u << a->prob_bits) - 1u);
    tm_core_range(a->r0, a->r1, &start, &stop);
    for (int i = start; i < stop; i++) {
        if (a->prob_bits == 8)
            softmax_row(a->p + (long)i * a->n, lut, a->n);
        else
            softmax_row_wide((uint16_t *)(void *)a->p + (long)i * a->n, lut, a->n, twice_max);
    }
}

void tm_attention_softmax(tm_attention_args_t *a)
{
    if (a->deferred) {
        TM_CHECK_READ("exp_lut8", a->exp_lut8 + a->head * 256, 256);
        TM_CHECK_WRITE("row_sum", a->row_sum + a->r0, 4 * (a->r1 - a->r0));
    } else
        TM_CHECK_READ("exp_lut", a->exp_lut + a->head * 256, 4 * 256);
    if (a->e) {
        TM_CHECK_READ("p", a->p + a->r0 * row_bytes(a), (a->r1 - a->r0) * row_bytes(a));
        TM_CHECK_WRITE("e", a->e + (long)a->r0 * a->n, (a->r1 - a->r0) * a->n);
    } else
        TM_CHECK_WRITE("p", a->p + a->r0 * row_bytes(a), (a->r1 - a->r0) * row_bytes(a));
    tm_fork(softmax_worker, a);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* (v - 128)^T of 4 values x 4 head columns: the 4 words of v rows j..j+3 (columns c..c+3, d bytes apart) become
 * the 4 words of columns c..c+3 (values j..j+3; columns nj bytes apart, values_column); v - 128 of a u8 is its
 * byte xor 0x80 read as int8. */
static void values_transpose_4x4(const uint8_t *v, long d, int8_t *dst, long nj)
{
    uint32_t r0 = *(const uint32_t *)(const void *)v ^ 0x80808080u;
    uint32_t r1 = *(const uint32_t *)(const void *)(v + d) ^ 0x80808080u;
    uint32_t r2 = *(const uint32_t *)(const void *)(v + 2 * d) ^ 0x80808080u;
    uint32_t r3 = *(const uint32_t *)(const void *)(v + 3 * d) ^ 0x80808080u;
    for (int u = 0; u < 4; u++, dst += nj) {
        int s = 8 * u;
        *(uint32_t *)(void *)dst = (r0 >> s & 0xFFu) | (r1 >> s & 0xFFu) << 8 | (r2 >> s & 0xFFu) << 16 |
                                   (r3 >> s & 0xFFu) << 24;
    }
}
#endif

/* u8 rows (prob_bits 8, deferred), all cores, values of the chunk split: kv_s8 = (v - 128)^T, (hd, nj). Little
 * endian, word-aligned rows and columns (the cluster, the host): 4 x 4 blocks (values_transpose_4x4), the cores
 * taking value quads; otherwise value by value. */
static void values_prepare_worker(void *arg)
{
    tm_attention_args_t *a = arg;
    int hd = head_dim(a), col = a->head * hd, nj = a->j1 - a->j0, start, stop;
    const uint8_t *v0 = a->v + col;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* columns 0 and 4 aligned: every column quad is (they start base + (c / 4) block) */
    if (hd % 4 == 0 && nj % 4 == 0 && a->d % 4 == 0 && ((uintptr_t)v0 & 3u) == 0u &&
        ((uintptr_t)values_column(a, 0) & 3u) == 0u && ((uintptr_t)values_column(a, 4 % hd) & 3u) == 0u) {
        tm_core_range(0, nj / 4, &start, &stop);
        for (int q = start; q < stop; q++)
            for (int c = 0; c < hd; c += 4)
                values_transpose_4x4(v0 + (long)4 * q * a->d + c, a->d, values_column(a, c) + 4 * q, nj);
        return;
    }
#endif
    tm_core_range(0, nj, &start, &stop);
    for (int c = 0; c < hd; c++) { /* column by column: one destination pointer per column */
        int8_t *dst = values_column(a, c);
        const uint8_t *v = a->v + col + c;
        for (int j = start; j < stop; j++)
            dst[j] = (int8_t)((int32_t)v[(long)j * a->d] - TM_ACT_ZERO_POINT);
    }
}

/* prob_bits 8: acc (row r at acc + r*hd) += p . (v - 128) over the chunk for rows i..i+nr-1 and head columns
 * [c0, c1) (c0 a multiple of 4), 4 at a time (p row r from column j0, v^T column c at kv_s8 + c*nj). */
static void values_rows(const tm_attention_args_t *a, int i, int nr, int c0, int c1, int hd)
{
    long n = u8_row_stride(a); /* deferred: 2 N (the numerators at the score row's start or middle), or N (e) */
    int nj = a->j1 - a->j0;
    const uint8_t *p = u8_rows_base(a) + (long)i * n + a->j0;
    int32_t *acc = a->acc + (long)i * hd;
    int first = a->j0 == 0; /* the first chunk: the register blocks store their sums, the other paths add to zeros */
#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
    /* e rows and (v - 128)^T columns both nj = N bytes apart: one 4 x 4 register block per 4 head columns */
    int32_t zeros[4] = {0, 0, 0, 0}; /* the initial sums (on the stack: in L1, where a const array is in L2) */
    if (nr == 4 && n == nj && hd % 4 == 0 && nj % 4 == 0 && tm_xpulp_aligned(p, n, values_column(a, 0), nj)) {
        for (int c = c0; c < c1; c += 4) {
            int32_t blk[16];
            tm_xpulp_dot_4x4_same_stride(p, values_column(a, c), nj, nj / 4, zeros, blk);
            for (int t = 0; t < 4; t++)
                for (int u = 0; u < 4; u++)
                    acc[(long)t * hd + c + u] = (first ? 0 : acc[(long)t * hd + c + u]) + blk[4 * t + u];
        }
        return;
    }
    /* score rows 2 N apart, (v - 128)^T columns nj apart: the 4 rows' chunk copied nj apart once, then the same */
    if (nr == 4 && hd % 4 == 0 && nj % 4 == 0 && 4 * nj <= TM_PV_ROWS_BYTES &&
        tm_xpulp_aligned(p, n, values_column(a, 0), nj)) {
        uint32_t rows4[TM_PV_ROWS_BYTES / 4];
        for (int t = 0; t < 4; t++)
            for (int w = 0; w < nj / 4; w++)
                rows4[t * (nj / 4) + w] = ((const uint32_t *)(const void *)(p + (long)t * n))[w];
        for (int c = c0; c < c1; c += 4) {
            int32_t blk[16];
            tm_xpulp_dot_4x4_same_stride((const uint8_t *)rows4, values_column(a, c), nj, nj / 4, zeros, blk);
            for (int t = 0; t < 4; t++)
                for (int u = 0; u < 4; u++)
                    acc[(long)t * hd + c + u] = (first ? 0 : acc[(long)t * hd + c + u]) + blk[4 * t + u];
        }
        return;
    }
#endif
#if defined(TM_HAVE_PACKED_ROWS) /* rv32: the 4 probability rows interleaved once for all head columns (tm_rv32.h) */
    tm_packed_t pp[TM_PACKED_ROWS_MAX];
    int packed = nr == 4 && 4 * nj <= TM_PACKED_ROWS_MAX;
    if (packed)
        tm_pack_rows4(p, n, nj, pp);
#endif
    for (int c = c0; c < c1; c += 4) {
        int nc = TM_MIN(4, c1 - c);
        for (int r = 0; r < (nr == 4 ? 1 : nr); r++) {
            int32_t blk[16];
#if defined(TM_HAVE_PACKED_ROWS)
            if (packed && nc == 4)
                tm_dot_u8s8_4x4_packed(pp, values_column(a, c), nj, nj, blk);
            else
#endif
                tm_dot_u8s8_4x4(p + (long)r * n, nr == 4 ? n : 0, values_column(a, c), nc == 4 ? nj : 0, nj, blk);
            for (int t = 0; t < (nr == 4 ? 4 : 1); t++)
                for (int u = 0; u < nc; u++)
                    acc[(long)(r + t) * hd + c + u] =
                        (first ? 0 : acc[(long)(r + t) * hd + c + u]) +
                        (u == 0 || nc == 4 ? blk[4 * t + u]
                                           : tm_dot_u8s8(p + (long)(r + t) * n, values_column(a, c + u), nj));
        }
    }
}

/* acc[4 t + u] = sum_j p_t[j] v[j * vstride + u] (u = 0..3: 4 adjacent u8 columns of v, one pointer with immediate
 * offsets) for 2 probability rows (p1 may equal p0): 6 loads for 8 products, the 8 sums in registers. Unsigned: the
 * sums of p v_u8 are exact mod 2^32; the caller subtracts 128 sum(p) once all chunks are in. */
static void dot_wide_2x4(const uint16_t *restrict p0, const uint16_t *restrict p1, const uint8_t *restrict v,
                         int vstride, int n, uint32_t acc[8])
{
    uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    for (int j = 0; j < n; j++, v += vstride) {
        uint32_t x = p0[j], z = p1[j], w0 = v[0], w1 = v[1], w2 = v[2], w3 = v[3];
        a0 += x * w0, a1 += x * w1, a2 += x * w2, a3 += x * w3;
        b0 += z * w0, b1 += z * w1, b2 += z * w2, b3 += z * w3;
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3, acc[4] = b0, acc[5] = b1, acc[6] = b2, acc[7] = b3;
}

/* prob_bits 9..16: acc += sum_j p[j] v[j] over the chunk (u8 v straight from its L1 tile) for head columns
 * [c0, c1), 2 rows x 4 head columns at a time, one column per leftover column. */
static void values_rows_wide(const tm_attention_args_t *a, int i, int nr, int c0, int c1, int hd)
{
    int n = a->n, nj = a->j1 - a->j0;
    const uint16_t *p = (const uint16_t *)(const void *)a->p + (long)i * n + a->j0;
    const uint8_t *v = a->v + a->head * hd;
    uint32_t *acc = (uint32_t *)(void *)(a->acc + (long)i * hd);
    int first = a->j0 == 0, c = c0; /* the first chunk: sums stored, not added */
    for (; c + 4 <= c1; c += 4)
        for (int r = 0; r < nr; r += 2) {
            uint32_t blk[8];
            int two = r + 1 < nr;
            dot_wide_2x4(p + (long)r * n, p + (long)(r + two) * n, v + c, a->d, nj, blk);
            for (int t = 0; t <= two; t++)
                for (int u = 0; u < 4; u++)
                    acc[(long)(r + t) * hd + c + u] = (first ? 0u : acc[(long)(r + t) * hd + c + u]) + blk[4 * t + u];
        }
    for (; c < c1; c++)
        for (int r = 0; r < nr; r++) {
            uint32_t sum = 0;
            for (int j = 0; j < nj; j++)
                sum += (uint32_t)p[(long)r * n + j] * v[(long)j * a->d + c];
            acc[(long)r * hd + c] = (first ? 0u : acc[(long)r * hd + c]) + sum;
        }
}

/* Rows i..i+nr-1 once every chunk is in: y = requant(acc) (wide: acc - 128 sum(p); |sum| <= 128 (M + N/2) < 2^31,
 * quant/ranges.py, lowering). */
static void finish_rows(const tm_attention_args_t *a, int i, int nr, int c0, int c1, int hd)
{
    if (a->deferred) { /* one reciprocal per row: r = (2 Mo + s) / (2 s) <= Mo / 255 + 1 < 2^31, s >= 255 */
        int32_t mo = a->out_fixed[2 * a->head], so = a->out_fixed[2 * a->head + 1];
        for (int r = i; r < i + nr; r++) {
            uint64_t s = (uint64_t)a->row_sum[r];
            int32_t rec = (int32_t)((2 * (uint64_t)mo + s) / (2 * s));
            uint8_t *y = a->y + (long)r * a->d + a->head * hd;
            const int32_t *acc = a->acc + (long)r * hd;
            int c = c0;
#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
            int32_t q[3];
            if (c1 - c0 >= 2 && tm_xpulp_requant_constant(rec, so, TM_ACT_ZERO_POINT, q)) {
                tm_xpulp_requant_pairs(acc + c0, q, y + c0, (c1 - c0) / 2);
                c = c0 + ((c1 - c0) & ~1);
            }
#endif
            for (; c < c1; c++)
                y[c] = tm_requant_fixed(acc[c], rec, so, TM_ACT_ZERO_POINT);
        }
        return;
    }
    float mult = a->out_mult[a->head];
    for (int r = i; r < i + nr; r++) {
        uint32_t psum = 0;
        if (a->prob_bits != 8) {
            const uint16_t *p = (const uint16_t *)(const void *)a->p + (long)r * a->n;
            for (int j = 0; j < a->n; j++)
                psum += p[j];
        }
        uint8_t *y = a->y + (long)r * a->d + a->head * hd;
        const int32_t *acc = a->acc + (long)r * hd;
        for (int c = c0; c < c1; c++)
            y[c] = tm_requant((int32_t)((uint32_t)acc[c] - TM_ACT_ZERO_POINT * psum), mult);
    }
}

/* All cores, by block_segments' items (row quad x head column segment): p.v of the chunk (the first chunk's sums
 * stored, later ones added), and the outputs after the last chunk. */
static void values_worker(void *arg)
{
    const tm_attention_args_t *a = arg;
    int hd = head_dim(a), quads = (a->r1 - a->r0 + 3) / 4, segs = block_segments(quads, hd), start, stop;
    tm_core_range(0, quads * segs, &start, &stop);
    for (int it = start; it < stop; it++) {
        int i, nr, c0, c1;
        block_item(a, it, segs, hd, &i, &nr, &c0, &c1);
        if (u8_rows(a))
            values_rows(a, i, nr, c0, c1, hd);
        else
            values_rows_wide(a, i, nr, c0, c1, hd);
        if (a->j1 == a->n)
            finish_rows(a, i, nr, c0, c1, hd);
    }
}

void tm_attention_values_prepare(tm_attention_args_t *a)
{
    int hd = head_dim(a);
    a->j0 = 0, a->j1 = a->n;
    TM_CHECK_READ("v", a->v + a->head * hd, TM_SPAN(a->n, hd, a->d));
    TM_CHECK_WRITE("kv_s8", a->kv_s8, a->n * hd);
    tm_fork(values_prepare_worker, a);
}

void tm_attention_values(tm_attention_args_t *a, int j0, int j1)
{
    int hd = head_dim(a), nj = j1 - j0, rows = a->r1 - a->r0;
    a->j0 = j0, a->j1 = j1;
    if (a->e) { /* the head resident: (v - 128)^T of every value prepared already, the numerators in e */
        TM_CHECK_READ("e", a->e + (long)a->r0 * a->n, rows * a->n);
        TM_CHECK_READ("kv_s8", a->kv_s8, a->n * hd);
    } else {
        TM_CHECK_READ("v", a->v + a->head * hd, TM_SPAN(nj, hd, a->d));
        TM_CHECK_READ("p", a->p + a->r0 * row_bytes(a), rows * row_bytes(a));
    }
    TM_CHECK_WRITE("acc", a->acc + (long)a->r0 * hd, 4 * rows * hd);
    if (u8_rows(a) && !a->e) {
        if (a->deferred && a->values_in_rows) /* score rows 0 .. ceil(hd/4) - 1, first halves (4 nj <= N bytes) */
            TM_CHECK_WRITE("p, (v - zp)^T", a->p, ((hd + 3) / 4 - 1) * row_bytes(a) + 4 * nj);
        else
            TM_CHECK_WRITE("kv_s8", a->kv_s8, nj * hd);
        tm_fork(values_prepare_worker, a);
    }
    if (j1 == a->n) {
        if (a->deferred) {
            TM_CHECK_READ("out_fixed", a->out_fixed + 2 * a->head, 8);
            TM_CHECK_READ("row_sum", a->row_sum + a->r0, 4 * rows);
        } else
            TM_CHECK_READ("out_mult", a->out_mult + a->head, 4);
        TM_CHECK_WRITE("y", a->y + (long)a->r0 * a->d + a->head * hd, TM_SPAN(rows, hd, a->d));
    }
    tm_fork(values_worker, a);
}
