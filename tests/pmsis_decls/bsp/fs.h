/* File systems: [G] gap_sdk a2302650 rtos/pmsis/bsp/include/bsp/fs.h:56-102, 121-207, 595-601 ([P] pulp-sdk
 * d4b5bcdd rtos/pmsis/pmsis_bsp/include/bsp/fs.h: identical). See ../pmsis.h for the conventions. */
#ifndef TM_PMSIS_DECLS_BSP_FS_H
#define TM_PMSIS_DECLS_BSP_FS_H
#include "pmsis.h"

typedef enum { PI_FS_READ_ONLY = 0, PI_FS_HOST = 1, PI_FS_LFS = 2 } pi_fs_type_e;
typedef enum { PI_FS_FLAGS_READ = 0, PI_FS_FLAGS_WRITE = 1, PI_FS_FLAGS_APPEND = 2 } pi_fs_flags_e;
typedef struct __pi_fs_api_t pi_fs_api_t;
typedef struct pi_fs_data_s pi_fs_data_t;
struct pi_fs_conf {
    pi_fs_type_e type;
    struct pi_device *flash;
    char *partition_name;
    bool auto_format;
    pi_fs_api_t *api;
};
typedef struct pi_fs_file_s {
    struct pi_device *fs;
    pi_fs_api_t *api;
    void *data;
    unsigned int size; /* bytes of the file */
    pi_fs_data_t *fs_data;
} pi_fs_file_t;
void pi_fs_conf_init(struct pi_fs_conf *conf);
int32_t pi_fs_mount(struct pi_device *device);
void pi_fs_unmount(struct pi_device *device);
pi_fs_file_t *pi_fs_open(struct pi_device *device, const char *file, int flags);
void pi_fs_close(pi_fs_file_t *file);
int32_t pi_fs_read(pi_fs_file_t *file, void *buffer, uint32_t size);
int32_t pi_fs_write(pi_fs_file_t *file, void *buffer, uint32_t size);
#endif
