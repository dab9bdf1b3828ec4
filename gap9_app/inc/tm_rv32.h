/* tm_rv32.h: the 4 x 4 dot-product block for a plain scalar RISC-V core (platform=rv32: rv32imc / rv32imfc, no
 * SIMD, no hardware loops), included by tm_arch.h when TM_PLATFORM_RV32 is defined.
 *
 * Same contract as the portable block: out[4*i + j] = sum_t a_i[t] * b_j[t] over n, exact int32. All 16 sums are
 * register accumulators: per step t, 4 loads of a, 4 loads of b and 16 multiply-adds (2.5 instructions per MAC),
 * and the loop is unrolled 4 times so that the 8 row pointers advance once per 4 steps (byte loads with immediate
 * offsets). Byte loads (lbu / lb) beat word loads here: unpacking a word costs at least one instruction a byte. */
#ifndef TM_RV32_H
#define TM_RV32_H

#include <stdint.h>

#include "tm_numerics.h" /* TM_ACT_ZERO_POINT */

/* One step t of a 4 x 2 block: 4 loads of a, 2 of b, 8 multiply-adds; o is the byte offset from the row pointers.
 * The empty asm keeps gcc from hoisting the loads of later steps (more live values than registers: spills). */
#define TM_RV32_STEP(o)                                                                                           \
    do {                                                                                                          \
        int32_t x0 = a0[o], x1 = a1[o], x2 = a2[o], x3 = a3[o], w;                                                \
        w = b0[o], c00 += x0 * w, c10 += x1 * w, c20 += x2 * w, c30 += x3 * w;                                    \
        w = b1[o], c01 += x0 * w, c11 += x1 * w, c21 += x2 * w, c31 += x3 * w;                                    \
        __asm__ volatile("" ::: "memory");                                                                        \
    } while (0)

/* out[4*i + j] and out[4*i + j + 1] (i < 4) for b rows b and b + b_stride. */
static inline void tm_rv32_dot_4x2(const uint8_t *a, long a_stride, const int8_t *b, long b_stride, int n,
                                   int32_t *out)
{
    const uint8_t *a0 = a, *a1 = a0 + a_stride, *a2 = a1 + a_stride, *a3 = a2 + a_stride;
    const int8_t *b0 = b, *b1 = b0 + b_stride;
    const uint8_t *end4 = a0 + (n & ~3), *end = a0 + n;
    int32_t c00 = 0, c01 = 0, c10 = 0, c11 = 0, c20 = 0, c21 = 0, c30 = 0, c31 = 0;
    while (a0 != end4) {
        TM_RV32_STEP(0);
        TM_RV32_STEP(1);
        TM_RV32_STEP(2);
        TM_RV32_STEP(3);
        a0 += 4, a1 += 4, a2 += 4, a3 += 4, b0 += 4, b1 += 4;
    }
    for (; a0 != end; a0++, a1++, a2++, a3++, b0++, b1++)
        TM_RV32_STEP(0);
    out[0] = c00, out[1] = c01, out[4] = c10, out[5] = c11, out[8] = c20, out[9] = c21, out[12] = c30;
    out[13] = c31;
}
#undef TM_RV32_STEP

/* Two 4 x 2 blocks: 16 accumulators, 8 row pointers and the loaded values would need more than rv32's 28 free
 * registers, and gcc's spills cost more than loading the a rows twice. */
static inline void tm_dot_u8s8_4x4(const uint8_t *a, long a_stride, const int8_t *b, long b_stride, int n,
                                   int32_t out[16])
{
    tm_rv32_dot_4x2(a, a_stride, b, b_stride, n, out);
    tm_rv32_dot_4x2(a, a_stride, b + 2 * b_stride, b_stride, n, out + 2);
}

/* ---- packed a operand: kernels that reuse 4 a rows for many blocks interleave them once ------------------------ */
#define TM_HAVE_PACKED_ROWS 1
#define TM_HAVE_RV32_FIXED 1 /* exact fixed-point ResidualAdd terms (tm_rv32_residual_table) */
#define TM_PACKED_ROWS_MAX 4096 /* elements of a caller's stack buffer: rows of up to 1024 */

/* tm_rv32.c (assembly): out[4i + j] = sum_t ap[4t + i] * b[j * b_stride + t] over 4 * n4 steps, n4 >= 1. */
void tm_rv32_dot_4x4_packed(const uint8_t *ap, const int8_t *b, long b_stride, int n4, int32_t out[16]);

