/* QuantizeInput: y = sat(rne(x / scale) + 128), true float32 division, NaN -> 0, +-inf saturate. */
#include "tm_arch.h"
#include "tm_check.h"
#include "tm_kernels.h"
#include "tm_round.h"

static void quantize_worker(void *arg)
{
    const tm_quantize_args_t *a = arg;
    int start, stop;
    tm_core_range(a->start, a->end, &start, &stop);
    const float *x = a->x, scale = a->scale;
    uint8_t *y = a->y;
    for (int i = start; i < stop; i++)
        y[i] = tm_sat_u8(tm_rne(x[i] / scale));
}

void tm_quantize(const tm_quantize_args_t *a)
{
    TM_CHECK_READ("x", a->x + a->start, 4 * (a->end - a->start));
    TM_CHECK_WRITE("y", a->y + a->start, a->end - a->start);
    tm_fork(quantize_worker, (void *)a);
}
