/* ResidualAdd: y = sat(rne((f32(a) - 128) * sa + (f32(b) - 128) * sb) + 128): float32 single ops, no FMA
 * (the library is compiled with -ffp-contract=off). */
#include "tm_arch.h"
#include "tm_check.h"
#include "tm_kernels.h"
#include "tm_round.h"

static void residual_worker(void *arg)
{
    const tm_residual_args_t *a = arg;
    const float zp = (float)TM_ACT_ZERO_POINT, sa = a->scale_a, sb = a->scale_b;
    const uint8_t *xa = a->a, *xb = a->b;
    uint8_t *y = a->y; /* locals: a store through uint8_t may alias *a, which would force reloads */
    int start, stop;
    tm_core_range(a->start, a->end, &start, &stop);
#if defined(TM_PULP_ZFINX) /* Zfinx float unit (tm_xpulp.h) */
    if (tm_xpulp_finite(sa) && tm_xpulp_finite(sb)) { /* the float unit, no calls */
        for (int i = start; i < stop; i++)
            y[i] = tm_xpulp_residual_code(xa[i], xb[i], sa, sb);
        return;
    }
#endif
#if defined(TM_HAVE_RV32_FIXED) && !defined(__riscv_flen) /* integer-only rv32: exact fixed-point terms (tm_rv32.h) */
    tm_rv32_residual_table_t table;
    if (stop > start && tm_rv32_residual_table(sa, sb, &table)) {
        for (int i = start; i < stop; i++)
            y[i] = tm_rv32_fixed_code(table.a[xa[i]] + table.b[xb[i]], table.q);
        return;
    }
#endif
    for (int i = start; i < stop; i++) {
        float fa = ((float)xa[i] - zp) * sa;
        float fb = ((float)xb[i] - zp) * sb;
        y[i] = tm_sat_u8(tm_rne(fa + fb));
    }
}

void tm_residual_add(const tm_residual_args_t *a)
{
    TM_CHECK_READ("a", a->a + a->start, a->end - a->start);
    TM_CHECK_READ("b", a->b + a->start, a->end - a->start);
    TM_CHECK_WRITE("y", a->y + a->start, a->end - a->start);
    tm_fork(residual_worker, (void *)a);
}
