/* Host stand-in for the AutoTiler's generated TinyMyoKernels.h (tests only). */
#ifndef NNTOOL_TEST_KERNELS_H
#define NNTOOL_TEST_KERNELS_H
typedef unsigned int AT_DEFAULTFLASH_EXT_ADDR_TYPE;
extern unsigned int AT_GraphPerf[3];
extern char *AT_GraphNodeNames[3];
extern unsigned int AT_GraphOperInfosNames[3];
int TinyMyoCNN_Construct(void);
void TinyMyoCNN_Destruct(void);
void TinyMyoCNN(signed char *Input_1, signed char *Output_1);
#endif
