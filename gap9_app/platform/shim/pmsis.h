/* PMSIS host shim: the subset of the GAP9 SDK's PMSIS API that a tinymyo-edge app uses, for builds WITHOUT the
 * SDK (platform=host: native gcc; platform=rv32: bare-metal rv32 under QEMU). The same main.c and network code
 * compile against this header and against the SDK's real pmsis.h.
 *
 * Semantics here: one core. The cluster is the calling core (pi_cluster_send_task_to_cl calls the entry
 * directly, pi_cl_team_fork runs the function once as core 0 of a team of 1). Frequency, voltage and GPIO calls
 * are accepted and do nothing. The performance counter reads the platform's counter (host: a monotonic clock in
 * nanoseconds; rv32: minstret, retired instructions), so "cycles" printed by a shim build are NOT GAP9 cycles:
 * the app prints TM_COUNTER_NAME next to every number. */
#ifndef TM_PMSIS_SHIM_H
#define TM_PMSIS_SHIM_H

#include <stddef.h>
#include <stdint.h>

#define TM_PMSIS_SHIM 1

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------------------------------------------- devices */
struct pi_device {
    void *config;
    void *data;
};

static inline void pi_open_from_conf(struct pi_device *device, void *conf) { device->config = conf; device->data = 0; }

/* ----------------------------------------------------------------------------------------------- cluster */
struct pi_cluster_conf {
    int id;
    int cc_stack_size;
};

struct pi_cluster_task {
    void (*entry)(void *arg);
    void *arg;
    void *stacks;
    uint32_t stack_size;       /* cluster core 0 stack, bytes (ignored by the shim) */
    uint32_t slave_stack_size; /* worker core stacks, bytes (ignored by the shim) */
    int nb_cores;
};

static inline void pi_cluster_conf_init(struct pi_cluster_conf *conf) { conf->id = 0; conf->cc_stack_size = 0; }
static inline int pi_cluster_open(struct pi_device *device) { (void)device; return 0; }
static inline int pi_cluster_close(struct pi_device *device) { (void)device; return 0; }

static inline struct pi_cluster_task *pi_cluster_task(struct pi_cluster_task *task, void (*entry)(void *), void *arg)
{
    task->entry = entry;
    task->arg = arg;
    task->stacks = 0;
    task->stack_size = 0;
    task->slave_stack_size = 0;
    task->nb_cores = 1;
    return task;
}

static inline int pi_cluster_send_task_to_cl(struct pi_device *device, struct pi_cluster_task *task)
{
    (void)device;
    task->entry(task->arg);
    return 0;
}

/* GAP9 SDK: the worker cores' stack size (the master's is the cluster conf's cc_stack_size). */
static inline struct pi_cluster_task *pi_cluster_task_stacks(struct pi_cluster_task *task, void *stacks,
                                                             int slave_stack_size)
{
    task->stacks = stacks;
    task->slave_stack_size = (uint32_t)slave_stack_size;
    return task;
}

static inline int pi_core_id(void) { return 0; }
static inline int pi_cluster_id(void) { return 0; }
static inline int pi_cl_cluster_nb_cores(void) { return 1; }
static inline int pi_cl_team_nb_cores(void) { return 1; }
static inline void pi_cl_team_barrier(void) {}
static inline void pi_cl_team_fork(int nb_cores, void (*entry)(void *), void *arg)
{
    (void)nb_cores;
    entry(arg);
}

/* ------------------------------------------------------------------------------------- frequency, voltage */
/* Names and signatures as the public PMSIS headers declare them (tests/pmsis_decls/pmsis.h names the sources). */
typedef enum { PI_FREQ_DOMAIN_FC = 0, PI_FREQ_DOMAIN_CL = 1, PI_FREQ_DOMAIN_PERIPH = 2 } pi_freq_domain_e;
typedef enum { PI_PMU_DOMAIN_FC = 0, PI_PMU_DOMAIN_CL = 1 } pi_pmu_domain_e;

static inline int32_t pi_freq_set(pi_freq_domain_e domain, uint32_t freq_hz) { (void)domain; (void)freq_hz; return 0; }
static inline uint32_t pi_freq_get(pi_freq_domain_e domain) { (void)domain; return 0; }
static inline int pi_pmu_voltage_set(pi_pmu_domain_e domain, uint32_t voltage_mv)
{
    (void)domain;
    (void)voltage_mv;
    return 0;
}

/* ------------------------------------------------------------------------------------ performance counter */
#define PI_PERF_CYCLES 0
#define PI_PERF_ACTIVE_CYCLES 1
#define PI_PERF_INSTR 2

/* The platform counter (host ns / rv32 minstret), 64-bit; defined in tm_platform_<platform>.c. */
uint64_t tm_shim_counter(void);

static inline void pi_perf_conf(unsigned int events) { (void)events; }
void pi_perf_reset(void);
void pi_perf_start(void);
void pi_perf_stop(void);
unsigned int pi_perf_read(int event);

/* ------------------------------------------------------------------------------------------ GPIO, pads */
/* The public GPIO driver: a device per 32 GPIOs, pi_gpio_e encoding the pad and GPIO numbers, flags as bit fields
 * (tests/pmsis_decls/pmsis.h). Accepted and ignored here. */
#define PI_GPIO_NUM_MASK 0xFF
#define PI_GPIO_PAD_SHIFT 8
#define PI_GPIO_PAD_MASK 0xFF00
#define PI_GPIO_IS_GPIO_SHIFT 31
typedef enum { PI_GPIO_A00 = (int)(1u << PI_GPIO_IS_GPIO_SHIFT) } pi_gpio_e;
typedef enum { PI_GPIO_INPUT = 0, PI_GPIO_OUTPUT = 1 << 2 } pi_gpio_flags_e;
typedef enum { PI_PAD_000 = 0, PI_PAD_099 = 99 } pi_pad_e;
typedef enum { PI_PAD_FUNC0 = 0, PI_PAD_FUNC1 = 1, PI_PAD_FUNC2 = 2, PI_PAD_FUNC3 = 3 } pi_pad_func_e;
struct pi_gpio_conf {
    int device;
    int32_t port;
};

static inline void pi_pad_set_function(pi_pad_e pad, pi_pad_func_e function)
{
    (void)pad;
    (void)function;
}
static inline void pi_gpio_conf_init(struct pi_gpio_conf *conf) { conf->device = 0, conf->port = 0; }
static inline int pi_gpio_open(struct pi_device *device) { (void)device; return 0; }
static inline int pi_gpio_pin_configure(struct pi_device *device, pi_gpio_e gpio, pi_gpio_flags_e flags)
{
    (void)device;
    (void)gpio;
    (void)flags;
    return 0;
}
static inline int pi_gpio_pin_write(struct pi_device *device, uint32_t pin, uint32_t value)
{
    (void)device;
    (void)pin;
    (void)value;
    return 0;
}

/* -------------------------------------------------------------------------------------- memory, start/exit */
void *pi_l2_malloc(size_t size);
void pi_l2_free(void *chunk, size_t size);
void *pi_cl_l1_malloc(struct pi_device *device, size_t size);
void pi_cl_l1_free(struct pi_device *device, void *chunk, size_t size);
void *pi_fc_l1_malloc(size_t size);
void pi_fc_l1_free(void *chunk, size_t size);

/* pmsis_kickoff runs the application's main function; pmsis_exit ends the program with that status. */
int pmsis_kickoff(void *entry);
void pmsis_exit(int status) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif

#endif /* TM_PMSIS_SHIM_H */
