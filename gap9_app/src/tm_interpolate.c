/* Interpolate (linear, indices/weights precomputed offline):
 * y[l, k] = x[i0[l], k] * w0[l] + x[i1[l], k] * w1[l]: two float32 products and one sum, no FMA. */
#include "tm_arch.h"
#include "tm_check.h"
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

/* x: the whole input (P, K), resident; the index and weight tables and y: rows [l0, l1). The indices are checked
 * against P by the lowering. */
void tm_interpolate(const tm_interpolate_args_t *a)
{
    int rows = a->l1 - a->l0;
    TM_CHECK_READ("i0", a->i0 + a->l0, 4 * rows);
    TM_CHECK_READ("i1", a->i1 + a->l0, 4 * rows);
    TM_CHECK_READ("w0", a->w0 + a->l0, 4 * rows);
    TM_CHECK_READ("w1", a->w1 + a->l0, 4 * rows);
    for (int l = a->l0; l < a->l1; l++) {
        TM_CHECK_READ("x row", a->x + (long)a->i0[l] * a->k, 4 * a->k);
        TM_CHECK_READ("x row", a->x + (long)a->i1[l] * a->k, 4 * a->k);
    }
    TM_CHECK_WRITE("y", a->y + (long)a->l0 * a->k, 4 * rows * a->k);
    tm_fork(interpolate_worker, (void *)a);
}
