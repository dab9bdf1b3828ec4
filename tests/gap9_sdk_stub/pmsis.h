/* Test stub of the GAP9 SDK's pmsis.h: ONLY the declarations the generated app calls, with the signatures the app
 * assumes, so that the GAP9-only code paths of main.c and platform/ compile in CI (-fsyntax-only). It is not the
 * SDK and proves nothing about the SDK itself. */
#ifndef GAP9_SDK_STUB_PMSIS_H
#define GAP9_SDK_STUB_PMSIS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct pi_device { void *config; void *data; };
void pi_open_from_conf(struct pi_device *device, void *conf);

struct pi_cluster_conf { int id; uint32_t cc_stack_size; };
struct pi_cluster_task { void (*entry)(void *); void *arg; uint32_t stack_size; uint32_t slave_stack_size; };
void pi_cluster_conf_init(struct pi_cluster_conf *conf);
int pi_cluster_open(struct pi_device *device);
int pi_cluster_close(struct pi_device *device);
struct pi_cluster_task *pi_cluster_task(struct pi_cluster_task *task, void (*entry)(void *), void *arg);
void pi_cluster_task_stacks(struct pi_cluster_task *task, void *stacks, int slave_stack_size);
int pi_cluster_send_task_to_cl(struct pi_device *device, struct pi_cluster_task *task);

typedef enum { PI_FREQ_DOMAIN_FC, PI_FREQ_DOMAIN_CL, PI_FREQ_DOMAIN_PERIPH } pi_freq_domain_e;
int pi_freq_set(pi_freq_domain_e domain, uint32_t freq);
typedef enum { PI_PMU_VOLTAGE_DOMAIN_CHIP } pi_pmu_voltage_domain_e;
int pi_pmu_voltage_set(pi_pmu_voltage_domain_e domain, uint32_t voltage_mv);

#define PI_PERF_CYCLES 0
void pi_perf_conf(unsigned int events);
void pi_perf_reset(void);
void pi_perf_start(void);
void pi_perf_stop(void);
unsigned int pi_perf_read(int event);

typedef int pi_gpio_e;
typedef enum { PI_GPIO_INPUT, PI_GPIO_OUTPUT } pi_gpio_flags_e;
typedef int pi_pad_e;
typedef enum { PI_PAD_FUNC0, PI_PAD_FUNC1 } pi_pad_func_e;
void pi_pad_function_set(pi_pad_e pad, pi_pad_func_e function);
int pi_gpio_pin_configure(pi_gpio_e pin, pi_gpio_flags_e flags);
void pi_gpio_pin_write(pi_gpio_e pin, uint32_t value);

int pmsis_kickoff(void *arg);
void pmsis_exit(int err);
#endif
