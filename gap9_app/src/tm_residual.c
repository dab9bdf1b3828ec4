/* ResidualAdd: y = sat(rne((f32(a) - 128) * sa + (f32(b) - 128) * sb) + 128): float32 single ops, no FMA
 * (the library is compiled with -ffp-contract=off). */
#include "tm_arch.h"
#include "tm_kernels.h"
#include "tm_round.h"

static void residual_worker(void *arg)
{
    const tm_residual_args_t *a = arg;
    const float zp = (float)TM_ACT_ZERO_POINT;
    int start, stop;
    tm_core_range(a->start, a->end, &start, &stop);
    for (int i = start; i < stop; i++) {
        float fa = ((float)a->a[i] - zp) * a->scale_a;
        float fb = ((float)a->b[i] - zp) * a->scale_b;
        a->y[i] = tm_sat_u8(tm_rne(fa + fb));
    }
}

void tm_residual_add(const tm_residual_args_t *a) { tm_fork(residual_worker, (void *)a); }