#if defined(__riscv_flen) && __riscv_flen >= 32
/* The FPU build (rv32imfc) accumulates in float32 with fmadd.s: 1.75 instructions per MAC against the integer
 * block's 2.5 (the multiply and the add in one instruction; the packed a rows converted once). Exact: a in [0, 255]
 * and b in [-128, 127] give |products| <= 32640, so any partial sum of up to 514 steps is an integer below
 * 2^24 = 16777216, which float32 holds exactly (every fmadd.s result is then exact, whatever the rounding mode).
 * Longer sums run in chunks of TM_RV32_FMA_STEPS steps, each converted to int32 and added. */
#define TM_RV32_FMA 1
#define TM_RV32_FMA_STEPS 512
typedef float tm_packed_t;
/* tm_rv32.c (assembly): tm_rv32_dot_4x4_packed over float32 a rows, n4 in [1, TM_RV32_FMA_STEPS / 4]. */
void tm_rv32_dot_4x4_fma(const float *ap, const int8_t *b, long b_stride, int n4, int32_t out[16]);
#else
typedef uint8_t tm_packed_t;
#endif

/* ap[4t + i] = a[i * a_stride + t] for i < 4, t < n. */
static inline void tm_pack_rows4(const uint8_t *a, long a_stride, int n, tm_packed_t *ap)
{
    const uint8_t *a0 = a, *a1 = a0 + a_stride, *a2 = a1 + a_stride, *a3 = a2 + a_stride;
    for (int t = 0; t < n; t++, ap += 4)
        ap[0] = a0[t], ap[1] = a1[t], ap[2] = a2[t], ap[3] = a3[t];
}

/* out[4i + j] = sum_t ap[4t + i] * b[j * b_stride + t] over the first 4 * n4 steps, n4 >= 1. */
static inline void tm_dot_4x4_packed_steps(const tm_packed_t *ap, const int8_t *b, long b_stride, int n4,
                                           int32_t out[16])
{
#if defined(TM_RV32_FMA)
    int chunk = TM_RV32_FMA_STEPS / 4;
    tm_rv32_dot_4x4_fma(ap, b, b_stride, n4 < chunk ? n4 : chunk, out);
    for (int s = chunk; s < n4; s += chunk) {
        int32_t part[16];
        tm_rv32_dot_4x4_fma(ap + 16 * s, b + 4 * s, b_stride, n4 - s < chunk ? n4 - s : chunk, part);
        for (int i = 0; i < 16; i++)
            out[i] += part[i];
    }
#else
    tm_rv32_dot_4x4_packed(ap, b, b_stride, n4, out);
#endif
}

