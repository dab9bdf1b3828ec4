/* tm_round.h: the rounding and saturation helpers every kernel uses (numerics.py: round_half_even, saturate_u8).
 *
 * tm_rne(v)      round half to even in float32 with no libm: for |v| < 2^23, (v +- 2^23) -+ 2^23 rounds in the
 *                default IEEE mode (needs no -ffast-math, float evaluated in float: SSE or an FPU/soft-float, not x87);
 *                |v| >= 2^23, inf and NaN are already integral and pass through.
 * tm_sat_u8(r)   r integral -> code sat(r + 128): r <= -128 -> 0, r >= 127 -> 255, NaN -> 0 (QuantizeLinear).
 */
#ifndef TM_ROUND_H
#define TM_ROUND_H

#include <stdint.h>
#include "tm_numerics.h"

#define TM_RNE_MAGIC 8388608.0f /* 2^23 */

static inline float tm_rne(float v)
{
    float magic = v < 0.0f ? -TM_RNE_MAGIC : TM_RNE_MAGIC; /* selects, no branch: vectorisable */
    float r = (v + magic) - magic;
    return (v < TM_RNE_MAGIC && v > -TM_RNE_MAGIC) ? r : v;
}

static inline uint8_t tm_sat_u8(float r)
{
    float lo = (float)(-TM_ACT_ZERO_POINT), hi = (float)(255 - TM_ACT_ZERO_POINT);
    r = r > lo ? r : lo; /* NaN -> lo */
    r = r < hi ? r : hi;
    return (uint8_t)((int32_t)r + TM_ACT_ZERO_POINT);
}

/* int32 accumulator -> u8 code: sat(rne(f32(acc) * m) + 128); (float)acc rounds half to even above 2^24. */
#if defined(TM_PLATFORM_PULP_OPEN) && defined(TM_PULP_ZFINX)
/* PULP core with floats in integer registers (GVSoC pulp-open, PULP_FLOAT=zfinx): fcvt.s.w, fmul.s and fcvt.w.s
 * rounding to nearest even (.insn, see tm_xpulp.h), then the clamp; the same value as the C formula whenever the
 * multiplier is finite (a non-finite one takes the C formula: NaN must give code 0). */
static inline uint8_t tm_requant(int32_t acc, float multiplier)
{
    union { float f; uint32_t u; } m = {multiplier};
    if ((m.u & 0x7F800000u) == 0x7F800000u)
        return tm_sat_u8(tm_rne((float)acc * multiplier));
    float f, p;
    int32_t r;
    __asm__(".insn r 0x53, 0, 0x68, %0, %1, x0" : "=r"(f) : "r"(acc));         /* fcvt.s.w */
    __asm__(".insn r 0x53, 0, 0x08, %0, %1, %2" : "=r"(p) : "r"(f), "r"(m.f)); /* fmul.s */
    __asm__(".insn r 0x53, 0, 0x60, %0, %1, x0" : "=r"(r) : "r"(p));           /* fcvt.w.s, saturating */
    r = r < -TM_ACT_ZERO_POINT ? -TM_ACT_ZERO_POINT : r;
    r = r > 255 - TM_ACT_ZERO_POINT ? 255 - TM_ACT_ZERO_POINT : r;
    return (uint8_t)(r + TM_ACT_ZERO_POINT);
}
#elif defined(TM_PLATFORM_RV32) && !defined(__riscv_flen)
/* integer-only rv32: the same value in integer arithmetic (tm_rv32.h), instead of about 440 soft-float instructions */
#include "tm_rv32.h"
static inline uint8_t tm_requant(int32_t acc, float multiplier)
{
    int code = tm_rv32_requant_int(acc, multiplier);
    return code >= 0 ? (uint8_t)code : tm_sat_u8(tm_rne((float)acc * multiplier));
}
#else
static inline uint8_t tm_requant(int32_t acc, float multiplier)
{
    return tm_sat_u8(tm_rne((float)acc * multiplier));
}
#endif

/* numerics.round_shift / requantize_fixed: integer-only requantisation by a fixed-point multiplier M / 2^S
 * (2^30 <= M < 2^31, 1 <= S <= 62): code = sat(floor((acc * M + 2^(S-1)) / 2^S) + zp). The product is int64 (one
 * mul + mulh on rv32); >> on a negative int64 is an arithmetic shift with gcc (documented implementation-defined
 * behaviour; C23 makes it standard). */
static inline int64_t tm_round_shift64(int64_t a, int shift) { return (a + ((int64_t)1 << (shift - 1))) >> shift; }

/* For S >= 33 only the high word H = mulh(acc, M) of P = acc M = H 2^32 + L matters: floor((P + 2^(S-1)) / 2^S)
 * = floor((H + 2^(S-33) + L / 2^32) / 2^(S-32)) = (H + 2^(S-33)) >> (S-32), as 0 <= L / 2^32 < 1 cannot carry an
 * integer across a multiple of 2^(S-32). |H| < 2^30, so the sum stays in int32: mulh + add + sra on rv32.
 * tm_requant_fixed_high takes that form's constants, half = 2^(S-33) and t = S - 32 (the cluster's Linear epilogue,
 * tm_xpulp_linear_run, uses the same form with the zero point folded into half). */
static inline uint8_t tm_requant_fixed_high(int32_t acc, int32_t mult, int32_t half, int t, int zero_point)
{
    int32_t r = (((int32_t)(((int64_t)acc * mult) >> 32) + half) >> t) + zero_point;
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

static inline uint8_t tm_requant_fixed(int32_t acc, int32_t mult, int shift, int zero_point)
{
    if (shift >= 33)
        return tm_requant_fixed_high(acc, mult, (int32_t)1 << (shift - 33), shift - 32, zero_point);
    int64_t w = tm_round_shift64((int64_t)acc * mult, shift) + zero_point;
    int32_t r = (int32_t)(w < -1 ? -1 : w > 256 ? 256 : w);
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

/* Exact floor(n / d) for 0 <= n < 2^31 and 1 <= d < 2^31 by one multiply: the division by a row-invariant divisor
 * (softmax) becomes a 64-bit multiply and shift (Granlund-Montgomery: s = 31 + ceil(log2 d), m = ceil(2^s / d),
 * then m d - 2^s < d <= 2^(s-31), which makes (n m) >> s exact for every n < 2^31; m < 2^32, n m < 2^63). */
typedef struct {
    uint64_t mult;
    int shift;
} tm_divisor_t;

static inline tm_divisor_t tm_divisor(uint32_t d)
{
    int l = 0;
    while (((uint64_t)1 << l) < d)
        l++;
    tm_divisor_t r = {(((uint64_t)1 << (31 + l)) + d - 1) / d, 31 + l};
    return r;
}

static inline uint32_t tm_divide(uint32_t n, tm_divisor_t d) { return (uint32_t)(((uint64_t)n * d.mult) >> d.shift); }

#endif /* TM_ROUND_H */
