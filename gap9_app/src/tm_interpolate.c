/* Interpolate (linear, indices/weights precomputed offline):
 * y[l, k] = x[i0[l], k] * w0[l] + x[i1[l], k] * w1[l]: two float32 products and one sum, no FMA. */
#include "tm_arch.h"
#include "tm_kernels.h"

static void interpolate_worker(void *arg)
{
    const tm_interpolate_args_t *a = arg;
    int start, stop;
    tm_core_range(a->l0, a->l1, &start, &stop);
    for (int l = start; l < stop; l++) {
        const float *x0 = a->x + (long)a->i0[l] * a->k, *x1 = a->x + (long)a->i1[l] * a->k;
        for (int k = 0; k < a->k; k++) {
            float t0 = x0[k] * a->w0[l];
            float t1 = x1[k] * a->w1[l];
            a->y[(long)l * a->k + k] = t0 + t1;
        }
    }
}

void tm_interpolate(const tm_interpolate_args_t *a) { tm_fork(interpolate_worker, (void *)a); }
