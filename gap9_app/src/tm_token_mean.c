/* TokenMean: x (C*P, D) -> y (1, F), streamed in token tiles.  per_channel ("concat", F = C*D):
 * acc[c*D+d] = sum_p (x[c*P+p, d] - 128); otherwise ("mean", F = D): acc[d] = sum_n (x[n, d] - 128).
 * y = sat(round_shift(acc * mult, shift) + 128) (integer only).  A tile is any token range [n0, n0 + tokens):
 * token n belongs to channel n / P, so a tile may hold the end of one channel and the start of the next.  The cores
 * split the features, so each accumulator has one writer; int32 sums are exact whatever the tile order. */
#include "tm_arch.h"
#include "tm_check.h"
#include "tm_kernels.h"
#include "tm_round.h"

static void token_mean_accumulate_worker(void *arg)
{
    const tm_token_mean_args_t *a = arg;
    int start, stop, n1 = a->n0 + a->tokens;
    tm_core_range(0, a->features, &start, &stop);
    for (int f = start; f < stop; f++) {
        int d = f % a->d, lo = a->n0, hi = n1;
        if (a->per_channel) { /* only the tile's tokens of channel f / D */
            int c = f / a->d;
            lo = lo > c * a->patches ? lo : c * a->patches;
            hi = TM_MIN(hi, (c + 1) * a->patches);
        }
        int32_t acc = a->first ? 0 : a->acc[f];
        for (int n = lo; n < hi; n++)
            acc += (int32_t)a->x[(long)(n - a->n0) * a->d + d] - TM_ACT_ZERO_POINT;
        a->acc[f] = acc;
    }
}

static void token_mean_requant_worker(void *arg)
{
    const tm_token_mean_args_t *a = arg;
    int start, stop;
    tm_core_range(0, a->features, &start, &stop);
    for (int f = start; f < stop; f++)
        a->y[f] = tm_requant_fixed(a->acc[f], a->mult, a->shift, TM_ACT_ZERO_POINT);
}

void tm_token_mean_accumulate(const tm_token_mean_args_t *a)
{
    TM_CHECK_READ("x", a->x, a->tokens * a->d);
    if (!a->first)
        TM_CHECK_READ("acc", a->acc, a->features * 4);
    TM_CHECK_WRITE("acc", a->acc, a->features * 4);
    tm_fork(token_mean_accumulate_worker, (void *)a);
}

void tm_token_mean_requant(const tm_token_mean_args_t *a)
{
    TM_CHECK_READ("acc", a->acc, a->features * 4);
    TM_CHECK_WRITE("y", a->y, a->features);
    tm_fork(token_mean_requant_worker, (void *)a);
}
