/* Chip-level settings shared by every platform, written against PMSIS only (the shim makes them no-ops). */
#include "app_config.h" /* TM_POWER_GPIO_PIN */
#include "tm_platform.h"

/* GAP9 boots at 0.8 V; a lower voltage is safe only once the clocks are down, a higher one must come first. */
#define TM_BOOT_VOLTAGE_MV 800u

static int set_clocks(uint32_t fc_hz, uint32_t cluster_hz)
{
    if (pi_freq_set(PI_FREQ_DOMAIN_FC, fc_hz) != 0) return -1;
    if (pi_freq_set(PI_FREQ_DOMAIN_CL, cluster_hz) != 0) return -1;
    return 0;
}

int tm_set_operating_point(uint32_t fc_hz, uint32_t cluster_hz, uint32_t voltage_mv)
{
    int voltage_first = voltage_mv >= TM_BOOT_VOLTAGE_MV;
    if (voltage_first && pi_pmu_voltage_set(PI_PMU_VOLTAGE_DOMAIN_CHIP, voltage_mv) != 0) return -1;
    if (set_clocks(fc_hz, cluster_hz) != 0) return -1;
    if (!voltage_first && pi_pmu_voltage_set(PI_PMU_VOLTAGE_DOMAIN_CHIP, voltage_mv) != 0) return -1;
    return 0;
}

/* GAP9 numbers pads and GPIOs alike (PI_PAD_089 carries PI_GPIO_A89); function 1 of a pad is its GPIO. */
int tm_power_window_open(void)
{
    pi_pad_function_set((pi_pad_e)TM_POWER_GPIO_PIN, PI_PAD_FUNC1);
    if (pi_gpio_pin_configure((pi_gpio_e)TM_POWER_GPIO_PIN, PI_GPIO_OUTPUT) != 0) return -1;
    pi_gpio_pin_write((pi_gpio_e)TM_POWER_GPIO_PIN, 0);
    return 0;
}

/* A plain register write: callable from the cluster, which is where main.c raises it around the network. */
void tm_power_window(int high) { pi_gpio_pin_write((pi_gpio_e)TM_POWER_GPIO_PIN, high ? 1u : 0u); }
