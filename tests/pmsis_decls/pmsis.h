/* PMSIS declarations for compile checks of the GAP9 code path (tests only; nothing links against this).
 *
 * Written from the PUBLIC PMSIS headers, not from what the app calls; each block names its source:
 *   [G] github GreenWaves-Technologies/gap_sdk a23026507efe57410b98c5945544cff3150eb996, rtos/pmsis/api/include/
 *       (the GAP9 predecessor "vega" chip headers carry the include guard __PMSIS_CHIPS_GAP9_*), rtos/pmsis/bsp/include
 *   [P] github pulp-platform/pulp-sdk d4b5bcdd6e416a402a6e22a3e04f29402424cb21, rtos/pmsis/pmsis_api/include/,
 *       rtos/pmsis/pmsis_bsp/include, rtos/pulpos/common/include (the implementation-defined parts)
 * Only the names the app, the kernels, platform/ and the NNTool backend's main.c need are declared. Functions that
 * the public headers define `static inline` are plain prototypes here (same signature): a compile check only.
 * Structures whose layout the public API leaves to the implementation (pi_cl_dma_cmd_s, pi_task) get placeholder
 * storage, marked so. Where [G] and [P] differ, the comment says so; the GAP9 form ([G], __GAP9__ branches) is used. */
#ifndef TM_PMSIS_DECLS_PMSIS_H
#define TM_PMSIS_DECLS_PMSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h> /* the SDKs' pmsis.h brings printf */

/* ---- devices: [G] pmsis/pmsis_types.h:53-86, pmsis/device.h:30 ([P] same) ------------------------------------ */
typedef enum {
    PI_DEVICE_UNKWN_TYPE,
    PI_DEVICE_CLUSTER_TYPE,
    PI_DEVICE_HYPERBUS_TYPE,
    PI_DEVICE_SPI_TYPE,
    PI_DEVICE_CPI_TYPE,
    PI_DEVICE_CSI2_TYPE,
    PI_DEVICE_I2C_TYPE,
    PI_DEVICE_GPIO_TYPE,
    PI_DEVICE_PWM_TYPE
} pi_device_e;
struct pi_device_api;
typedef struct pi_device {
    struct pi_device_api *api;
    void *config;
    void *data;
} pi_device_t;
/* pi_task: declared `typedef struct pi_task pi_task_t` by [G] pmsis_types.h:65, its layout is the implementation's:
 * placeholder storage. */
struct pi_task { uint32_t implementation_defined[16]; };
typedef struct pi_task pi_task_t;
void pi_open_from_conf(struct pi_device *device, void *conf);

/* ---- OS: [G] pmsis/rtos/os_frontend_api/os.h:77,87 (static inline there) ------------------------------------- */
int pmsis_kickoff(void *arg);
void pmsis_exit(int err);

/* ---- memory placement: implementation-defined; [P] rtos/pulpos/common/include/pos/data/data.h:54,62; [G] the
 * FreeRTOS port's cores/TARGET_RISCV_32/core_gap_memory_define.h:63,65 (GAP_L1_GLOBAL_DATA / GAP_L2_DATA) -------- */
#define PI_L2 __attribute__((section(".l2_data")))
#define PI_CL_L1 __attribute__((section(".data_l1")))

/* ---- allocators: [G] pmsis/rtos/malloc/l2_malloc.h:55,63 (int sizes), cl_l1_malloc.h:55 ---------------------- */
void *pi_l2_malloc(int size);
void pi_l2_free(void *chunk, int size);
void *pi_cl_l1_malloc(struct pi_device *device, uint32_t size);

/* ---- cluster: [G] pmsis/cluster/cl_pmsis_types.h:57-67 (conf; [P]'s conf has no cc_stack_size: core 0's stack is
 * sized on the task there), 113-133 (the __GAP9__ task: no stack_size, core 0's
 * stack is conf.cc_stack_size; [P] has the other branch, with stack_size), cluster_sync/fc_to_cl_delegate.h:74-131,
 * 351 ---------------------------------------------------------------------------------------------------------- */
