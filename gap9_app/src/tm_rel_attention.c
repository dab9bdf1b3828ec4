/* RelativeAttention (tm_speech_kernels.h), one query row per core iteration:
 *   s_j = requant(sum_d (q_d - 128)(k_jd - 128 + rel[j - i + W - 1][d]), score_mult)      |j - i| < W
 *   e_j = lut[max s - s_j];  S = sum e_j;  p_j = (2 M e_j + S) / (2 S) (truncating, as numerics.softmax_int_masked)
 *   y_d = requant(sum_j p_j (v_jd - 128), out_mult).
 * Bounds (ranges.py): |score acc| <= hd 128 (128 + max|rel|), 2 M e + S and 2 S < 2^31, |p.v| <= 128 (M + pairs). */
#include "tm_arch.h"
#include "tm_round.h"
#include "tm_speech_kernels.h"

static void rel_row(const tm_rel_attention_args_t *a, int i, int32_t *row)
{
    int hd = a->d / a->heads, h = a->head, w = a->window;
    int lo = i - w + 1 > 0 ? i - w + 1 : 0, hi = i + w < a->n ? i + w : a->n; /* keys [lo, hi) */
    const uint8_t *q = a->q + (long)i * a->d + h * hd;
    const int32_t *lut = a->exp_lut + h * 256;
    int32_t top = 0;
    for (int j = lo; j < hi; j++) {
        const uint8_t *k = a->k + (long)j * a->d + h * hd;
        const int16_t *rel = a->rel_key + (long)(j - i + w - 1) * hd;
        int32_t acc = 0;
        for (int c = 0; c < hd; c++)
            acc += ((int32_t)q[c] - TM_ACT_ZERO_POINT) * ((int32_t)k[c] - TM_ACT_ZERO_POINT + rel[c]);
        row[j] = tm_requant(acc, a->score_mult[h]);
        if (row[j] > top)
            top = row[j];
    }
    int32_t total = 0;
    for (int j = lo; j < hi; j++) {
        row[j] = lut[top - row[j]];
        total += row[j];
    }
    int32_t twice_m = 2 * ((1 << a->prob_bits) - 1);
    for (int j = lo; j < hi; j++)
        row[j] = (twice_m * row[j] + total) / (2 * total);
    uint8_t *y = a->y + (long)i * a->d + h * hd;
    for (int c = 0; c < hd; c++) {
        int32_t acc = 0;
        for (int j = lo; j < hi; j++)
            acc += row[j] * ((int32_t)a->v[(long)j * a->d + h * hd + c] - TM_ACT_ZERO_POINT);
        y[c] = tm_requant(acc, a->out_mult[h]);
    }
}

static void rel_worker(void *arg)
{
    const tm_rel_attention_args_t *a = arg;
    int start, stop;
    tm_core_range(a->r0, a->r1, &start, &stop);
    int32_t *row = a->row + (long)tm_core_id() * a->n;
    for (int i = start; i < stop; i++)
        rel_row(a, i, row);
}

void tm_rel_attention_rows(tm_rel_attention_args_t *a, int head, int r0, int r1)
{
    a->head = head;
    a->r0 = r0;
    a->r1 = r1;
    tm_fork(rel_worker, a);
}
