/* Bare-metal rv32: assert prints the failed condition over semihosting and exits with status 134. */
#ifndef TM_RV32_ASSERT_H
#define TM_RV32_ASSERT_H
void tm_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) ((e) ? (void)0 : tm_assert_fail(#e, __FILE__, __LINE__))
#endif
#endif
