/* Chip-level settings shared by every platform and both GAP9 backends, written against the public PMSIS names
 * (the host/rv32 shim makes them no-ops; tests/pmsis_decls names the public headers each comes from). */
#include "pmsis.h"
#include "tm_chip.h"

/* GAP9 boots at 0.8 V; a lower voltage is safe only once the clocks are down, a higher one must come first. */
#define TM_BOOT_VOLTAGE_MV 800u

static int set_clocks(uint32_t fc_hz, uint32_t cluster_hz)
{
    if (pi_freq_set(PI_FREQ_DOMAIN_FC, fc_hz) != 0) return -1;
    if (pi_freq_set(PI_FREQ_DOMAIN_CL, cluster_hz) != 0) return -1;
    return 0;
}

/* The public implementation's voltage call takes a pi_pmu_domain_e (PI_PMU_DOMAIN_FC: the chip's main supply;
 * gap_sdk rtos/freeRTOS/vendors/gwt/vega/pmsis/drivers/pmu/pmu.c:49). The GAP9 SDK's own apps write
 * PI_PMU_VOLTAGE_DOMAIN_CHIP (nn_menu_gap9 mobilenet main.c:95), a name no public header declares. */
static int set_voltage(uint32_t voltage_mv) { return pi_pmu_voltage_set(PI_PMU_DOMAIN_FC, voltage_mv); }

int tm_set_operating_point(uint32_t fc_hz, uint32_t cluster_hz, uint32_t voltage_mv)
{
    int voltage_first = voltage_mv >= TM_BOOT_VOLTAGE_MV;
    if (voltage_first && set_voltage(voltage_mv) != 0) return -1;
    if (set_clocks(fc_hz, cluster_hz) != 0) return -1;
    if (!voltage_first && set_voltage(voltage_mv) != 0) return -1;
    return 0;
}

/* pi_gpio_e as the chip header encodes it (gap_sdk rtos/pmsis/api/include/pmsis/chips/vega/gpio.h: GPIO flag bit,
 * pad number, GPIO number); GAP9 pads and GPIOs share numbers (PI_GPIO_A89 is pad 89, GPIO 89). */
static struct pi_device gpio_port;
static pi_gpio_e power_gpio;

static pi_gpio_e gpio_of_pad(uint32_t pin)
{
    return (pi_gpio_e)((1u << PI_GPIO_IS_GPIO_SHIFT) | ((pin << PI_GPIO_PAD_SHIFT) & PI_GPIO_PAD_MASK) |
                       (pin & PI_GPIO_NUM_MASK));
}

int tm_power_window_open(uint32_t pin)
{
    static struct pi_gpio_conf conf; /* kept alive while the device is open */
    power_gpio = gpio_of_pad(pin);
    pi_gpio_conf_init(&conf);
    conf.port = (int32_t)((pin & PI_GPIO_NUM_MASK) / 32u); /* one GPIO device per 32 GPIOs */
    pi_open_from_conf(&gpio_port, &conf);
    if (pi_gpio_open(&gpio_port) != 0) return -1;
    pi_pad_set_function((pi_pad_e)pin, PI_PAD_FUNC1); /* GPIO function (the driver's configure does it too) */
    if (pi_gpio_pin_configure(&gpio_port, power_gpio, PI_GPIO_OUTPUT) != 0) return -1;
    return pi_gpio_pin_write(&gpio_port, (uint32_t)power_gpio, 0) != 0 ? -1 : 0;
}

void tm_power_window(int high) { (void)pi_gpio_pin_write(&gpio_port, (uint32_t)power_gpio, high ? 1u : 0u); }
