/* Lut: y[i] = table[x[i]] (GELU / SiLU: the 256-entry table is the op). */
#include "tm_arch.h"
#include "tm_kernels.h"

static void lut_worker(void *arg)
{
    const tm_lut_args_t *a = arg;
    int start, stop;
    tm_core_range(a->start, a->end, &start, &stop);
    for (int i = start; i < stop; i++)
        a->y[i] = a->table[a->x[i]];
}

void tm_lut(const tm_lut_args_t *a) { tm_fork(lut_worker, (void *)a); }
