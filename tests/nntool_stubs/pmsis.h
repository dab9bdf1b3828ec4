/* Host stand-in for the few PMSIS calls the NNTool backend's main.c makes (tests only): the cluster task runs
 * inline, GPIO writes are recorded so the test can check the power window, pmsis_exit ends the process. */
#ifndef NNTOOL_TEST_PMSIS_H
#define NNTOOL_TEST_PMSIS_H
#include <stdlib.h>

#define PI_L2
#define PI_PMU_VOLTAGE_DOMAIN_CHIP 0
#define PI_FREQ_DOMAIN_FC 0
#define PI_FREQ_DOMAIN_CL 1
#define PI_PAD_FUNC1 1
#define PI_GPIO_OUTPUT 1

struct pi_device { int opened; };
struct pi_cluster_conf { int id; int cc_stack_size; };
struct pi_cluster_task { void (*entry)(void *); void *arg; };

extern int stub_gpio_level;
extern int stub_gpio_rises;

static inline void pi_cluster_conf_init(struct pi_cluster_conf *conf) { conf->id = 0; conf->cc_stack_size = 0; }
static inline void pi_open_from_conf(struct pi_device *dev, void *conf) { (void)conf; dev->opened = 0; }
static inline int pi_cluster_open(struct pi_device *dev) { dev->opened = 1; return 0; }
static inline int pi_cluster_close(struct pi_device *dev) { dev->opened = 0; return 0; }
static inline int pi_freq_set(int domain, int hz) { (void)domain; return hz > 0 ? 0 : -1; }
static inline int pi_pmu_voltage_set(int domain, int mv) { (void)domain; return mv > 0 ? 0 : -1; }
static inline void pi_pad_function_set(int pad, int function) { (void)pad; (void)function; }
static inline int pi_gpio_pin_configure(void *dev, int pin, int flags) { (void)dev; (void)pin; (void)flags; return 0; }
static inline void pi_gpio_pin_write(void *dev, int pin, int level)
{
    (void)dev; (void)pin;
    if (level && !stub_gpio_level) stub_gpio_rises++;
    stub_gpio_level = level;
}
static inline struct pi_cluster_task *pi_cluster_task(struct pi_cluster_task *t, void (*entry)(void *), void *arg)
{
    t->entry = entry; t->arg = arg; return t;
}
static inline void pi_cluster_task_stacks(struct pi_cluster_task *t, void *stacks, int size) { (void)t; (void)stacks; (void)size; }
static inline int pi_cluster_send_task_to_cl(struct pi_device *dev, struct pi_cluster_task *t)
{
    if (!dev->opened) abort();
    t->entry(t->arg);
    return 0;
}
static inline void pmsis_exit(int status) { exit(status); }
static inline int pmsis_kickoff(void *entry) { return ((int (*)(void))entry)(); }
#endif
