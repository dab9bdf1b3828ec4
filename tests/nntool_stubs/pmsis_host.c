/* Host implementation of the PMSIS calls the NNTool backend's main.c and platform/tm_chip.c make (tests only).
 * Declarations: ../pmsis_decls/pmsis.h (public signatures). The GPIO checks mirror the public driver's
 * (gap_sdk rtos/freeRTOS/vendors/gwt/vega/pmsis/drivers/gpio/gpio.c:347-410): the pin must be a pi_gpio_e of the
 * opened port, configured as an output before it is written. */
#include <stdlib.h>

#include "pmsis.h"

static int cluster_open, gpio_port = -1;
static uint32_t gpio_output; /* the pi_gpio_e configured as an output */

static void fail(const char *what)
{
    printf("pmsis stub: %s\n", what);
    exit(90);
}

void pi_open_from_conf(struct pi_device *device, void *conf) { device->config = conf, device->data = NULL; }
void pi_cluster_conf_init(struct pi_cluster_conf *conf) { *conf = (struct pi_cluster_conf){0}; }
int pi_cluster_open(struct pi_device *device) { (void)device; cluster_open = 1; return 0; }
int pi_cluster_close(struct pi_device *device) { (void)device; cluster_open = 0; return 0; }
int32_t pi_freq_set(pi_freq_domain_e domain, uint32_t freq) { (void)domain; return freq > 0 ? 0 : -1; }
int pi_pmu_voltage_set(pi_pmu_domain_e domain, uint32_t voltage) { return domain == PI_PMU_DOMAIN_FC && voltage > 0 ? 0 : -1; }
void pi_pad_set_function(pi_pad_e pad, pi_pad_func_e function) { (void)pad, (void)function; }
void pi_gpio_conf_init(struct pi_gpio_conf *conf) { conf->device = PI_DEVICE_GPIO_TYPE, conf->port = 0; }

int pi_gpio_open(struct pi_device *device)
{
    gpio_port = ((struct pi_gpio_conf *)device->config)->port;
    return 0;
}

int pi_gpio_pin_configure(struct pi_device *device, pi_gpio_e gpio, pi_gpio_flags_e flags)
{
    (void)device;
    uint32_t pin = (uint32_t)gpio;
    if (!(pin & PI_GPIO_IS_GPIO_MASK)) fail("pi_gpio_pin_configure: not a pi_gpio_e (no GPIO flag)");
    if ((int32_t)((pin & PI_GPIO_NUM_MASK) / 32u) != gpio_port) fail("pi_gpio_pin_configure: GPIO of another port");
    if (flags & PI_GPIO_OUTPUT) gpio_output = pin;
    return 0;
}

int pi_gpio_pin_write(struct pi_device *device, uint32_t pin, uint32_t value)
{
    (void)device;
    if (pin != gpio_output) return -12; /* as the driver: not configured as an output */
    if (!cluster_open) fail("GPIO written while the cluster is closed");
    if (value && !stub_gpio_level) stub_gpio_rises++;
    stub_gpio_level = value != 0;
    return 0;
}

struct pi_cluster_task *pi_cluster_task(struct pi_cluster_task *task, void (*entry)(void *), void *arg)
{
    *task = (struct pi_cluster_task){0};
    task->entry = entry, task->arg = arg;
    return task;
}

pi_cluster_task_t *pi_cluster_task_stacks(pi_cluster_task_t *task, void *stacks, int stack_size)
{
    task->stacks = stacks, task->slave_stack_size = (uint32_t)stack_size;
    return task;
}

int pi_cluster_send_task_to_cl(struct pi_device *device, struct pi_cluster_task *task)
{
    (void)device;
    if (!cluster_open) fail("task sent to a closed cluster");
    task->entry(task->arg);
    return 0;
}

void pmsis_exit(int err) { exit(err); }
int pmsis_kickoff(void *arg) { return ((int (*)(void))arg)(); }
