/* Linear: acc[r,m] = bias_folded[m] + sum_k x[r,k] w[m,k] (x u8, w s8, int32);
 * y = table[sat(rne(f32(acc) * mult[m]) + 128)] (table optional: a fused GELU/SiLU);
 * LinearDequant: y = f32(acc) * scale[m].
 * Cores split the tile's rows, or its columns when the tile has fewer rows than cores (the classifier). */
#include "tm_arch.h"
#include "tm_kernels.h"
#include "tm_round.h"

/* acc for columns m..m+3 of row x (register blocking: x is read once for four weight rows). */
static inline void linear_acc4(const uint8_t *x, const int8_t *w, const int32_t *bias, int k, int m, int32_t acc[4])
{
    tm_dot_u8s8_x4(x, w + (m + 0) * k, w + (m + 1) * k, w + (m + 2) * k, w + (m + 3) * k, k, acc);
    for (int j = 0; j < 4; j++)
        acc[j] += bias[m + j];
}

static inline uint8_t finish(const tm_linear_args_t *a, int32_t acc, int m)
{
    uint8_t q = tm_requant(acc, a->mult[m]);
    return a->table ? a->table[q] : q;
}

static void linear_block(const tm_linear_args_t *a, int r0, int r1, int m0, int m1)
{
    for (int r = r0; r < r1; r++) {
        const uint8_t *x = a->x + (long)r * a->k;
        uint8_t *y = a->y + (long)r * a->m;
        int m = m0;
        for (; m + 4 <= m1; m += 4) {
            int32_t acc[4];
            linear_acc4(x, a->w, a->bias, a->k, m, acc);
            for (int j = 0; j < 4; j++)
                y[m + j] = finish(a, acc[j], m + j);
        }
        for (; m < m1; m++)
            y[m] = finish(a, a->bias[m] + tm_dot_u8s8(x, a->w + (long)m * a->k, a->k), m);
    }
}

static void linear_worker(void *arg)
{
    const tm_linear_args_t *a = arg;
    int start, stop;
    if (a->r1 - a->r0 >= TM_NUM_CORES) {
        tm_core_range(a->r0, a->r1, &start, &stop);
        linear_block(a, start, stop, a->m0, a->m1);
    } else {
        tm_core_range(a->m0, a->m1, &start, &stop);
        linear_block(a, a->r0, a->r1, start, stop);
    }
}

void tm_linear(const tm_linear_args_t *a) { tm_fork(linear_worker, (void *)a); }

static void dequant_block(const tm_linear_dequant_args_t *a, int r0, int r1, int m0, int m1)
{
    for (int r = r0; r < r1; r++) {
        const uint8_t *x = a->x + (long)r * a->k;
        for (int m = m0; m < m1; m++) {
            int32_t acc = a->bias[m] + tm_dot_u8s8(x, a->w + (long)m * a->k, a->k);
            a->y[(long)r * a->m + m] = (float)acc * a->scale[m];
        }
    }
}

static void dequant_worker(void *arg)
{
    const tm_linear_dequant_args_t *a = arg;
    int start, stop;
    if (a->r1 - a->r0 >= TM_NUM_CORES) {
        tm_core_range(a->r0, a->r1, &start, &stop);
        dequant_block(a, start, stop, a->m0, a->m1);
    } else {
        tm_core_range(a->m0, a->m1, &start, &stop);
        dequant_block(a, a->r0, a->r1, start, stop);
    }
}

void tm_linear_dequant(const tm_linear_dequant_args_t *a) { tm_fork(dequant_worker, (void *)a); }
