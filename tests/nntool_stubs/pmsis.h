/* Host test build of the NNTool backend's main.c: the PMSIS declarations written from the public headers
 * (../pmsis_decls, sources named there), implemented for the host by pmsis_host.c (the cluster task runs inline,
 * GPIO writes are recorded and checked like the public driver checks them, pmsis_exit ends the process). */
#ifndef NNTOOL_TEST_PMSIS_H
#define NNTOOL_TEST_PMSIS_H
#include "../pmsis_decls/pmsis.h"

extern int stub_gpio_level; /* the power-window GPIO's level */
extern int stub_gpio_rises;
#endif
