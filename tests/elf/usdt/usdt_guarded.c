/* A probe guarded by a semaphore (in .probes), built into the executable
 * (-DPROVIDER=test -DGUARDED=exe_guarded) and into the library
 * (-DPROVIDER=test_lib -DGUARDED=lib_guarded). sdt.h decides at include
 * time whether probes have semaphores, hence a file of its own. */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

#define SEMAPHORE_(provider) provider##_guarded_semaphore
#define SEMAPHORE(provider) SEMAPHORE_(provider)

unsigned short SEMAPHORE(PROVIDER) __attribute__((unused)) __attribute__((section(".probes")));

__attribute__((noinline)) long GUARDED(long value, unsigned char tiny)
{
	if (SEMAPHORE(PROVIDER))
		STAP_PROBE2(PROVIDER, guarded, value, tiny);
	return value + tiny;
}