typedef enum { PI_CLUSTER_FLAGS_FORK_BASED = 0, PI_CLUSTER_FLAGS_TASK_BASED = (1 << 0) } pi_cluster_flags_e;
struct pmsis_event_kernel_wrap;
struct pi_cluster_conf {
    pi_device_e device_type;
    int id;
    uint32_t cc_stack_size;
    uint32_t scratch_size;
    void *heap_start;
    uint32_t heap_size;
    struct pmsis_event_kernel_wrap *event_kernel;
    pi_cluster_flags_e flags;
};
typedef struct pi_cluster_task {
    void (*entry)(void *);
    void *arg;
    void *stacks;
    uint32_t slave_stack_size;
    int nb_cores;
    struct pi_task *completion_callback;
    int stack_allocated;
    struct pi_cluster_task *next;
    int core_mask;
    uint32_t scratch_size;
    uint8_t priority;
} pi_cluster_task_t;
void pi_cluster_conf_init(struct pi_cluster_conf *conf);
int pi_cluster_open(struct pi_device *device);
int pi_cluster_close(struct pi_device *device);
struct pi_cluster_task *pi_cluster_task(struct pi_cluster_task *task, void (*entry)(void *), void *arg);
pi_cluster_task_t *pi_cluster_task_stacks(pi_cluster_task_t *task, void *stacks, int stack_size);
int pi_cluster_send_task_to_cl(struct pi_device *device, struct pi_cluster_task *task);

/* ---- team: [G] pmsis/cluster/cluster_team/cl_team.h:89 (PI_INLINE_CL_TEAM_0; [P] a plain prototype). pi_core_id
 * is the implementation's: [P] pos/implem/implem.h:42, [G] FreeRTOS port pmsis/targets/target.h:111, both
 * `static inline uint32_t pi_core_id()` ------------------------------------------------------------------------ */
void pi_cl_team_fork(int nb_cores, void (*entry)(void *), void *arg);
void pi_cl_team_barrier(void); /* [G] cl_team.h:216, [P] cl_team.h:128 */
uint32_t pi_core_id(void);
uint32_t pi_cluster_id(void);

/* ---- cluster DMA: [G] pmsis/cluster/dma/cl_dma.h:59-65, 75, 111-142. The command's layout is the implementation's
 * (typedef only in the API): placeholder storage. [G] CL_DMA_COMMON has `uint32_t size`, [P] `uint16_t size`: one
 * pulp-sdk command carries < 64 KiB (platform/pmsis/tm_xfer_pmsis.c splits for both). -------------------------- */
typedef enum { PI_CL_DMA_DIR_LOC2EXT = 0, PI_CL_DMA_DIR_EXT2LOC = 1 } pi_cl_dma_dir_e;
struct pi_cl_dma_cmd_s { uint32_t implementation_defined[8]; };
typedef struct pi_cl_dma_cmd_s pi_cl_dma_cmd_t;
void pi_cl_dma_cmd(uint32_t ext, uint32_t loc, uint32_t size, pi_cl_dma_dir_e dir, pi_cl_dma_cmd_t *cmd);
void pi_cl_dma_cmd_2d(uint32_t ext, uint32_t loc, uint32_t size, uint32_t stride, uint32_t length, pi_cl_dma_dir_e dir,
                      pi_cl_dma_cmd_t *cmd);
void pi_cl_dma_cmd_wait(pi_cl_dma_cmd_t *cmd);

/* ---- performance counters: [G] pmsis/drivers/perf.h:62-101 (static inline), chips/vega/perf.h:94-130 --------- */
typedef enum {
    PI_PERF_CYCLES = 16,
    PI_PERF_ACTIVE_CYCLES = 0,
    PI_PERF_INSTR = 1,
} pi_perf_event_e;
void pi_perf_conf(unsigned events);
void pi_perf_reset(void);
void pi_perf_start(void);
void pi_perf_stop(void);
unsigned int pi_perf_read(int id);

/* ---- frequencies: [G] pmsis/rtos/os_frontend_api/freq.h:28-56 ([P]: static inline, plus PI_FREQ_NB_DOMAINS) --- */
typedef enum { PI_FREQ_DOMAIN_FC = 0, PI_FREQ_DOMAIN_CL = 1, PI_FREQ_DOMAIN_PERIPH = 2 } pi_freq_domain_e;
uint32_t pi_freq_get(pi_freq_domain_e domain);
int32_t pi_freq_set(pi_freq_domain_e domain, uint32_t freq);

