/* The parts of the PMSIS shim that host and rv32 share: the performance counter on top of tm_shim_counter()
 * and the start/exit protocol. */
#include "tm_platform.h"

static uint64_t perf_base;

void pi_perf_reset(void) { perf_base = tm_shim_counter(); }
void pi_perf_start(void) {}
void pi_perf_stop(void) {}
unsigned int pi_perf_read(int event)
{
    (void)event;
    return (unsigned int)(tm_shim_counter() - perf_base);
}

int pmsis_kickoff(void *entry)
{
    void (*app_main)(void) = (void (*)(void))entry;
    app_main();
    return 0; /* app_main ends with pmsis_exit */
}
