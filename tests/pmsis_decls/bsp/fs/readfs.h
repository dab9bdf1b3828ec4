/* ReadFS: [G] gap_sdk a2302650 rtos/pmsis/bsp/include/bsp/fs/readfs.h:47-58 ([P] identical). */
#ifndef TM_PMSIS_DECLS_BSP_READFS_H
#define TM_PMSIS_DECLS_BSP_READFS_H
#include "bsp/fs.h"
struct pi_readfs_conf {
    struct pi_fs_conf fs;
};
void pi_readfs_conf_init(struct pi_readfs_conf *conf);
#endif