/* ---- PMU: [G] pmsis/chips/vega/pmu.h:49-53 (pi_pmu_domain_e); the prototype is commented out in
 * pmsis/drivers/pmu.h:52 and implemented with this signature in rtos/freeRTOS/vendors/gwt/vega/pmsis/drivers/pmu/
 * pmu.c:49. [P] has no pi_pmu_domain_e. Note: the public GAP9 app nn_menu_gap9/mobilenet main.c:95 calls
 * pi_pmu_voltage_set(PI_PMU_VOLTAGE_DOMAIN_CHIP, ...): a GAP9-SDK name that no public header declares. ----------- */
typedef enum { PI_PMU_DOMAIN_FC = 0, PI_PMU_DOMAIN_CL = 1 } pi_pmu_domain_e;
int pi_pmu_voltage_set(pi_pmu_domain_e domain, uint32_t voltage);

/* ---- pads: [G] pmsis/drivers/pad.h:47-53,107; chips/vega/pad.h:50-153 (PI_PAD_000 = 0 .. PI_PAD_099 = 99, each
 * pad number its own value; only the range ends are listed here). [P] drivers/pad.h: same function. ----------- */
typedef enum { PI_PAD_000 = 0, PI_PAD_099 = 99 } pi_pad_e;
typedef enum { PI_PAD_FUNC0 = 0, PI_PAD_FUNC1 = 1, PI_PAD_FUNC2 = 2, PI_PAD_FUNC3 = 3 } pi_pad_func_e;
void pi_pad_set_function(pi_pad_e pad, pi_pad_func_e function);

/* ---- GPIO: [G] pmsis/drivers/gpio.h:45-69 (flags: bit fields, PI_GPIO_OUTPUT = 1 << 2), 93-174 (conf, open,
 * configure, write: a device and an int status); chips/vega/gpio.h:30-136: pi_gpio_e = (1 << 31) | (pad << 8) |
 * gpio number (values listed there: PI_GPIO_A00 .. PI_GPIO_A63; the GAP9 SDK's measurement helper uses
 * PI_GPIO_A89, outside that list). [P]: same drivers/gpio.h. ---------------------------------------------------- */
#define PI_GPIO_PULL_OFFSET (0)
#define PI_GPIO_DRIVE_OFFSET (1)
#define PI_GPIO_MODE_OFFSET (2)
typedef enum {
    PI_GPIO_PULL_DISABLE = (0 << PI_GPIO_PULL_OFFSET),
    PI_GPIO_PULL_ENABLE = (1 << PI_GPIO_PULL_OFFSET),
    PI_GPIO_DRIVE_STRENGTH_LOW = (0 << PI_GPIO_DRIVE_OFFSET),
    PI_GPIO_DRIVE_STRENGTH_HIGH = (1 << PI_GPIO_DRIVE_OFFSET),
    PI_GPIO_INPUT = (0 << PI_GPIO_MODE_OFFSET),
    PI_GPIO_OUTPUT = (1 << PI_GPIO_MODE_OFFSET)
} pi_gpio_flags_e;
#define PI_GPIO_NUM_SHIFT 0
#define PI_GPIO_NUM_MASK 0xFF
#define PI_GPIO_PAD_SHIFT 8
#define PI_GPIO_PAD_MASK 0xFF00
#define PI_GPIO_IS_GPIO_SHIFT 31
#define PI_GPIO_IS_GPIO_MASK 0x80000000
typedef enum {
    PI_GPIO_A00 = ((1u << PI_GPIO_IS_GPIO_SHIFT) | (PI_PAD_000 << PI_GPIO_PAD_SHIFT) | 0),
} pi_gpio_e;
struct pi_gpio_conf {
    pi_device_e device;
    int32_t port;
};
void pi_gpio_conf_init(struct pi_gpio_conf *conf);
int pi_gpio_open(struct pi_device *device);
int pi_gpio_pin_configure(struct pi_device *device, pi_gpio_e gpio, pi_gpio_flags_e flags);
int pi_gpio_pin_write(struct pi_device *device, uint32_t pin, uint32_t value);

#endif /* TM_PMSIS_DECLS_PMSIS_H */
