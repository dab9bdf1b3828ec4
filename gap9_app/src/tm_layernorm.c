/* LayerNorm over D, integer only (numerics.layernorm_fixed; ir.LayerNorm):
 *   s = sum x, q = sum x^2 (uint32: D 255^2 < 2^31, ranges.py);  var = D q - s^2 (int64, = sum(c^2) / D exactly);
 *   sd = max(1, isqrt(var));  R = floor(2^K / sd)                        one division per row
 *   n = round_shift(c R, K - F), c = D x - s                             |c R| + 2^(K-F-1) < 2^31 (ranges.py)
 *   y = sat(round_shift(n G[i] + B[i], S[i]) + zp)                       |n G + B| + 2^(S-1) < 2^31 (ranges.py)
 * Per element: c R + 2^(K-F-1) = x (D R) + (2^(K-F-1) - s R) is formed in uint32 (wrapping): its true value is in
 * int32 range, so the wrapped sum converted back is exact. bias_half[i] = B[i] + 2^(S[i]-1) (codegen/lowering.py).
 * >> on a negative int32 is an arithmetic shift with gcc (implementation-defined, documented; C23 standard). */
#include "tm_arch.h"
#include "tm_check.h"
#include "tm_kernels.h"
#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
#include "tm_xpulp_norm.h"
#endif

/* floor(sqrt(v)) bit by bit in `type` words, the top candidate bit 2^top: exact for every value of the type (no
 * float, no libm) */
#define TM_DEFINE_ISQRT(name, type, top)                                                                           \
    static uint32_t name(type v)                                                                                   \
    {                                                                                                             \
        type root = 0, bit = (type)1 << (top);                                                                     \
        while (bit > v)                                                                                           \
            bit >>= 2;                                                                                            \
        for (; bit; bit >>= 2) {                                                                                  \
            if (v >= root + bit) {                                                                                \
                v -= root + bit;                                                                                  \
                root = (root >> 1) + bit;                                                                         \
            } else {                                                                                              \
                root >>= 1;                                                                                       \
            }                                                                                                     \
        }                                                                                                         \
        return (uint32_t)root;                                                                                    \
    }
TM_DEFINE_ISQRT(isqrt_u32, uint32_t, 30)
TM_DEFINE_ISQRT(isqrt_u64_bits, uint64_t, 62)

/* floor(sqrt(v)) for every uint64: in 32-bit words for the usual LayerNorm row (D q - s^2 < 2^32), whose 64-bit loop
 * costs about twice as much on rv32 */
static uint32_t isqrt_u64(uint64_t v) { return (v >> 32) == 0 ? isqrt_u32((uint32_t)v) : isqrt_u64_bits(v); }

/* sum x and sum x^2 of a row */
static void row_moments(const uint8_t *x, int d, uint32_t *sum, uint32_t *sq)
{
    uint32_t s = 0, q = 0;
    int i = 0;
#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
    if (((uintptr_t)x & 3u) == 0u && d >= 8) { /* 8 codes a step: u8 x u8 dot products (tm_xpulp_norm.h) */
        tm_xpulp_moments_pairs(x, d >> 3, &s, &q);
        i = d & ~7;
    }
#endif
    for (; i < d; i++) {
        s += x[i];
        q += (uint32_t)x[i] * x[i];
    }
    *sum = s;
    *sq = q;
}

static void layernorm_row(const tm_layernorm_args_t *a, const uint8_t *x, uint8_t *y)
{
    const int d = a->d, k = a->recip_bits, f = a->frac_bits, zp = a->zero_point;
    const int32_t *gain = a->gain, *bias_half = a->bias_half, *shift = a->shift;
    uint32_t s, q;
    row_moments(x, d, &s, &q);
    uint64_t var = (uint64_t)d * q - (uint64_t)s * s; /* >= 0: Cauchy-Schwarz */
    uint32_t sd = isqrt_u64(var);
    sd = sd < 1u ? 1u : sd;
    uint32_t recip = ((uint32_t)1 << k) / sd;
    uint32_t d_recip = (uint32_t)d * recip, offset = ((uint32_t)1 << (k - f - 1)) - s * recip; /* wrapping */
    const int nshift = k - f;
#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
    tm_xpulp_layernorm_affine(x, y, d, d_recip, offset, nshift, gain, bias_half, shift, zp);
#else
    for (int i = 0; i < d; i++) {
        int32_t n = (int32_t)(x[i] * d_recip + offset) >> nshift;
        int32_t r = ((n * gain[i] + bias_half[i]) >> shift[i]) + zp;
        y[i] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
    }
#endif
}

static void layernorm_worker(void *arg)
{
    const tm_layernorm_args_t *a = arg;
    int start, stop;
    tm_core_range(a->r0, a->r1, &start, &stop);
    for (int r = start; r < stop; r++)
        layernorm_row(a, a->x + (long)r * a->d, a->y + (long)r * a->d);
}

void tm_layernorm(const tm_layernorm_args_t *a)
{
    TM_CHECK_READ("x", a->x + (long)a->r0 * a->d, (a->r1 - a->r0) * a->d);
    TM_CHECK_READ("gain", a->gain, 4 * a->d);
    TM_CHECK_READ("bias_half", a->bias_half, 4 * a->d);
    TM_CHECK_READ("shift", a->shift, 4 * a->d);
    TM_CHECK_WRITE("y", a->y + (long)a->r0 * a->d, (a->r1 - a->r0) * a->d);
    tm_fork(layernorm_worker, (void *)a);
}
