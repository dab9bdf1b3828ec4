/* DepthwiseConv1d, kernel 3, padding 1 with real zero (code 128, i.e. the tap is skipped), optional fused table:
 * acc[p,h] = bias[h] + sum_j w[h,j] (x[p+j-1, h] - 128);  y = table[sat(round_shift(acc * M[h], S[h]) + 128)]. */
#include "tm_arch.h"
#include "tm_check.h"
#include "tm_kernels.h"
#include "tm_round.h"

static void depthwise_worker(void *arg)
{
    const tm_depthwise_args_t *a = arg;
    int start, stop;
    tm_core_range(a->p0, a->p1, &start, &stop);
    for (int p = start; p < stop; p++) {
        for (int h = 0; h < a->h; h++) {
            int32_t acc = a->bias[h];
            for (int j = 0; j < 3; j++) {
                int src = p + j - 1;
                if (src >= 0 && src < a->p)
                    acc += a->w[h * 3 + j] * ((int32_t)a->x[(long)(src - a->x0) * a->h + h] - TM_ACT_ZERO_POINT);
            }
            uint8_t q = tm_requant_fixed(acc, a->rq[2 * h], a->rq[2 * h + 1], TM_ACT_ZERO_POINT);
            a->y[(long)(p - a->p0) * a->h + h] = a->table ? a->table[q] : q;
        }
    }
}

void tm_depthwise_conv1d(const tm_depthwise_args_t *a)
{
    TM_CHECK_READ("x", a->x, (TM_MIN(a->p1 + 1, a->p) - a->x0) * a->h);
    TM_CHECK_READ("w", a->w, 3 * a->h);
    TM_CHECK_READ("bias", a->bias, 4 * a->h);
    TM_CHECK_READ("rq", a->rq, 8 * a->h);
    if (a->table)
        TM_CHECK_READ("table", a->table, 256);
    TM_CHECK_WRITE("y", a->y, (a->p1 - a->p0) * a->h);
    tm_fork(depthwise_worker, (void *)a);
}
