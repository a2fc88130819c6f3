/* The process integration/elf/test_elf_usdt_attach.py traces: USDT probes
 * of every argument kind sdt.h produces (constants, negative ones,
 * registers and sub-registers, memory at a register, the frame), one
 * guarded by a semaphore (tests/elf/usdt/usdt_guarded.c, built in with
 * -DPROVIDER=test -DGUARDED=exe_guarded), and more in a shared library
 * (usdt_target_lib.c, with the same guarded probe for provider test_lib).
 * The values derive from the seed in argv[1] so that gcc cannot fold them.
 *
 * It reads commands on stdin, answering each on stdout:
 *   "fire N"  fires every probe N times, answers "fired"
 *   "sema"    answers the semaphores of the executable and of the library
 * and exits at end of input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sdt.h>

extern unsigned short test_guarded_semaphore;

long exe_guarded(long value, unsigned char tiny);
long lib_fire(long seed);
unsigned short lib_guarded_semaphore_value(void);

struct record {
	int64_t big;
	int32_t medium;
	int16_t small;
	int8_t tiny;
	uint8_t unsigned_tiny;
};

__attribute__((noinline, optimize("O0"))) int64_t in_frame(int64_t a, char c)
{
	STAP_PROBE2(test, frame, a, c);
	return a + c;
}

__attribute__((noinline)) int64_t all_kinds(struct record *r, int64_t a, int32_t b, int16_t c, int8_t d,
					      uint32_t e)
{
	volatile int32_t on_stack = b * 3;

	STAP_PROBE2(test, constants, 5, -9);
	STAP_PROBE5(test, registers, a, b, c, d, e);
	STAP_PROBE5(test, memory, r->big, r->medium, r->small, r->unsigned_tiny, on_stack);
	return a + b + c + d + e + on_stack + exe_guarded(a * 2, r->unsigned_tiny);
}

int main(int argc, char **argv)
{
	long seed = argc > 1 ? atol(argv[1]) : 1;
	char line[64];
	long sum = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "fire ", 5) == 0) {
			long n = atol(line + 5);
			for (long i = 0; i < n; i++) {
				struct record r = {seed * 1000, (int32_t)-seed, 7, -3, 200};
				sum += all_kinds(&r, seed + 40, (int32_t)-seed, 300, -5, 70000 + (uint32_t)seed);
				sum += in_frame(seed * -7, 'x');
				sum += lib_fire(seed);
			}
			printf("fired\n");
		} else if (strncmp(line, "sema", 4) == 0) {
			printf("%u %u\n", test_guarded_semaphore, lib_guarded_semaphore_value());
		}
	}
	return sum == 42;
}
