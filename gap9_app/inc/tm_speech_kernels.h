/* tm_speech_kernels.h: kernels of the speech family (issue 16): Transpose, Conv1d, RelativeAttention, CTC decoding.
 * Same contract as tm_kernels.h: pure compute on the pointers and dimensions given, ranges split over the cores
 * with tm_fork; integer-only except the single float requantisation steps (tm_round.h). */
#ifndef TM_SPEECH_KERNELS_H
#define TM_SPEECH_KERNELS_H

#include <stdint.h>

/* Transpose: y[c, r] = x[r, c] for x (R, C). Output rows [c0, c1). */
typedef struct {
    const uint8_t *x; /* (R, C) */
    uint8_t *y;       /* (C, R) */
    int r, c;
    int c0, c1;
} tm_transpose_args_t;
void tm_transpose_u8(const tm_transpose_args_t *a);

/* Conv1d, time-major: acc[t, m] = bias[m] + sum_j sum_c w[m, j, c] (x[t*stride + j - padding, c] - 128)
 * (taps outside 0..T-1 are the real zero: skipped); y = tm_requant_fixed(acc, rq[2m], rq[2m+1], 128).
 * Output rows [t0, t1) x channels [m0, m1). */
typedef struct {
    const uint8_t *x;    /* (T, Cin) */
    const int8_t *w;     /* (m1 - m0, k, Cin): the weights of channels [m0, m1) (one L3 -> L2 slab) */
    const int32_t *bias;    /* (M) */
    const int32_t *tap_sum; /* (M, k): 128 sum_c w[m, j, c] */
    const int32_t *rq;      /* (M, 2): fixed-point multiplier M, shift S per channel */
    uint8_t *y;             /* (T', M) */
    int t, cin, m, k, stride, padding;
    int t0, t1, m0, m1;
} tm_conv1d_args_t;
void tm_conv1d(const tm_conv1d_args_t *a);

/* RelativeAttention, heads side by side in D; head h, query row i, keys j with |j - i| < window:
 *   s = requant(sum_d (q[i]-128) (k[j]-128 + rel_key[h, j-i+W-1, d]), score_mult[h])
 *   p = (2 M e + S) / (2 S), e = exp_lut[h][max_j s - s], S = sum_j e, M = 2^prob_bits - 1 (other keys: p = 0)
 *   y[i] = requant(sum_j p (v[j]-128), out_mult[h]).   Rows [r0, r1) of head `head`. */
typedef struct {
    const uint8_t *q, *k, *v;   /* (N, D) each */
    uint8_t *y;                 /* (N, D) */
    const float *score_mult;    /* (heads) */
    const float *out_mult;      /* (heads) */
    const int32_t *exp_lut;     /* (heads, 256) */
    const int16_t *rel_key;     /* (2W - 1, hd): the relative keys of head `head` (one L3 -> L2 slab) */
    int32_t *row;               /* scratch (TM_NUM_CORES, N): scores, then exp values, of the core's row */
    int n, d, heads, window, prob_bits;
    int head, r0, r1;
} tm_rel_attention_args_t;
void tm_rel_attention_rows(tm_rel_attention_args_t *a, int head, int r0, int r1);

/* Greedy CTC decoding of float logits (N, V): per frame the first index of the largest value (as numpy argmax),
 * repeats collapsed, the blank dropped, indices mapped through `alphabet` (V - 1 characters, blank excluded).
 * Writes at most cap - 1 characters and a terminating 0 into text; returns the number of characters. */
int tm_ctc_greedy(const float *logits, int n, int v, int blank, const char *alphabet, char *text, int cap);

#endif /* TM_SPEECH_KERNELS_H */
