/* tm_kernels.h: the integer kernel library, one function per IR op kind (tinymyo_edge/ir/program.py).
 *
 * Dimension legend: C channels, T samples, P patches per channel, N = C*P tokens, K in features, M out features,
 * D dim, H hidden / heads, F head features, L interpolated length, R rows of a tile.
 * Activations are u8 codes (int8 + 128), weights s8, biases i32, multipliers/gains f32 (single float operations).
 * Every kernel splits its range over the cluster cores with tm_fork (tm_arch.h); callers pass a tile range.
 */
#ifndef TM_KERNELS_H
#define TM_KERNELS_H

#include <stdint.h>

/* QuantizeInput: y = sat(rne(x / scale) + 128), NaN -> 0. Elements [start, end). */
typedef struct {
    const float *x; /* (C*T) */
    uint8_t *y;     /* (C*T) */
    float scale;
    int start, end;
} tm_quantize_args_t;
void tm_quantize(const tm_quantize_args_t *a);

/* Linear (+ optional fused table): acc = bias_folded[m] + sum_k x[r,k] w[m,k];
 * y = table[tm_requant_fixed(acc, rq[2m], rq[2m+1], zero_point)] (integer only: round_shift(acc * M, S) + zp).
 * bias_folded = bias - 128 sum_k w[m,k] (folded offline: x is used as u8). Tile rows [r0,r1) x columns [m0,m1). */
typedef struct {
    const uint8_t *x;        /* (R, K) */
    const int8_t *w;         /* (M, K) */
    const int32_t *bias;     /* (M) zero point folded */
    const int32_t *rq;       /* (M, 2): fixed-point multiplier M, shift S per column */
    const uint8_t *table;    /* (256) or NULL */
    uint8_t *y;              /* (R, M) */
    int zero_point;          /* output zero point (0..255) */
    int k, m;
    int r0, r1, m0, m1;
} tm_linear_args_t;
void tm_linear(const tm_linear_args_t *a);

/* LinearDequant: y[r,m] = f32(bias_folded[m] + sum_k x[r,k] w[m,k]) * scale[m]. */
typedef struct {
    const uint8_t *x;     /* (R, K) */
    const int8_t *w;      /* (M, K) */
    const int32_t *bias;  /* (M) zero point folded */
    const float *scale;   /* (M) */
    float *y;             /* (R, M) */
    int k, m;
    int r0, r1, m0, m1;
} tm_linear_dequant_args_t;
void tm_linear_dequant(const tm_linear_dequant_args_t *a);

/* Lut: y[i] = table[x[i]], elements [start, end). */
typedef struct {
    const uint8_t *x;     /* (count) */
    const uint8_t *table; /* (256) */
    uint8_t *y;           /* (count) */
    int start, end;
} tm_lut_args_t;
void tm_lut(const tm_lut_args_t *a);

/* LayerNorm over D, integer only (numerics.layernorm_fixed): s = sum x, var = D sum x^2 - s^2, sd = max(1, isqrt(var)),
 * R = floor(2^K / sd) per row; n = round_shift((D x - s) R, K - F); y = sat(((n gain + bias_half) >> shift) + zp),
 * bias_half = bias + 2^(shift - 1). Rows [r0, r1). */
typedef struct {
    const uint8_t *x;          /* (R, D) */
    const int32_t *gain;       /* (D) */
    const int32_t *bias_half;  /* (D) */
    const int32_t *shift;      /* (D) */
    uint8_t *y;                /* (R, D) */
    int d;
    int recip_bits, frac_bits; /* K, F */
    int zero_point;            /* of y */
    int r0, r1;
} tm_layernorm_args_t;
void tm_layernorm(const tm_layernorm_args_t *a);

/* ResidualAdd, integer only (numerics.residual_fixed): y = sat(((a mult_a + b mult_b + offset) >> shift) + zero_y),
 * offset = 2^(shift-1) - zero_a mult_a - zero_b mult_b. Elements [start, end). */
typedef struct {
    const uint8_t *a, *b; /* (count) each */
    uint8_t *y;           /* (count) */
    int32_t mult_a, mult_b, offset;
    int shift, zero_y;
    int start, end;
} tm_residual_args_t;
void tm_residual_add(const tm_residual_args_t *a);

