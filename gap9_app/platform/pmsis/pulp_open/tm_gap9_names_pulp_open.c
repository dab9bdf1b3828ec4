/* pulp-open: the GAP9-only chip calls, accepted and ignored (GVSoC's pulp-open models no PMU voltage, and the
 * open PULP SDK implements GPIO and pads for no pulp chip). Prototypes: the pulp-sdk's pmsis_api drivers/gpio.h,
 * drivers/pad.h (pulp-platform/pulp-sdk d4b5bcdd) and tm_gap9_names.h. The power window (GPIO) therefore does
 * nothing on pulp-open; the cycles come from the cluster's performance counter. */
#include "tm_gap9_names.h"

int pi_pmu_voltage_set(pi_pmu_domain_e domain, uint32_t voltage)
{
    (void)domain, (void)voltage;
    return 0;
}

void pi_gpio_conf_init(struct pi_gpio_conf *conf) { (void)conf; }

int pi_gpio_open(struct pi_device *device)
{
    (void)device;
    return 0;
}

int pi_gpio_pin_configure(struct pi_device *device, pi_gpio_e gpio, pi_gpio_flags_e flags)
{
    (void)device, (void)gpio, (void)flags;
    return 0;
}

int pi_gpio_pin_write(struct pi_device *device, uint32_t pin, uint32_t value)
{
    (void)device, (void)pin, (void)value;
    return 0;
}

void pi_pad_set_function(pi_pad_e pad, pi_pad_func_e function) { (void)pad, (void)function; }
