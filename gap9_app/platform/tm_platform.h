/* The platform layer of a tinymyo-edge app: what main.c and the layer hooks need beyond PMSIS.
 *
 * One main.c and one network code build on four platforms:
 *   gvsoc, board  the GAP9 SDK's PMSIS (TM_PLATFORM_GAP9): cluster cycles from the performance counter;
 *   pulp-open     the open PULP SDK's PMSIS on GVSoC pulp-open (TM_PLATFORM_PULP_OPEN): the same counter, PULP
 *                 cluster cycles (not GAP9's);
 *   host          native gcc against shim/pmsis.h (TM_PLATFORM_HOST): a monotonic clock in nanoseconds;
 *   rv32          bare-metal rv32 under QEMU -icount (TM_PLATFORM_RV32): retired instructions (minstret).
 * Every number printed is labelled with TM_COUNTER_UNIT, so a host or rv32 count is never read as GAP9 cycles. */
#ifndef TM_PLATFORM_H
#define TM_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pmsis.h"

#if defined(TM_PLATFORM_GAP9)
#define TM_PLATFORM_NAME "gap9"
#define TM_COUNTER_UNIT "Cycles"
#define TM_COUNTER_PER "Cycle"
#define TM_COUNTER_SOURCE "GAP9 cluster core 0 performance counter (PI_PERF_CYCLES)"
typedef uint32_t tm_tick_t; /* pi_perf_read is 32-bit: differences wrap correctly below 2^32 cycles */
static inline tm_tick_t tm_ticks_now(void) { return (tm_tick_t)pi_perf_read(PI_PERF_CYCLES); }
#elif defined(TM_PLATFORM_PULP_OPEN)
#define TM_PLATFORM_NAME "pulp-open"
#define TM_COUNTER_UNIT "Cycles"
#define TM_COUNTER_PER "Cycle"
#define TM_COUNTER_SOURCE "pulp-open GVSoC cluster core 0 performance counter (PI_PERF_CYCLES; PULP cluster cycles, 8 cores; not GAP9)"
typedef uint32_t tm_tick_t; /* the open PULP SDK's pi_perf_read: 32-bit, as on GAP9 */
static inline tm_tick_t tm_ticks_now(void) { return (tm_tick_t)pi_perf_read(PI_PERF_CYCLES); }
#elif defined(TM_PLATFORM_RV32)
#define TM_PLATFORM_NAME "rv32"
#define TM_COUNTER_UNIT "Instructions"
#define TM_COUNTER_PER "Instruction"
#define TM_COUNTER_SOURCE "rv32 minstret under QEMU -icount shift=0 (retired instructions, one core, no SIMD)"
typedef uint64_t tm_tick_t;
static inline tm_tick_t tm_ticks_now(void) { return tm_shim_counter(); }
#elif defined(TM_PLATFORM_HOST)
#define TM_PLATFORM_NAME "host"
#define TM_COUNTER_UNIT "Nanoseconds"
#define TM_COUNTER_PER "Nanosecond"
#define TM_COUNTER_SOURCE "host monotonic clock (CLOCK_MONOTONIC), not GAP9 cycles"
typedef uint64_t tm_tick_t;
static inline tm_tick_t tm_ticks_now(void) { return tm_shim_counter(); }
#else
#error "define one of TM_PLATFORM_GAP9, TM_PLATFORM_HOST, TM_PLATFORM_RV32 (the app's Makefile does)"
#endif

/* Ticks from start to end; unsigned arithmetic makes a 32-bit counter's wrap-around harmless. */
static inline uint64_t tm_ticks_between(tm_tick_t start, tm_tick_t end) { return (uint64_t)(tm_tick_t)(end - start); }

/* -------------------------------------------------------------------------------------------- layer hooks */
/* Called by the network code through TM_LAYER_BEGIN / TM_LAYER_END (tm_layer_hooks.h). `name` must be a
 * string with static storage (a literal): only the pointer is kept. */
void tm_layer_begin(void);
void tm_layer_end(const char *name, uint64_t ops);
void tm_layers_reset(void);
/* Print "<layer>: Cycles: N, Operations: M, Operations/Cycle: r" per layer (unit per platform) and a total. */
void tm_layers_print(void);
uint64_t tm_layers_total_ticks(void);
uint64_t tm_layers_total_ops(void);

/* --------------------------------------------------------------------------------------------- printing */
/* Decimal text of v into buf (at least 21 bytes); returns buf. printf's %llu is not in every embedded libc. */
char *tm_u64_text(char *buf, uint64_t v);
/* "a.bc" = a / b to two decimals, into buf (at least 32 bytes); "inf" when b == 0. */
char *tm_ratio_text(char *buf, uint64_t num, uint64_t den);

/* ------------------------------------------------------------------------------------------------ files */
/* Read exactly `size` bytes of the host file `path` (host: stdio; rv32: semihosting; GAP9: the host file
 * system over the debug bridge). 0 on success, non-zero (after printing why) otherwise. */
int tm_file_read(const char *path, void *buffer, size_t size);
int tm_file_write(const char *path, const void *buffer, size_t size);

/* --------------------------------------------------------------------- operating point, power window */
#include "tm_chip.h" /* shared with the NNTool backend's main.c */

#endif /* TM_PLATFORM_H */