/* Attention on L1 tiles. network.c hands over one head (d = hd, heads = 1, head = 0 and the head's tables), one block
 * of query rows [r0, r1) of q / y, and K then V in chunks of at most kc keys. Two softmaxes (ir.Attention.softmax):
 * deferred (numerics.attention_deferred_head), integer only:
 *   t = round_shift(sum_d (q-128)(k-128) * M, S) (int16 score rows);  e = lut8[min(rowmax - t, 255)] (u8, in place
 *   over the score row), s = sum e;  r = (2 Mo + s) / (2 s) once per row;  y = sat(round_shift(sum_j e (v-128) * r,
 *   So) + 128);
 * normalized: s = requant(sum_d (q-128)(k-128), score_mult[h]);  p = softmax_int(s, exp_lut[h], M), M =
 *   2^prob_bits - 1 (scale 1/M; prob_bits 8: u8 rows; 9..TM_PROB_BITS_MAX: uint16 rows);  y = requant(sum_j p (v-128)).
 * tm_attention_keys(a, j0, j1): scores of the block against keys [j0, j1) (k holds those rows) into the score rows;
 * tm_attention_softmax(a): the block's score rows (all N keys present) -> numerators / probabilities, in place;
 * tm_attention_values(a, j0, j1): acc += e|p . v over values [j0, j1) (v holds those rows); j1 == n: y from acc.
 * tm_attention_values_prepare(a): deferred with the head's V resident (e set): kv_s8 = (v - 128)^T of all N values
 *   (v holds them), once per head; tm_attention_values(a, 0, n) then reads it for every block of the head.
 * Only a chunk's int32 score accumulators live (row_i32), so L1 does not grow with N * hd. */
#define TM_ATTN_ROWS 4 /* query rows a core handles at once (memory/scratch.py reads this) */
#define TM_PROB_BITS_MAX 16 /* widest softmax probabilities the kernel holds (passes/check.py reads this) */
typedef struct {
    const uint8_t *q, *k, *v;   /* q: block rows; k, v: chunk rows from j0; d is their leading dimension */
    uint8_t *y;                 /* block rows, leading dimension d */
    const float *score_mult;    /* normalized: (heads) */
    const float *out_mult;      /* normalized: (heads) */
    const int32_t *exp_lut;     /* normalized: (heads, 256) */
    const int32_t *score_fixed; /* deferred: (heads, 2) M, S of the integer scores */
    const int32_t *out_fixed;   /* deferred: (heads, 2) Mo, So */
    const uint8_t *exp_lut8;    /* deferred: (heads, 256) */
    int8_t *kv_s8;              /* scratch (kc, hd): k - 128 of the chunk (normalized); u8 rows: (hd, kc) (v - 128)^T */
    int32_t *k_sum;             /* normalized scratch (kc): sum_d (k - 128) of the chunk's keys */
    uint8_t *p;                 /* scratch (rows, N): scores then probabilities, u8 (prob_bits 8) or uint16; deferred:
                                 * int16 scores, row stride 2 N bytes, then the u8 numerators at the row's start */
    int32_t *row_sum;           /* deferred scratch (rows): s, the numerator sum of each row */
    int8_t *q_s8;               /* deferred (rows, hd): q - 128 of the block, in place over q (the keys stay u8) */
    int32_t *q_sum;             /* deferred scratch (rows): sum_d (q - 128) of each row */
    int32_t *row_i32;           /* normalized scratch (TM_NUM_CORES, TM_ATTN_ROWS, kc): a chunk's score sums */
    int32_t *acc;               /* scratch (rows, hd): p . v accumulators of the block (mod 2^32) */
    int n, d, heads, kc;
    int prob_bits;              /* normalized: 8..TM_PROB_BITS_MAX (ir.Attention.prob_bits) */
    int deferred;               /* 1: the deferred softmax */
    int values_in_rows;         /* deferred: the numerators in the score rows' second halves, the chunk's
                                 * (v - 128)^T in their first halves (cols 4c..4c+3 in row c; kv_s8 unused) */
    uint8_t *e;                 /* deferred, the head's K and V resident (or NULL): the block's u8 numerators,
                                 * (rows, N), row stride N (the stride of (v - 128)^T's columns: one 4 x 4 register
                                 * block over all N keys); kv_s8 then holds (v - 128)^T of all N values, prepared
                                 * once per head by tm_attention_values_prepare */
    int head, r0, r1, j0, j1;   /* r0, r1: the block's rows; j0, j1: set by the calls below */
} tm_attention_args_t;
void tm_attention_keys(tm_attention_args_t *a, int j0, int j1);
void tm_attention_softmax(tm_attention_args_t *a);
void tm_attention_values(tm_attention_args_t *a, int j0, int j1);
void tm_attention_values_prepare(tm_attention_args_t *a);

