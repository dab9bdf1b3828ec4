/* Conv1d, time-major, any kernel / stride / padding (the speech front end: k3 stride 2, k3 stride 1, k1 stride 2):
 * acc[t, m] = bias[m] + sum_j sum_c w[m, j, c] (x[t*stride + j - padding, c] - 128);
 * y = sat(round_shift(acc M[m], S[m]) + 128) (integer only, tm_requant_fixed).
 * Padding taps are the real zero (code 128), so they are skipped. The u8 codes of the taps inside the input multiply
 * the weights directly (one tm_dot_u8s8 over the contiguous span: the platform's SIMD dot product) and
 * tap_sum[m, j] = 128 sum_c w[m, j, c] of those taps is subtracted: the same integer.
 * |acc| <= k Cin 128 128 + |bias| and |dot| <= k Cin 255 128 stay below 2^31 (ranges.py, lowering_speech.py). */
#include "tm_arch.h"
#include "tm_round.h"
#include "tm_speech_kernels.h"

static void conv1d_worker(void *arg)
{
    const tm_conv1d_args_t *a = arg;
    int start, stop;
    tm_core_range(a->t0, a->t1, &start, &stop);
    for (int t = start; t < stop; t++) {
        /* taps j in [lo, hi) read rows t*stride + j - padding inside 0..T-1: one contiguous span of (hi - lo) Cin
         * codes in x and in each channel's weights (time-major x, tap-major w) */
        int first = t * a->stride - a->padding;
        int lo = first < 0 ? -first : 0, hi = a->t - first < a->k ? a->t - first : a->k;
        const uint8_t *x = a->x + (long)(first + lo) * a->cin; /* ((hi - lo) Cin) */
        for (int m = a->m0; m < a->m1; m++) {
            int32_t acc = a->bias[m];
            for (int j = lo; j < hi; j++)
                acc -= a->tap_sum[m * a->k + j];
            acc += tm_dot_u8s8(x, a->w + ((long)(m - a->m0) * a->k + lo) * a->cin, (hi - lo) * a->cin);
            a->y[(long)t * a->m + m] = tm_requant_fixed(acc, a->rq[2 * m], a->rq[2 * m + 1], TM_ACT_ZERO_POINT);
        }
    }
}

void tm_conv1d(const tm_conv1d_args_t *a) { tm_fork(conv1d_worker, (void *)a); }
