/* The board's default flash and RAM. Every public board header aliases pi_default_flash_conf(_init) and
 * pi_default_ram_conf(_init) to its devices' configurations ([G] gap_sdk a2302650 rtos/pmsis/bsp/include/bsp/
 * gapoc_b.h:82-86, gapuino.h:99-103). The GAP9 EVK's board header is NOT public; its devices are ASSUMED here to be
 * the octal-SPI flash MX25U51245G and PSRAM APS256XXN (the GAP9 SDK config names CONFIG_DRIVER_APS256XXN; the
 * configurations as [G] bsp/flash/mx25u51245g.h:45-64 and bsp/ram/aps25xxxn.h:37-66 declare them). */
#ifndef TM_PMSIS_DECLS_BSP_BSP_H
#define TM_PMSIS_DECLS_BSP_BSP_H
#include "bsp/flash.h"
#include "bsp/ram.h"

struct pi_mx25u51245g_conf {
    struct pi_flash_conf flash;
    int spi_itf;
    int spi_cs;
    int xip_en;
    uint32_t baudrate;
    uint32_t mba;
};
void pi_mx25u51245g_conf_init(struct pi_mx25u51245g_conf *conf);
struct pi_aps25xxxn_conf {
    struct pi_ram_conf ram;
    int spi_itf;
    int spi_cs;
    int xip_en;
    int ram_start;
    int ram_size;
    uint32_t baudrate;
    int reserve_addr_0;
    uint32_t mba;
};
void pi_aps25xxxn_conf_init(struct pi_aps25xxxn_conf *conf);

#define pi_default_flash_conf pi_mx25u51245g_conf
#define pi_default_flash_conf_init pi_mx25u51245g_conf_init
#define pi_default_ram_conf pi_aps25xxxn_conf
#define pi_default_ram_conf_init pi_aps25xxxn_conf_init
#endif
