/* External RAM: [G] gap_sdk a2302650 rtos/pmsis/bsp/include/bsp/ram.h:56-64 (conf; the __GAP9__ branch adds the AES
 * configuration, not needed here and left out: the app never touches the generic part), 86, 121-199 (open, alloc,
 * read, write), 506, 649 (cluster read, wait), 678-692 (the request). [P] pulp-sdk d4b5bcdd pmsis_bsp/include/
 * bsp/ram.h: same signatures (no __GAP9__ AES). See ../pmsis.h for the conventions. */
#ifndef TM_PMSIS_DECLS_BSP_RAM_H
#define TM_PMSIS_DECLS_BSP_RAM_H
#include "pmsis.h"

typedef struct pi_ram_api_s pi_ram_api_t;
struct pi_ram_conf {
    pi_ram_api_t *api;
};
typedef struct pi_cl_ram_req_s pi_cl_ram_req_t;
struct pi_cl_ram_req_s {
    struct pi_device *device;
    void *addr;
    uint32_t pi_ram_addr;
    uint32_t size;
    int32_t stride;
    uint32_t length;
    pi_task_t event;
    struct pi_cl_ram_req_s *next;
    uint8_t done;
    unsigned char cid;
    unsigned char ext2loc;
    unsigned char is_2d;
};
int32_t pi_ram_open(struct pi_device *device);
void pi_ram_close(struct pi_device *device);
int pi_ram_alloc(struct pi_device *device, uint32_t *addr, uint32_t size);
int pi_ram_free(struct pi_device *device, uint32_t addr, uint32_t size);
void pi_ram_read(struct pi_device *device, uint32_t pi_ram_addr, void *data, uint32_t size);
void pi_ram_write(struct pi_device *device, uint32_t pi_ram_addr, void *data, uint32_t size);
void pi_cl_ram_read(struct pi_device *device, uint32_t pi_ram_addr, void *addr, uint32_t size, pi_cl_ram_req_t *req);
void pi_cl_ram_read_wait(pi_cl_ram_req_t *req);
#endif
