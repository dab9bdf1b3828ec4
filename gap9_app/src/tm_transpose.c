/* Transpose u8: y[c, r] = x[r, c]. */
#include "tm_arch.h"
#include "tm_speech_kernels.h"

static void transpose_worker(void *arg)
{
    const tm_transpose_args_t *a = arg;
    int start, stop;
    tm_core_range(a->c0, a->c1, &start, &stop);
    for (int c = start; c < stop; c++)
        for (int r = 0; r < a->r; r++)
            a->y[(long)c * a->r + r] = a->x[(long)r * a->c + c];
}

void tm_transpose_u8(const tm_transpose_args_t *a) { tm_fork(transpose_worker, (void *)a); }
