/* Memory map and peripheral registers of a PULP SoC as GVSoC's pulp-open target models it (the values the
 * bare-metal start-up, cluster, DMA and uDMA code of platform/pulp-open use). */
#ifndef TM_PULP_OPEN_H
#define TM_PULP_OPEN_H

#include <stdint.h>

#define TM_REG32(a) (*(volatile uint32_t *)(uintptr_t)(a))

#define TM_APB_SOC_CORESTATUS 0x1A1040A0u /* write 0x80000000 | status: the simulation ends with that status */
#define TM_FC_ICACHE_ENABLE 0x1A108800u   /* non-zero: FC instruction cache on */
#define TM_CL_ICACHE_ENABLE 0x10201400u   /* non-zero: cluster instruction cache on */
#define TM_CL_FETCH_EN 0x10200008u        /* bit i: cluster core i fetches */
#define TM_CL_BOOT_ADDR(i) (0x10200040u + 4u * (uint32_t)(i))

/* event unit, through the core-private demux (cluster cores only) */
#define TM_EU_DEMUX 0x10204000u
#define TM_EU_CORE_MASK_OR 0x08u
#define TM_EU_BARRIER(id) (TM_EU_DEMUX + 0x200u + 0x20u * (uint32_t)(id))
#define TM_EU_HW_BARR_TRIGGER_MASK 0x00u
#define TM_EU_HW_BARR_TARGET_MASK 0x0Cu
#define TM_EU_HW_BARR_TRIGGER_WAIT_CLEAR 0x1Cu
#define TM_EU_EVT_BARRIER 16

/* cluster DMA (MCHAN), core-private alias: read CMD = new transfer id; push command, L1 address, L2 address */
#define TM_MCHAN 0x10204400u
#define TM_MCHAN_CMD 0x0u
#define TM_MCHAN_STATUS 0x4u
#define TM_MCHAN_EXT2LOC (1u << 17)
#define TM_MCHAN_INC (1u << 18)

/* uDMA HyperBus: channel 0 registers, common registers 8 slots above */
#define TM_UDMA_CG 0x1A102000u
#define TM_UDMA_HYPER_ID 8u
#define TM_HYPER_CH0 (0x1A102000u + 0x80u + TM_UDMA_HYPER_ID * 0x80u)
#define TM_HYPER_COMMON (TM_HYPER_CH0 + 0x400u)
#define TM_HY_RX_SADDR 0x00u
#define TM_HY_RX_SIZE 0x04u
#define TM_HY_RX_CFG 0x08u
#define TM_HY_CA_SETUP 0x18u
#define TM_HY_EXT_ADDR 0x1Cu
#define TM_HY_STATUS 0x24u
#define TM_HY_T_LATENCY 0x04u
#define TM_HY_MEM_SEL 0x20u
#define TM_UDMA_CFG_EN 0x10u

/* L1 staging area of the linear tiles and attention scratch (TCDM less the cluster stacks: 2 kB for core 0,
 * 1 kB for each worker, and control words) and the L2 buffer an L3
 * weight tile lands in. memory/board.py's "pulp-open" board plans tiles for this L1 size. */
#ifndef TM_PULP_STAGE_BYTES
#define TM_PULP_STAGE_BYTES (54u * 1024u)
#endif
#ifndef TM_PULP_SLAB_BYTES
#define TM_PULP_SLAB_BYTES (64u * 1024u)
#endif

#endif /* TM_PULP_OPEN_H */
