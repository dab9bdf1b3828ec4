/* Per-layer counter hooks of the network code (network.c brackets each kernel call with
 * TM_LAYER_BEGIN("layer", ops) and TM_LAYER_END("layer", ops, out, bytes), ops = the layer's MACs). The app
 * force-includes this header (-include tm_layer_hooks.h) and puts platform/ first on the include path, so these
 * definitions are the ones network.c sees. -DTM_NO_LAYER_HOOKS compiles the hooks out. */
#if !defined(TM_LAYER_HOOKS_H) && !defined(__ASSEMBLER__) /* force-included into crt0.S too */
#define TM_LAYER_HOOKS_H

#include <stdint.h>

#ifdef TM_NO_LAYER_HOOKS
#define TM_LAYER_BEGIN(name, ops) ((void)0)
#define TM_LAYER_END(name, ops, out, bytes) ((void)0)
#else
void tm_layer_begin(void);
void tm_layer_end(const char *name, uint64_t ops);
#define TM_LAYER_BEGIN(name, ops) tm_layer_begin()
#define TM_LAYER_END(name, ops, out, bytes) tm_layer_end((name), (uint64_t)(ops))
#endif

#endif /* TM_LAYER_HOOKS_H */
