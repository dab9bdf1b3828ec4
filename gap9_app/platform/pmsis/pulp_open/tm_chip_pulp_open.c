/* pulp-open: the chip-level settings of tm_chip.h, which GVSoC's pulp-open does not model. platform/tm_chip.c
 * (GAP9: PMU voltage, FLL clocks, the GPIO power window) is not compiled here: no PMU or GPIO is modelled (the
 * pulp-sdk implements GPIO for no pulp chip), the pulp-sdk's pi_freq_set returns the frequency it set where the
 * GAP9 SDK returns 0, and the counts are cluster cycles at any clock. */
#include "tm_chip.h"

int tm_set_operating_point(uint32_t fc_hz, uint32_t cluster_hz, uint32_t voltage_mv)
{
    (void)fc_hz, (void)cluster_hz, (void)voltage_mv;
    return 0;
}

int tm_power_window_open(uint32_t pin)
{
    (void)pin;
    return 0;
}

void tm_power_window(int high) { (void)high; }
