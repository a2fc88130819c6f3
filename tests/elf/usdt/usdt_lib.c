/* A shared library with a USDT probe without semaphore; usdt_guarded.c adds one with. */
#include <sys/sdt.h>

long lib_guarded(long value, unsigned char tiny);

__attribute__((noinline)) long lib_probe(long value, int small)
{
	STAP_PROBE2(test_lib, plain, value, small);
	return lib_guarded(value, 9) * 2;
}
