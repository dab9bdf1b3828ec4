/* PatchFeatures: x (C*P, D) -> y (P, F).  per_channel ("concat", F = C*D): y[p, c*D+d] = x[c*P+p, d] (a copy);
 * otherwise ("mean", F = D): y[p, d] = sat(round_shift(sum_c (x[c*P+p, d] - 128) * mult, shift) + 128). */
#include "tm_arch.h"
#include "tm_check.h"
#include "tm_kernels.h"
#include "tm_round.h"

static void patch_features_worker(void *arg)
{
    const tm_patch_features_args_t *a = arg;
    int start, stop;
    tm_core_range(a->p0, a->p1, &start, &stop);
    for (int p = start; p < stop; p++) {
        if (a->per_channel) {
            for (int c = 0; c < a->channels; c++)
                for (int d = 0; d < a->d; d++)
                    a->y[((long)p * a->channels + c) * a->d + d] = a->x[((long)c * a->patches + p) * a->d + d];
            continue;
        }
        for (int d = 0; d < a->d; d++) {
            int32_t acc = 0;
            for (int c = 0; c < a->channels; c++)
                acc += (int32_t)a->x[((long)c * a->patches + p) * a->d + d] - TM_ACT_ZERO_POINT;
            a->y[(long)p * a->d + d] = tm_requant_fixed(acc, a->mult, a->shift, TM_ACT_ZERO_POINT);
        }
    }
}

void tm_patch_features(const tm_patch_features_args_t *a)
{
    int f = a->per_channel ? a->channels * a->d : a->d;
    for (int c = 0; c < a->channels; c++)
        TM_CHECK_READ("x", a->x + ((long)c * a->patches + a->p0) * a->d, (a->p1 - a->p0) * a->d);
    TM_CHECK_WRITE("y", a->y + (long)a->p0 * f, (a->p1 - a->p0) * f);
    tm_fork(patch_features_worker, (void *)a);
}