/* tm_dot_u8s8_4x4 with the a rows packed by tm_pack_rows4 (any n). */
static inline void tm_dot_u8s8_4x4_packed(const tm_packed_t *ap, const int8_t *b, long b_stride, int n,
                                          int32_t out[16])
{
    int n4 = n / 4;
    if (n4 > 0)
        tm_dot_4x4_packed_steps(ap, b, b_stride, n4, out);
    else
        for (int i = 0; i < 16; i++)
            out[i] = 0;
    for (int t = 4 * n4; t < n; t++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                out[4 * i + j] += (int32_t)ap[4 * t + i] * b[j * b_stride + t];
}

/* ---- integer-only rv32 (soft float): the requantisation sat(rne(f32(acc) * m) + 128) without float calls ---------
 * The float32 steps emulated exactly: with |acc| < 2^24 (f32(acc) exact) and m normal, the product's magnitude is
 * X * 2^e, X = |acc| * significand(m) < 2^48, e = exponent(m) - 150; the float32 product is RNE of X to 24
 * significant bits, Y * 2^(e + s) (s = bitlen(X) - 24); its integer rounding is RNE of Y / 2^sh, sh = -(e + s), and
 * the clamp to [-128, 127] follows. Any |product| >= 2^23 saturates (as the float path does, inf included).
 * Returns the code, or -1 for the cases left to the float formula (m zero, subnormal, inf or NaN; |acc| >= 2^24). */
static inline int tm_rv32_requant_int(int32_t acc, float multiplier)
{
    union { float f; uint32_t u; } m = {multiplier};
    uint32_t exp = (m.u >> 23) & 0xFFu, a = acc < 0 ? 0u - (uint32_t)acc : (uint32_t)acc;
    if (exp == 0 || exp == 0xFFu || a >= (1u << 24))
        return -1;
    if (a == 0)
        return TM_ACT_ZERO_POINT;
    int negative = (acc < 0) != (int)(m.u >> 31);
    uint64_t x = (uint64_t)a * ((m.u & 0x7FFFFFu) | 0x800000u);
    int bits = 32 - __builtin_clz(a) + 23; /* bitlen(x) is this or one more */
    bits += (x >> bits) != 0;
    int s = bits - 24, sh = 174 - (int)exp - bits; /* -(e + s) */
    uint32_t r;
    if (sh <= 0) {
        r = 255u; /* >= 2^23: saturates */
    } else if (sh >= 25) {
        r = 0u; /* Y <= 2^24: below or at 0.5 (a tie to 0) */
    } else {
        uint32_t y = (uint32_t)(s > 0 ? (x + ((1ull << (s - 1)) - 1u) + ((x >> s) & 1u)) >> s : x); /* RNE 24 bits */
        r = (y + ((1u << (sh - 1)) - 1u) + ((y >> sh) & 1u)) >> sh;                                 /* RNE integer */
    }
    if (negative)
        return TM_ACT_ZERO_POINT - (int)(r < 128u ? r : 128u);
    return TM_ACT_ZERO_POINT + (int)(r < 127u ? r : 127u);
}

/* ---- integer-only rv32: ResidualAdd's float32 sum and roundings in integers -------------------------------------
 * Every float32 term (f32(a) - 128) * s of a layer is one of 256 values per input: they are computed once (float
 * formula) and converted exactly to fixed point v * 2^-q (int64, common q); the float32 sum of two terms is then
 * RNE to 24 significant bits of the exact integer sum, followed by the RNE to an integer and the clamp, as in
 * tm_rv32_requant_int. */
typedef struct {
    int64_t a[256], b[256];
    int q;
} tm_rv32_residual_table_t;

/* 1 when every term is zero or normal and their binary exponents span at most 37 bits (sums exact in int64). */
static inline int tm_rv32_residual_table(float sa, float sb, tm_rv32_residual_table_t *t)
{
    float zp = (float)TM_ACT_ZERO_POINT;
    int lo = 1000, hi = -1000;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < 512; i++) {
            union { float f; uint32_t u; } v = {((float)(i & 255) - zp) * (i < 256 ? sa : sb)};
            uint32_t ex = (v.u >> 23) & 0xFFu;
            if ((v.u & 0x7FFFFFFFu) == 0) { /* zero */
                (i < 256 ? t->a : t->b)[i & 255] = 0;
                continue;
            }
            if (ex == 0 || ex == 0xFFu)
                return 0;
            int e = (int)ex - 150;
            if (pass == 0) {
                lo = e < lo ? e : lo, hi = e > hi ? e : hi;
                continue;
            }
            int64_t m = (int64_t)((v.u & 0x7FFFFFu) | 0x800000u) << (e - lo);
            (i < 256 ? t->a : t->b)[i & 255] = (v.u >> 31) ? -m : m;
        }
    if (hi - lo > 37)
        return 0;
    t->q = -lo;
    return 1;
}

/* sat(rne(f32(v * 2^-q)) + 128) for |v| < 2^62. */
static inline uint8_t tm_rv32_fixed_code(int64_t v, int q)
{
    if (v == 0)
        return TM_ACT_ZERO_POINT;
    uint64_t x = v < 0 ? 0u - (uint64_t)v : (uint64_t)v;
    int bits = 64 - __builtin_clzll(x), s = bits > 24 ? bits - 24 : 0, sh = q - s;
    uint32_t y = (uint32_t)(s > 0 ? (x + ((1ull << (s - 1)) - 1u) + ((x >> s) & 1u)) >> s : x); /* RNE 24 bits */
    uint32_t r;
    if (sh <= 0)
        r = -sh >= 8 ? 256u : y << -sh; /* y <= 2^24 */
    else if (sh >= 25)
        r = 0u;
    else
        r = (y + ((1u << (sh - 1)) - 1u) + ((y >> sh) & 1u)) >> sh;
    if (v < 0)
        return (uint8_t)(TM_ACT_ZERO_POINT - (int)(r < 128u ? r : 128u));
    return (uint8_t)(TM_ACT_ZERO_POINT + (int)(r < 127u ? r : 127u));
}

#endif /* TM_RV32_H */
