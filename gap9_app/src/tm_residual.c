/* ResidualAdd, integer only (numerics.residual_fixed; ir.ResidualAdd):
 *   y = sat(round_shift((a - za) Ra + (b - zb) Rb, T) + zy) = sat(((a Ra + b Rb + offset) >> T) + zy),
 *   offset = 2^(T-1) - za Ra - zb Rb (codegen/lowering.py). The sum is formed in uint32 (wrapping): its true value
 *   is in int32 range (ranges.py: 255 (|Ra| + |Rb|) + 2^(T-1) < 2^31), so the wrapped sum converted back is exact.
 * >> on a negative int32 is an arithmetic shift with gcc (implementation-defined, documented; C23 standard). */
#include "tm_arch.h"
#include "tm_check.h"
#include "tm_kernels.h"
#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
#include "tm_xpulp_norm.h"
#endif

static void residual_worker(void *arg)
{
    const tm_residual_args_t *a = arg;
    const uint32_t ma = (uint32_t)a->mult_a, mb = (uint32_t)a->mult_b, offset = (uint32_t)a->offset;
    const int shift = a->shift, zy = a->zero_y;
    const uint8_t *xa = a->a, *xb = a->b;
    uint8_t *y = a->y; /* locals: a store through uint8_t may alias *a, which would force reloads */
    int start, stop;
    tm_core_range(a->start, a->end, &start, &stop);
#if defined(TM_PLATFORM_GAP9) || defined(TM_PLATFORM_PULP_OPEN)
    tm_xpulp_residual(xa + start, xb + start, y + start, stop - start, ma, mb, offset, shift, zy);
#else
    for (int i = start; i < stop; i++) {
        int32_t r = ((int32_t)(xa[i] * ma + xb[i] * mb + offset) >> shift) + zy;
        y[i] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
    }
#endif
}

void tm_residual_add(const tm_residual_args_t *a)
{
    TM_CHECK_READ("a", a->a + a->start, a->end - a->start);
    TM_CHECK_READ("b", a->b + a->start, a->end - a->start);
    TM_CHECK_WRITE("y", a->y + a->start, a->end - a->start);
    tm_fork(residual_worker, (void *)a);
}
