/* The shared library of usdt_target.c: a plain probe, and the guarded one
 * of tests/elf/usdt/usdt_guarded.c (-DPROVIDER=test_lib -DGUARDED=lib_guarded). */
#include <sys/sdt.h>

extern unsigned short test_lib_guarded_semaphore;

long lib_guarded(long value, unsigned char tiny);

__attribute__((noinline)) long lib_fire(long seed)
{
	int small = (int)seed - 10;

	STAP_PROBE2(test_lib, plain, seed * 3, small);
	return seed + small + lib_guarded(seed + 1000, (unsigned char)(seed + 9));
}

unsigned short lib_guarded_semaphore_value(void)
{
	return test_lib_guarded_semaphore;
}
