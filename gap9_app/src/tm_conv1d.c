/* Conv1d, time-major, any kernel / stride / padding (the speech front end: k3 stride 2, k3 stride 1, k1 stride 2):
 * acc[t, m] = bias[m] + sum_j sum_c w[m, j, c] (x[t*stride + j - padding, c] - 128); y = sat(rne(f32(acc) mult[m]) + 128).
 * Padding taps are the real zero (code 128), so they are skipped. Per tap the u8 codes multiply the weights directly
 * (tm_dot_u8s8, the SIMD dot product of the platform) and tap_sum[m, j] = 128 sum_c w[m, j, c] is subtracted: the same
 * integer. |acc| <= k Cin 128 128 + |bias| and |dot| <= Cin 255 128 stay below 2^31 (ranges.py, lowering_speech.py). */
#include "tm_arch.h"
#include "tm_round.h"
#include "tm_speech_kernels.h"

static void conv1d_worker(void *arg)
{
    const tm_conv1d_args_t *a = arg;
    int start, stop;
    tm_core_range(a->t0, a->t1, &start, &stop);
    for (int t = start; t < stop; t++) {
        for (int m = a->m0; m < a->m1; m++) {
            int32_t acc = a->bias[m];
            for (int j = 0; j < a->k; j++) {
                int src = t * a->stride + j - a->padding;
                if (src < 0 || src >= a->t)
                    continue;
                const uint8_t *x = a->x + (long)src * a->cin;           /* (Cin) */
                const int8_t *w = a->w + ((long)m * a->k + j) * a->cin; /* (Cin) */
                acc += tm_dot_u8s8(x, w, a->cin) - a->tap_sum[m * a->k + j];
            }
            a->y[(long)t * a->m + m] = tm_requant(acc, a->mult[m]);
        }
    }
}

void tm_conv1d(const tm_conv1d_args_t *a) { tm_fork(conv1d_worker, (void *)a); }