/* TokenMean: x (C*P, D); "concat" (per_channel = 1): acc[c*D+d] = sum_p (x[c*P+p, d] - 128), F = C*D;
 * "mean": acc[d] = sum_n (x[n, d] - 128), F = D.  y = requant(acc, mult). Streamed in token tiles:
 * accumulate adds the tile of tokens [n0, n0 + tokens) (any range, it may cross channels) into acc (first: acc
 * starts at 0); requant writes y from acc after the last tile. */
typedef struct {
    const uint8_t *x; /* the tile's tokens (tokens, D) */
    int32_t *acc;     /* (F) accumulators, resident across tiles */
    uint8_t *y;       /* (1, F) */
    int32_t mult;     /* y = tm_requant_fixed(acc, mult, shift, 128) */
    int shift;
    int patches, d, per_channel, features;
    int n0, tokens, first;
} tm_token_mean_args_t;
void tm_token_mean_accumulate(const tm_token_mean_args_t *a);
void tm_token_mean_requant(const tm_token_mean_args_t *a);

/* PatchFeatures: x (C*P, D) -> y (P, F). "concat": y[p, c*D+d] = x[c*P+p, d];
 * "mean": y[p, d] = requant_fixed(sum_c (x[c*P+p, d] - 128), mult, shift). Patches [p0, p1). */
typedef struct {
    const uint8_t *x; /* (C*P, D): patches is the channel blocks' length (the tile's patch count in L1) */
    uint8_t *y;       /* (P, F) */
    int32_t mult;     /* "mean": y = tm_requant_fixed(sum, mult, shift, 128) */
    int shift;
    int channels, patches, d, per_channel;
    int p0, p1;
} tm_patch_features_args_t;
void tm_patch_features(const tm_patch_features_args_t *a);

/* DepthwiseConv1d, kernel 3, zero padding (code 128), optional fused table:
 * acc[p,h] = bias[h] + sum_j w[h,j] (x[p+j-1,h] - 128); y = table[requant_fixed(acc, M[h], S[h])]. Rows [p0, p1) of P;
 * x holds rows [x0, min(p1 + 1, P)) (the tile and its halo), y rows [p0, p1). */
typedef struct {
    const uint8_t *x;     /* (rows from x0, H) */
    const int8_t *w;      /* (H, 3) */
    const int32_t *bias;  /* (H) */
    const int32_t *rq;    /* (H, 2): fixed-point multiplier M, shift S per channel */
    const uint8_t *table; /* (256) or NULL */
    uint8_t *y;           /* (p1 - p0, H) */
    int p, h;
    int x0, p0, p1;
} tm_depthwise_args_t;
void tm_depthwise_conv1d(const tm_depthwise_args_t *a);

/* Interpolate (linear): y[l, k] = x[i0[l], k] * w0[l] + x[i1[l], k] * w1[l] (float32, no FMA). Rows [l0, l1). */
typedef struct {
    const float *x;     /* (P, K) */
    const int32_t *i0;  /* (L) */
    const int32_t *i1;  /* (L) */
    const float *w0;    /* (L) */
    const float *w1;    /* (L) */
    float *y;           /* (L, K) */
    int k;
    int l0, l1;
} tm_interpolate_args_t;
void tm_interpolate(const tm_interpolate_args_t *a);

#include "tm_speech_kernels.h" /* the speech family (issue 16) */

#endif /* TM_KERNELS_H */
