/* Lut: y[i] = table[x[i]] (GELU / SiLU: the 256-entry table is the op). */
#include "tm_arch.h"
#include "tm_check.h"
#include "tm_kernels.h"

static void lut_worker(void *arg)
{
    const tm_lut_args_t *a = arg;
    int start, stop;
    tm_core_range(a->start, a->end, &start, &stop);
    const uint8_t *x = a->x, *table = a->table;
    uint8_t *y = a->y;
    for (int i = start; i < stop; i++)
        y[i] = table[x[i]];
}

void tm_lut(const tm_lut_args_t *a)
{
    TM_CHECK_READ("x", a->x + a->start, a->end - a->start);
    TM_CHECK_READ("table", a->table, 256);
    TM_CHECK_WRITE("y", a->y + a->start, a->end - a->start);
    tm_fork(lut_worker, (void *)a);
}
