/* platform=pulp-open: the PMSIS shim on a bare-metal PULP SoC (GVSoC's pulp-open target): semihosting console and
 * files, cluster start-up and the 8-core fork, cluster DMA (L2 <-> L1), the uDMA HyperFlash reader (L3 -> L2), the
 * L1 staging of linear-layer tiles, and the cycle counter. Register addresses: tm_pulp_open.h. */
#include <string.h>

#include "semihost.h"
#include "tm_arch.h"
#include "tm_kernels.h"
#include "tm_platform.h"
#include "tm_pulp_open.h"

/* ------------------------------------------------------------------------------------------- semihosting */
enum { SYS_OPEN = 0x01, SYS_CLOSE = 0x02, SYS_WRITE0 = 0x04, SYS_WRITE = 0x05, SYS_READ = 0x06, SYS_FLEN = 0x0C };

long tm_semihost_call(long operation, void *argument); /* crt0.S */

void tm_semihost_write0(const char *text) { tm_semihost_call(SYS_WRITE0, (void *)text); }

int tm_semihost_open(const char *path, const char *mode)
{
    long block[3] = {(long)path, mode[0] == 'w' ? 5 : 1, (long)strlen(path)}; /* 1 = "rb", 5 = "wb" */
    return (int)tm_semihost_call(SYS_OPEN, block);
}

/* GVSoC takes the handle itself (not a parameter block) for CLOSE and FLEN. */
int tm_semihost_close(int handle) { return (int)tm_semihost_call(SYS_CLOSE, (void *)(long)handle); }
long tm_semihost_flen(int handle) { return tm_semihost_call(SYS_FLEN, (void *)(long)handle); }

size_t tm_semihost_read(int handle, void *buffer, size_t size)
{
    long block[3] = {handle, (long)buffer, (long)size};
    return size - (size_t)tm_semihost_call(SYS_READ, block); /* the call returns the bytes NOT read */
}

size_t tm_semihost_write(int handle, const void *buffer, size_t size)
{
    long block[3] = {handle, (long)buffer, (long)size};
    return size - (size_t)tm_semihost_call(SYS_WRITE, block);
}

/* The exact status through the SoC control register (semihosting's exit only tells success from failure). */
void tm_semihost_exit(int status)
{
    TM_REG32(TM_APB_SOC_CORESTATUS) = 0x80000000u | ((uint32_t)status & 0x7FFFFFFFu);
    for (;;) __asm__ volatile("wfi");
}

void pmsis_exit(int status) { tm_semihost_exit(status); }

/* ---------------------------------------------------------------------------------------------- counter */
/* The cycle counter of the core that reads it (cluster core 0 during the inference). GVSoC has no mcycleh: the
 * high word counts the wraps seen between reads (one read per layer is far more often than every 2^32 cycles). */
uint64_t tm_shim_counter(void)
{
    static uint32_t high, last;
    uint32_t low;
    __asm__ volatile("csrr %0, mcycle" : "=r"(low));
    if (low < last) high++;
    last = low;
    return ((uint64_t)high << 32) | low;
}

/* -------------------------------------------------------------------------------------------- cluster */
/* State shared by the FC and the cluster, in TCDM (cheap to poll for the cluster; zeroed by the FC before the
 * first start, since the loader does not clear NOLOAD sections). */
typedef struct {
    void (*volatile task)(void *);
    void *volatile task_arg;
    volatile uint32_t task_seq;  /* written by the FC: a new cluster task */
    volatile uint32_t task_done; /* written by core 0: the task sequence number it finished */
    void (*volatile fork_fn)(void *);
    void *volatile fork_arg;
} tm_cluster_state_t;

static tm_cluster_state_t cluster_state __attribute__((section(".l1bss")));
static int cluster_booted;
extern void _start(void);

/* Hardware barrier 0 of the event unit over all 8 cores: each core sleeps in the load until all have arrived. */
static void cluster_barrier(void)
{
    uint32_t mask = (1u << TM_PULP_CORES) - 1u;
    TM_REG32(TM_EU_DEMUX + TM_EU_CORE_MASK_OR) = 1u << TM_EU_EVT_BARRIER;
    TM_REG32(TM_EU_BARRIER(0) + TM_EU_HW_BARR_TRIGGER_MASK) = mask;
    TM_REG32(TM_EU_BARRIER(0) + TM_EU_HW_BARR_TARGET_MASK) = mask;
    (void)TM_REG32(TM_EU_BARRIER(0) + TM_EU_HW_BARR_TRIGGER_WAIT_CLEAR);
}

