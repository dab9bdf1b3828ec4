/* GAP9 PMSIS names that the open PULP SDK (pulp-platform/pulp-sdk d4b5bcdd, rtos/pmsis/pmsis_api) lacks, for the
 * pulp-open build of the app (force-included by the Makefile, platform=pulp-open). Each is written from the GAP9
 * SDK's public PMSIS (github GreenWaves-Technologies/gap_sdk, rtos/pmsis/pmsis_api/include/pmsis/drivers/pmu.h and
 * chips/gap8/pmu.h for pi_pmu_domain_e; cluster/cluster_sync/fc_to_cl_delegate.h for pi_cluster_task_stacks;
 * chips/vega/gpio.h, also in the pulp-sdk, for the pi_gpio_e encoding of GAP9's chip family) and
 * does on pulp-open what GVSoC's pulp-open models: PMU voltage and GPIO/pads are not modelled there (the pulp-sdk
 * declares pi_gpio_* and pi_pad_set_function but implements them for no pulp chip): tm_gap9_names_pulp_open.c
 * accepts them and returns 0. */
#ifndef TM_GAP9_NAMES_H
#define TM_GAP9_NAMES_H

#include "pmsis.h"

#if !defined(TM_PLATFORM_PULP_OPEN)
#error "tm_gap9_names.h is the pulp-open stand-in for GAP9-only PMSIS names; the GAP9 SDK has the real ones"
#endif

/* pmu.h (absent from the pulp-sdk's pmsis.h): power domains and the voltage call */
typedef enum {
    PI_PMU_DOMAIN_FC = 0, /* FC power domain */
    PI_PMU_DOMAIN_CL = 1, /* cluster power domain */
} pi_pmu_domain_e;
int pi_pmu_voltage_set(pi_pmu_domain_e domain, uint32_t voltage);

/* pi_gpio_e of GAP9's chip family (chips/vega/gpio.h; not included whole: the pulp-sdk's pmsis.h already has the
 * default pi_gpio_e): GPIO number, pad number, "is a GPIO" flag. */
#define PI_GPIO_NUM_SHIFT 0
#define PI_GPIO_NUM_MASK 0xFF
#define PI_GPIO_PAD_SHIFT 8
#define PI_GPIO_PAD_MASK 0xFF00
#define PI_GPIO_IS_GPIO_SHIFT 31
#define PI_GPIO_IS_GPIO_MASK 0x80000000

/* The GAP9 SDK sets the worker cores' stacks on the task; the pulp-sdk's struct pi_cluster_task has the same
 * fields (stacks, stack_size, slave_stack_size) but not this setter. */
static inline struct pi_cluster_task *pi_cluster_task_stacks(struct pi_cluster_task *task, void *stacks,
                                                             int slave_stack_size)
{
    task->stacks = stacks;
    task->slave_stack_size = (uint32_t)slave_stack_size;
    return task;
}

#endif /* TM_GAP9_NAMES_H */
