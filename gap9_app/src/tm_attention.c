/* Attention, one head at a time, query rows in blocks (numerics.softmax_int, ir.Attention):
 *   s[i,j] = sat(rne(f32(sum_d (q-128)(k-128)) * score_mult[h]) + 128)
 *          computed as sum_d q (k-128) - 128 sum_d (k-128): one u8 x s8 dot product per score;
 *   e[j] = exp_lut[h][rowmax - s[i,j]];  S = sum_j e[j] (int32: the build proves N * lut[0] + 510 lut[0] < 2^31);
 *   p[j] = (510 e[j] + S) / (2 S)  (truncating = round half up of 255 e / S), u8 scale 1/255;
 *   y[i,h*hd+c] = sat(rne(f32(sum_j p[j] (v[j]-128)) * out_mult[h]) + 128). */
#include "tm_arch.h"
#include "tm_kernels.h"
#include "tm_round.h"

#define TM_PROB_TWICE (2 * TM_PROB_LEVELS)

/* Phase 1 (all cores, tokens split): k_s8 = k - 128, k_sum = row sums of k_s8, v_t = (v - 128)^T of head h. */
static void prepare_worker(void *arg)
{
    tm_attention_args_t *a = arg;
    int hd = a->d / a->heads, col = a->head * hd, start, stop;
    tm_core_range(0, a->n, &start, &stop);
    for (int j = start; j < stop; j++) {
        const uint8_t *k = a->k + (long)j * a->d + col;
        const uint8_t *v = a->v + (long)j * a->d + col;
        int32_t sum = 0;
        for (int c = 0; c < hd; c++) {
            int8_t ks = (int8_t)((int32_t)k[c] - TM_ACT_ZERO_POINT);
            a->k_s8[(long)j * hd + c] = ks;
            sum += ks;
            a->v_t[(long)c * a->n + j] = (int8_t)((int32_t)v[c] - TM_ACT_ZERO_POINT);
        }
        a->k_sum[j] = sum;
    }
}

void tm_attention_prepare(tm_attention_args_t *a, int head)
{
    a->head = head;
    tm_fork(prepare_worker, a);
}

static void score_row(const tm_attention_args_t *a, const uint8_t *q, uint8_t *s, float mult, int hd)
{
    int j = 0;
    for (; j + 4 <= a->n; j += 4) {
        int32_t acc[4];
        const int8_t *k = a->k_s8 + (long)j * hd;
        tm_dot_u8s8_x4(q, k, k + hd, k + 2 * hd, k + 3 * hd, hd, acc);
        for (int t = 0; t < 4; t++)
            s[j + t] = tm_requant(acc[t] - TM_ACT_ZERO_POINT * a->k_sum[j + t], mult);
    }
    for (; j < a->n; j++)
        s[j] = tm_requant(tm_dot_u8s8(q, a->k_s8 + (long)j * hd, hd) - TM_ACT_ZERO_POINT * a->k_sum[j], mult);
}

/* In place: scores s (u8) -> probabilities (u8, scale 1/255); e is scratch. */
static void softmax_row(uint8_t *s, int32_t *e, const int32_t *lut, int n)
{
    int32_t rowmax = 0, sum = 0;
    for (int j = 0; j < n; j++)
        rowmax = s[j] > rowmax ? s[j] : rowmax;
    for (int j = 0; j < n; j++) {
        e[j] = lut[rowmax - s[j]];
        sum += e[j];
    }
    for (int j = 0; j < n; j++)
        s[j] = (uint8_t)((TM_PROB_TWICE * e[j] + sum) / (2 * sum));
}

static void output_row(const tm_attention_args_t *a, const uint8_t *p, uint8_t *y, float mult, int hd)
{
    int c = 0;
    for (; c + 4 <= hd; c += 4) {
        int32_t acc[4];
        const int8_t *v = a->v_t + (long)c * a->n;
        tm_dot_u8s8_x4(p, v, v + a->n, v + 2 * a->n, v + 3 * a->n, a->n, acc);
        for (int t = 0; t < 4; t++)
            y[c + t] = tm_requant(acc[t], mult);
    }
    for (; c < hd; c++)
        y[c] = tm_requant(tm_dot_u8s8(p, a->v_t + (long)c * a->n, a->n), mult);
}

/* Phase 2 (all cores, query rows of the block split): scores, softmax and output of each row. */
static void rows_worker(void *arg)
{
    const tm_attention_args_t *a = arg;
    int hd = a->d / a->heads, col = a->head * hd, core = tm_core_id(), start, stop;
    uint8_t *row = a->row_u8 + (long)core * a->n;
    int32_t *e = a->row_i32 + (long)core * a->n;
    const int32_t *lut = a->exp_lut + a->head * 256;
    tm_core_range(a->r0, a->r1, &start, &stop);
    for (int i = start; i < stop; i++) {
        score_row(a, a->q + (long)i * a->d + col, row, a->score_mult[a->head], hd);
        softmax_row(row, e, lut, a->n);
        output_row(a, row, a->y + (long)i * a->d + col, a->out_mult[a->head], hd);
    }
}

void tm_attention_rows(tm_attention_args_t *a, int head, int r0, int r1)
{
    a->head = head;
    a->r0 = r0;
    a->r1 = r1;
    tm_fork(rows_worker, a);
}
