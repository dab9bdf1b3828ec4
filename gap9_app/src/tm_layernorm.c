/* LayerNorm over D, integer statistics and one float affine step (numerics.layernorm_int):
 *   c = D x - sum(x) (int32);  var = sum(c^2) / D (int64, non-negative so truncation = floor);
 *   sd = max(1, isqrt(var));   n = (c << LN_FRAC_BITS) / sd (int32, truncating, by tm_divide on |c|;
 *   the build proves |c << LN_FRAC_BITS| < 2^31);
 *   y = sat(rne(f32(n) * gain[d] + bias[d]) + 128), two float ops, no FMA. */
#include "tm_arch.h"
#include "tm_check.h"
#include "tm_kernels.h"
#include "tm_round.h"

/* floor(sqrt(v)), bit by bit: exact for every uint64 (no float, no libm). */
static uint32_t isqrt_u64(uint64_t v)
{
    uint64_t root = 0, bit = (uint64_t)1 << 62;
    while (bit > v)
        bit >>= 2;
    while (bit) {
        if (v >= root + bit) {
            v -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return (uint32_t)root;
}

static void layernorm_row(const tm_layernorm_args_t *a, const uint8_t *x, uint8_t *y)
{
    int d = a->d;
    const float *gain = a->gain, *bias = a->bias;
    int32_t sum = 0;
    for (int i = 0; i < d; i++)
        sum += x[i];
    int64_t sq = 0;
    for (int i = 0; i < d; i++) {
        int32_t c = d * (int32_t)x[i] - sum;
        sq += (int64_t)c * c;
    }
    int32_t sd = (int32_t)isqrt_u64((uint64_t)(sq / d));
    if (sd < 1)
        sd = 1;
    tm_divisor_t div = tm_divisor((uint32_t)sd); /* |c << 14| < 2^31 (bound proven by the build) */
    for (int i = 0; i < d; i++) {
        int32_t c = (d * (int32_t)x[i] - sum) * (1 << TM_LN_FRAC_BITS);
        int32_t q = (int32_t)tm_divide((uint32_t)(c < 0 ? -c : c), div);
        int32_t n = c < 0 ? -q : q; /* truncation toward zero, as C's / */
#if defined(TM_PULP_ZFINX) /* Zfinx float unit (tm_xpulp.h) */
        if (tm_xpulp_finite(gain[i]) && tm_xpulp_finite(bias[i])) { /* the float unit, no calls */
            y[i] = tm_xpulp_affine_code(n, gain[i], bias[i]);
            continue;
        }
#endif
        float t = (float)n * gain[i];
        t = t + bias[i];
        y[i] = tm_sat_u8(tm_rne(t));
    }
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
    TM_CHECK_READ("bias", a->bias, 4 * a->d);
    TM_CHECK_WRITE("y", a->y + (long)a->r0 * a->d, (a->r1 - a->r0) * a->d);
    tm_fork(layernorm_worker, (void *)a);
}
