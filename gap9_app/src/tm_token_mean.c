/* TokenMean: x (C*P, D) -> y (1, F).  per_channel ("concat", F = C*D): acc[c*D+d] = sum_p (x[c*P+p, d] - 128);
 * otherwise ("mean", F = D): acc[d] = sum_n (x[n, d] - 128).  y = sat(rne(f32(acc) * mult) + 128). */
#include "tm_arch.h"
#include "tm_check.h"
#include "tm_kernels.h"
#include "tm_round.h"

static void token_mean_worker(void *arg)
{
    const tm_token_mean_args_t *a = arg;
    int start, stop;
    tm_core_range(a->f0, a->f1, &start, &stop);
    for (int f = start; f < stop; f++) {
        int c0 = a->per_channel ? f / a->d : 0, c1 = a->per_channel ? c0 + 1 : a->channels, d = f % a->d;
        int32_t acc = 0;
        for (int c = c0; c < c1; c++)
            for (int p = 0; p < a->patches; p++)
                acc += (int32_t)a->x[((long)c * a->patches + p) * a->d + d] - TM_ACT_ZERO_POINT;
        a->y[f] = tm_requant(acc, a->mult);
    }
}

void tm_token_mean(const tm_token_mean_args_t *a)
{
    TM_CHECK_READ("x", a->x, a->channels * a->patches * a->d);
    TM_CHECK_WRITE("y", a->y + a->f0, a->f1 - a->f0);
    tm_fork(token_mean_worker, (void *)a);
}
