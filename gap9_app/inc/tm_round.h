/* tm_round.h: the rounding and saturation helpers every kernel uses (numerics.py: round_half_even, saturate_u8).
 *
 * tm_rne(v)      round half to even in float32 with no libm: for |v| < 2^23, (v + 2^23) - 2^23 rounds in the
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
    if (v >= 0.0f) {
        if (v < TM_RNE_MAGIC)
            v = (v + TM_RNE_MAGIC) - TM_RNE_MAGIC;
    } else if (v > -TM_RNE_MAGIC) {
        v = (v - TM_RNE_MAGIC) + TM_RNE_MAGIC;
    }
    return v;
}

static inline uint8_t tm_sat_u8(float r)
{
    if (!(r > (float)(-TM_ACT_ZERO_POINT)))
        return 0;
    if (r >= (float)(255 - TM_ACT_ZERO_POINT))
        return 255;
    return (uint8_t)((int32_t)r + TM_ACT_ZERO_POINT);
}

/* int32 accumulator -> u8 code: sat(rne(f32(acc) * m) + 128); (float)acc rounds half to even above 2^24. */
static inline uint8_t tm_requant(int32_t acc, float multiplier)
{
    return tm_sat_u8(tm_rne((float)acc * multiplier));
}

#endif /* TM_ROUND_H */
