/* tm_core.c: host state of the portable fork (tm_arch.h): the core id the sequential fork loop is running. */
#include "tm_arch.h"

#if !defined(TM_PLATFORM_GAP9)
int tm_host_core_id = 0;
#endif
