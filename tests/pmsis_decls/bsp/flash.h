/* Flash: [G] gap_sdk a2302650 rtos/pmsis/bsp/include/bsp/flash.h:52-59 (conf; __GAP9__ AES part left out), 101-112,
 * 207 (open, close, read). [P] pulp-sdk d4b5bcdd pmsis_bsp/include/bsp/flash.h: same signatures. */
#ifndef TM_PMSIS_DECLS_BSP_FLASH_H
#define TM_PMSIS_DECLS_BSP_FLASH_H
#include "pmsis.h"

typedef struct __pi_flash_api_t pi_flash_api_t;
struct pi_flash_conf {
    pi_flash_api_t *api;
};
int pi_flash_open(struct pi_device *device);
void pi_flash_close(struct pi_device *device);
void pi_flash_read(struct pi_device *device, uint32_t pi_flash_addr, void *data, uint32_t size);
#endif
