/* platform=rv32: the PMSIS shim on bare-metal rv32 under QEMU (minstret counter, bump allocator, semihosting). */
#include "semihost.h"
#include "tm_platform.h"

/* Retired instructions. Exact under `qemu-system-riscv32 -icount shift=0,sleep=off`; host ticks without it. */
uint64_t tm_shim_counter(void)
{
    uint32_t high, low, high_again;
    do {
        __asm__ volatile("csrr %0, minstreth" : "=r"(high));
        __asm__ volatile("csrr %0, minstret" : "=r"(low));
        __asm__ volatile("csrr %0, minstreth" : "=r"(high_again));
    } while (high != high_again);
    return ((uint64_t)high << 32) | low;
}

extern char __heap_start[], __heap_end[]; /* link.ld */
static char *heap_next = __heap_start;

/* One bump allocator for every memory level; free releases only the most recent allocation (stack order,
 * which is how a statically planned network allocates). */
static void *bump_alloc(size_t size)
{
    size_t aligned = (size + 15u) & ~(size_t)15u;
    if ((size_t)(__heap_end - heap_next) < aligned) {
        printf("error: out of memory allocating %lu bytes\n", (unsigned long)size);
        return NULL;
    }
    void *chunk = heap_next;
    heap_next += aligned;
    return chunk;
}

static void bump_free(void *chunk, size_t size)
{
    size_t aligned = (size + 15u) & ~(size_t)15u;
    if ((char *)chunk + aligned == heap_next) heap_next = chunk;
}

void *pi_l2_malloc(size_t size) { return bump_alloc(size); }
void pi_l2_free(void *chunk, size_t size) { bump_free(chunk, size); }
void *pi_cl_l1_malloc(struct pi_device *device, size_t size)
{
    (void)device;
    return bump_alloc(size);
}
void pi_cl_l1_free(struct pi_device *device, void *chunk, size_t size)
{
    (void)device;
    bump_free(chunk, size);
}
void *pi_fc_l1_malloc(size_t size) { return bump_alloc(size); }
void pi_fc_l1_free(void *chunk, size_t size) { bump_free(chunk, size); }

void pmsis_exit(int status) { tm_semihost_exit(status); }

