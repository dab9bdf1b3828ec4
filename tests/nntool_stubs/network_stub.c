/* Host stand-in for the generated network (tests only): returns NNTool's reference output for each window in
 * turn, optionally with one element changed (STUB_CORRUPT=<window>), and checks the GPIO power window. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmsis.h"
#include "TinyMyoKernels.h"
#include "TinyMyoRef.h"

int stub_gpio_level;
int stub_gpio_rises;
unsigned int AT_GraphPerf[3];
char *AT_GraphNodeNames[3] = {"S1_patch_embed", "S2_blocks", "S3_head"};
unsigned int AT_GraphOperInfosNames[3] = {1000, 20000, 300};
static int window;

int TinyMyoCNN_Construct(void) { return 0; }
void TinyMyoCNN_Destruct(void) {}

void TinyMyoCNN(signed char *Input_1, signed char *Output_1)
{
    const char *corrupt = getenv("STUB_CORRUPT");
    if (!stub_gpio_level) { printf("stub: GPIO low during inference\n"); exit(100); }
    if (memcmp(Input_1, RefInputs[window], REF_IN_SIZE)) { printf("stub: wrong input\n"); exit(101); }
    memcpy(Output_1, RefOutputs[window], REF_OUT_SIZE);
    if (corrupt && atoi(corrupt) == window) Output_1[0] = (signed char)(Output_1[0] ^ 1);
    for (int i = 0; i < 3; i++) AT_GraphPerf[i] = 100u * (i + 1);
    window++;
}
