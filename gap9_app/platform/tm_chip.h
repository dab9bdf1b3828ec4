/* Chip-level settings shared by the generated app (main.c) and the NNTool backend's main.c: ONE PMSIS surface for
 * the operating point and the power-measurement GPIO (tm_chip.c). Called on the fabric controller (FC). */
#ifndef TM_CHIP_H
#define TM_CHIP_H

#include <stdint.h>

/* Set the chip voltage and the FC and cluster frequencies; voltage goes up before the clocks rise and down
 * after they fall. 0 on success. The values come from tinymyo_edge/targets/operating_points.py. */
int tm_set_operating_point(uint32_t fc_hz, uint32_t cluster_hz, uint32_t voltage_mv);

/* A GPIO high exactly while the inference runs, for an external power instrument (PPK2, PicoScope) to trigger on.
 * `pin` is a GAP9 pad number (TM_POWER_GPIO_PIN: make POWER_GPIO=<pin>, Kconfig CONFIG_TM_POWER_GPIO_PIN); the GPIO
 * is driven by the FC (the GPIO driver's device lives there), around the whole cluster task. 0 on success. */
int tm_power_window_open(uint32_t pin);
void tm_power_window(int high);

#endif /* TM_CHIP_H */
