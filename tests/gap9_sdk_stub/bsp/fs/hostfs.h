/* Test stub of the GAP9 SDK's bsp/fs/hostfs.h (see ../../pmsis.h). */
#ifndef GAP9_SDK_STUB_HOSTFS_H
#define GAP9_SDK_STUB_HOSTFS_H
struct pi_hostfs_conf { int type; };
void pi_hostfs_conf_init(struct pi_hostfs_conf *conf);
#endif
