/* DepthwiseConv1d, kernel 3, padding 1 with real zero (code 128, i.e. the tap is skipped), optional fused table:
 * acc[p,h] = bias[h] + sum_j w[h,j] (x[p+j-1, h] - 128);  y = table[sat(rne(f32(acc) * mult[h]) + 128)]. */
#include "tm_arch.h"
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
                    acc += a->w[h * 3 + j] * ((int32_t)a->x[(long)src * a->h + h] - TM_ACT_ZERO_POINT);
            }
            uint8_t q = tm_requant(acc, a->mult[h]);
            a->y[(long)p * a->h + h] = a->table ? a->table[q] : q;
        }
    }
}

void tm_depthwise_conv1d(const tm_depthwise_args_t *a) { tm_fork(depthwise_worker, (void *)a); }
