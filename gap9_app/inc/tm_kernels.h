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

/* Linear (+ optional fused table): acc = bias_folded[m] + sum_k x[r,k] w[m,k];  y = table[requant(acc, mult[m])].
 * bias_folded = bias - 128 sum_k w[m,k] (folded offline: x is used as u8). Tile rows [r0,r1) x columns [m0,m1). */
typedef struct {
    const uint8_t *x;        /* (R, K) */
    const int8_t *w;         /* (M, K) */
    const int32_t *bias;     /* (M) zero point folded */
    const float *mult;       /* (M) */
    const uint8_t *table;    /* (256) or NULL */
    uint8_t *y;              /* (R, M) */
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

/* LayerNorm over D: c = D x - sum(x); var = sum(c^2) / D (int64); sd = max(1, isqrt(var));
 * n = (c << LN_FRAC_BITS) / sd (truncating, int32); y = sat(rne(f32(n) * gain + bias) + 128). Rows [r0, r1). */
typedef struct {
    const uint8_t *x;    /* (R, D) */
    const float *gain;   /* (D) */
    const float *bias;   /* (D) */
    uint8_t *y;          /* (R, D) */
    int d;
    int r0, r1;
} tm_layernorm_args_t;
void tm_layernorm(const tm_layernorm_args_t *a);

/* ResidualAdd: y = sat(rne((f32(a)-128) sa + (f32(b)-128) sb) + 128), three float ops, no FMA. [start, end). */
typedef struct {
    const uint8_t *a, *b; /* (count) each */
    uint8_t *y;           /* (count) */
    float scale_a, scale_b;
    int start, end;
} tm_residual_args_t;
void tm_residual_add(const tm_residual_args_t *a);

/* Attention, heads side by side in D. Per head h (hd = D / heads columns; network.c hands over one head's L1 tiles
 * with d = hd, heads = 1, head = 0 and the head's tables):
 *   s = requant(sum_d (q-128)(k-128), score_mult[h]);  p = softmax_int(s, exp_lut[h], M), M = 2^prob_bits - 1
 *   (scale 1/M; prob_bits 8: u8, the fast path; 9..TM_PROB_BITS_MAX: uint16 rows in row_i32, scalar loops);
 *   y = requant(sum_j p (v-128), out_mult[h]).
 * tm_attention_prepare(a, h, j0, j1) fills the per-head scratch for tokens [j0, j1) (k, v: those rows; all cores);
 * tm_attention_rows(a, h, r0, r1) computes query rows [r0, r1) of head h (a row block: the unit of L1 tiling). */
#define TM_ATTN_ROWS 4 /* query rows a core handles at once (memory/scratch.py reads this) */
#define TM_PROB_BITS_MAX 16 /* widest softmax probabilities the kernel holds (passes/check.py reads this) */
typedef struct {
    const uint8_t *q, *k, *v;   /* (N, D) each; d is their leading dimension (k, v: rows from j0) */
    uint8_t *y;                 /* (N, D) */
    const float *score_mult;    /* (heads) */
    const float *out_mult;      /* (heads) */
    const int32_t *exp_lut;     /* (heads, 256) */
    int8_t *k_s8;               /* scratch (N, hd): k - 128 of the head */
    int8_t *v_t;                /* scratch (hd, N): (v - 128) transposed; prob_bits > 8: v as (N, hd) u8 */
    int32_t *k_sum;             /* scratch (N): sum_d (k - 128) */
    uint8_t *row_u8;            /* scratch (TM_NUM_CORES, TM_ATTN_ROWS, N): scores, then probabilities */
    int32_t *row_i32;           /* scratch (TM_NUM_CORES, TM_ATTN_ROWS, N): score accumulators, exp values */
    int n, d, heads;
    int prob_bits;              /* 8..TM_PROB_BITS_MAX (ir.Attention.prob_bits) */
    int head, r0, r1, j0, j1;   /* set by the calls below */
} tm_attention_args_t;
void tm_attention_prepare(tm_attention_args_t *a, int head, int j0, int j1);
void tm_attention_rows(tm_attention_args_t *a, int head, int r0, int r1);

/* TokenMean: x (C*P, D); "concat" (per_channel = 1): acc[c*D+d] = sum_p (x[c*P+p, d] - 128), F = C*D;
 * "mean": acc[d] = sum_n (x[n, d] - 128), F = D.  y = requant(acc, mult). Features [f0, f1). */
typedef struct {
    const uint8_t *x; /* (C*P, D) */
    uint8_t *y;       /* (1, F) */
    float mult;
    int channels, patches, d, per_channel;
    int f0, f1;
} tm_token_mean_args_t;
void tm_token_mean(const tm_token_mean_args_t *a);

/* PatchFeatures: x (C*P, D) -> y (P, F). "concat": y[p, c*D+d] = x[c*P+p, d];
 * "mean": y[p, d] = requant(sum_c (x[c*P+p, d] - 128), mult). Patches [p0, p1). */
typedef struct {
    const uint8_t *x; /* (C*P, D): patches is the channel blocks' length (the tile's patch count in L1) */
    uint8_t *y;       /* (P, F) */
    float mult;
    int channels, patches, d, per_channel;
    int p0, p1;
} tm_patch_features_args_t;
void tm_patch_features(const tm_patch_features_args_t *a);

/* DepthwiseConv1d, kernel 3, zero padding (code 128), optional fused table:
 * acc[p,h] = bias[h] + sum_j w[h,j] (x[p+j-1,h] - 128); y = table[requant(acc, mult[h])]. Rows [p0, p1) of P;
 * x holds rows [x0, min(p1 + 1, P)) (the tile and its halo), y rows [p0, p1). */
typedef struct {
    const uint8_t *x;     /* (rows from x0, H) */
    const int8_t *w;      /* (H, 3) */
    const int32_t *bias;  /* (H) */
    const float *mult;    /* (H) */
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