/* Core 0 and the workers meet at the barrier twice per fork: once to start fn, once when all have finished it. */
void tm_pulp_fork(void (*fn)(void *), void *arg)
{
    cluster_state.fork_fn = fn;
    cluster_state.fork_arg = arg;
    cluster_barrier();
    fn(arg);
    cluster_barrier();
}

void tm_pulp_cluster_main(uint32_t core)
{
    if (core != 0) { /* workers: forever one fork after another */
        for (;;) {
            cluster_barrier();
            cluster_state.fork_fn(cluster_state.fork_arg);
            cluster_barrier();
        }
    }
    uint32_t seen = 0;
    for (;;) { /* core 0: the cluster tasks the FC sends */
        while (cluster_state.task_seq == seen) {
        }
        seen = cluster_state.task_seq;
        cluster_state.task(cluster_state.task_arg);
        cluster_state.task_done = seen;
    }
}

/* FC side: the first call enables the cluster instruction cache and boots the 8 cores at _start. */
int pi_cluster_send_task_to_cl(struct pi_device *device, struct pi_cluster_task *task)
{
    (void)device;
    if (!cluster_booted) {
        memset((void *)&cluster_state, 0, sizeof cluster_state);
        TM_REG32(TM_CL_ICACHE_ENABLE) = 0xFFFFFFFFu;
        for (int i = 0; i < TM_PULP_CORES; i++) TM_REG32(TM_CL_BOOT_ADDR(i)) = (uint32_t)(uintptr_t)_start;
        TM_REG32(TM_CL_FETCH_EN) = (1u << TM_PULP_CORES) - 1u;
        cluster_booted = 1;
    }
    cluster_state.task = task->entry;
    cluster_state.task_arg = task->arg;
    uint32_t seq = cluster_state.task_seq + 1u;
    cluster_state.task_seq = seq;
    while (cluster_state.task_done != seq) {
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ cluster DMA */
#define TM_MCHAN_CHUNK 32768u /* bytes per MCHAN command (its size field is 16 bits) */

static int dma_copy(uint32_t l1, uint32_t l2, uint32_t bytes, int l2_to_l1)
{
    int id = 0;
    for (uint32_t done = 0; done < bytes; done += TM_MCHAN_CHUNK) {
        uint32_t n = bytes - done < TM_MCHAN_CHUNK ? bytes - done : TM_MCHAN_CHUNK;
        id = (int)TM_REG32(TM_MCHAN + TM_MCHAN_CMD); /* reading CMD allocates a transfer id */
        TM_REG32(TM_MCHAN + TM_MCHAN_CMD) = n | (l2_to_l1 ? TM_MCHAN_EXT2LOC : 0u) | TM_MCHAN_INC;
        TM_REG32(TM_MCHAN + TM_MCHAN_CMD) = l1 + done;
        TM_REG32(TM_MCHAN + TM_MCHAN_CMD) = l2 + done;
        if (done + n < bytes) tm_pulp_dma_wait(id); /* only the last chunk is left in flight */
    }
    return id;
}

int tm_pulp_dma_in(void *l1, const void *l2, uint32_t bytes)
{
    return dma_copy((uint32_t)(uintptr_t)l1, (uint32_t)(uintptr_t)l2, bytes, 1);
}

int tm_pulp_dma_out(void *l2, const void *l1, uint32_t bytes)
{
    return dma_copy((uint32_t)(uintptr_t)l1, (uint32_t)(uintptr_t)l2, bytes, 0);
}

void tm_pulp_dma_wait(int id)
{
    while (TM_REG32(TM_MCHAN + TM_MCHAN_STATUS) & (1u << id)) {
    }
    TM_REG32(TM_MCHAN + TM_MCHAN_STATUS) = 1u << id; /* free the id */
}

/* ----------------------------------------------------------------------------------- L3: HyperFlash uDMA */
#define TM_UDMA_CHUNK 32768u

static void hyper_wait(void)
{
    while (TM_REG32(TM_HYPER_CH0 + TM_HY_STATUS) & 1u) {
    }
}

static void hyper_setup(void)
{
    static int ready;
    if (!ready) {
        TM_REG32(TM_UDMA_CG) = TM_REG32(TM_UDMA_CG) | (1u << TM_UDMA_HYPER_ID); /* un-gate the HyperBus */
        TM_REG32(TM_HYPER_COMMON + TM_HY_T_LATENCY) = 6;
        TM_REG32(TM_HYPER_COMMON + TM_HY_MEM_SEL) = 1; /* chip select 1: HyperFlash */
        ready = 1;
    }
}

/* One uDMA read of at most TM_UDMA_CHUNK bytes, left running (hyper_wait ends it). */
static void hyper_read_start(uint32_t l2, uint32_t l3, uint32_t bytes)
{
    hyper_setup();
    TM_REG32(TM_HYPER_CH0 + TM_HY_RX_SADDR) = l2;
    TM_REG32(TM_HYPER_CH0 + TM_HY_RX_SIZE) = bytes;
    TM_REG32(TM_HYPER_CH0 + TM_HY_CA_SETUP) = 0x4u; /* read, memory space */
    TM_REG32(TM_HYPER_CH0 + TM_HY_EXT_ADDR) = l3 - TM_PULP_L3_BASE;
    TM_REG32(TM_HYPER_CH0 + TM_HY_RX_CFG) = TM_UDMA_CFG_EN;
}

void tm_pulp_l3_read(void *l2, const void *l3, uint32_t bytes)
{
    uint32_t src = (uint32_t)(uintptr_t)l3, dst = (uint32_t)(uintptr_t)l2;
    for (uint32_t done = 0; done < bytes; done += TM_UDMA_CHUNK) {
        hyper_read_start(dst + done, src + done, bytes - done < TM_UDMA_CHUNK ? bytes - done : TM_UDMA_CHUNK);
        hyper_wait();
    }
}

/* ------------------------------------------------------------------------------------- L1 tile staging */
/* One L1 area for a linear tile: the weight rows first (kept while the next tiles use the same slab), the
 * activation rows after them. L3 weights come through an L2 slab buffer. */
static uint8_t stage_l1[TM_PULP_STAGE_BYTES] __attribute__((section(".l1bss"), aligned(16)));
static uint8_t slab_l2[2][TM_PULP_SLAB_BYTES] __attribute__((aligned(16))); /* L3 slabs: one read, one used */
static const void *prefetch_src; /* the L3 slab being read into slab_l2[prefetch_buf] while a tile computes */
static uint32_t prefetch_bytes;
static int prefetch_buf, prefetch_busy;
static const void *staged_w;
static uint32_t staged_w_bytes;
static uint32_t stage_used; /* bytes of stage_l1 in use by the current tile */

void tm_pulp_stage_invalidate(void) { staged_w = NULL; }

/* The L2 copy of an L3 weight slab: the one prefetched while the previous tile computed if it is this one, else
 * read now; then the next slab of the same matrix (the next tile's, as the network code walks the slabs in order)
 * starts reading into the other buffer: the uDMA works while the cluster computes. */
static const int8_t *l3_slab(const int8_t *l3, uint32_t bytes)
{
    if (bytes > TM_PULP_SLAB_BYTES) {
        printf("error: a weight tile of %lu bytes exceeds the L2 slab buffer\n", (unsigned long)bytes);
        tm_semihost_exit(70);
    }
    if (prefetch_busy)
        hyper_wait(), prefetch_busy = 0;
    int buf = prefetch_buf;
    if (prefetch_src != l3 || prefetch_bytes != bytes) {
        buf ^= 1;
        tm_pulp_l3_read(slab_l2[buf], l3, bytes);
    }
    prefetch_src = NULL;
    if (bytes <= TM_UDMA_CHUNK) {
        prefetch_buf = buf ^ 1, prefetch_src = l3 + bytes, prefetch_bytes = bytes, prefetch_busy = 1;
        hyper_read_start((uint32_t)(uintptr_t)slab_l2[prefetch_buf], (uint32_t)(uintptr_t)prefetch_src, bytes);
    }
    return (const int8_t *)slab_l2[buf];
}

void tm_pulp_stage_linear(const int8_t **w, uint32_t w_bytes, const uint8_t **x, uint32_t x_bytes)
{
    uint32_t w_room = (w_bytes + 15u) & ~15u;
    const int8_t *src = *w;
    if (staged_w != src || staged_w_bytes != w_bytes) {
        staged_w = NULL;
        if (tm_pulp_in_l3(src))
            src = l3_slab(src, w_bytes);
        if (w_room > TM_PULP_STAGE_BYTES) { /* too big for L1: computed from L2 (slower, same result) */
            *w = src;
            return;
        }
        tm_pulp_dma_wait(tm_pulp_dma_in(stage_l1, src, w_bytes));
        staged_w = *w;
        staged_w_bytes = w_bytes;
    }
    *w = (const int8_t *)stage_l1;
    stage_used = w_room;
    *x = tm_pulp_stage_extra(*x, x_bytes);
}

void tm_pulp_stage_begin(void)
{
    staged_w = NULL;
    stage_used = 0;
}

static uint8_t *out_l2, *out_l1;
static uint32_t out_bytes;

uint8_t *tm_pulp_stage_out(uint8_t *dst, uint32_t bytes)
{
    uint32_t room = (bytes + 15u) & ~15u;
    out_l2 = NULL;
    if (stage_used + room > TM_PULP_STAGE_BYTES)
        return dst;
    out_l2 = dst, out_l1 = stage_l1 + stage_used, out_bytes = bytes;
    stage_used += room;
    return out_l1;
}

void tm_pulp_stage_out_flush(void)
{
    if (out_l2 != NULL)
        tm_pulp_dma_wait(tm_pulp_dma_out(out_l2, out_l1, out_bytes));
    out_l2 = NULL;
}

const void *tm_pulp_stage_extra(const void *src, uint32_t bytes)
{
    uint32_t room = (bytes + 15u) & ~15u;
    if (src == NULL || stage_used + room > TM_PULP_STAGE_BYTES)
        return src;
    uint8_t *dst = stage_l1 + stage_used;
    tm_pulp_dma_wait(tm_pulp_dma_in(dst, src, bytes));
    stage_used += room;
    return dst;
}

/* Scratch, not copies (the attention kernel fills it), all or none; the exp tables are copied. The linear weight
 * copy is lost (same L1 area). */
uint8_t *tm_pulp_attn_q;
int8_t *tm_pulp_attn_v;

void tm_pulp_stage_attention(int8_t **k_s8, int32_t **k_sum, uint8_t **row_u8, const int32_t **exp_lut, int n,
                             int hd, int heads)
{
    uint32_t k_room = ((uint32_t)(n * hd) + 15u) & ~15u, sum_room = ((uint32_t)n * 4u + 15u) & ~15u;
    uint32_t rows_room = ((uint32_t)(TM_PULP_CORES * TM_ATTN_ROWS * n) + 15u) & ~15u;
    uint32_t lut_room = (uint32_t)heads * 1024u, q_room = ((uint32_t)(TM_PULP_CORES * 4 * hd) + 15u) & ~15u;
    if ((uint8_t *)*k_s8 == stage_l1)
        return; /* staged by an earlier head of this op */
    uint32_t v_room = ((uint32_t)(TM_PULP_CORES * 2 * n) + 15u) & ~15u;
    tm_pulp_attn_q = NULL, tm_pulp_attn_v = NULL;
    if (k_room + sum_room + rows_room + lut_room + q_room > TM_PULP_STAGE_BYTES)
        return; /* too big: stays in L2 */
    staged_w = NULL;
    uint8_t *at = stage_l1;
    *k_s8 = (int8_t *)at, at += k_room;
    *k_sum = (int32_t *)(void *)at, at += sum_room;
    *row_u8 = at, at += rows_room;
    tm_pulp_dma_wait(tm_pulp_dma_in(at, *exp_lut, lut_room));
    *exp_lut = (const int32_t *)(const void *)at, at += lut_room;
    tm_pulp_attn_q = at, at += q_room;
    if ((uint32_t)(at - stage_l1) + v_room <= TM_PULP_STAGE_BYTES)
        tm_pulp_attn_v = (int8_t *)at, at += v_room;
    stage_used = (uint32_t)(at - stage_l1);
}
