/* HostFS: [G] gap_sdk a2302650 rtos/pmsis/bsp/include/bsp/fs/hostfs.h ([P] identical). */
#ifndef TM_PMSIS_DECLS_BSP_HOSTFS_H
#define TM_PMSIS_DECLS_BSP_HOSTFS_H
#include "bsp/fs.h"
struct pi_hostfs_conf {
    struct pi_fs_conf fs;
};
void pi_hostfs_conf_init(struct pi_hostfs_conf *conf);
#endif
