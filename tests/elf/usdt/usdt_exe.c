/* An executable with USDT probes of every argument kind sdt.h produces:
 * constants (positive, negative), registers of every width and signedness,
 * memory relative to a register; usdt_guarded.c adds one with a semaphore
 * and usdt_lib.c a shared library. tests/elf/test_elf_usdt.py builds them
 * with gcc -O2 and compares what ebpf.elf reads with readelf -n. */
#include <stdint.h>
#include <sys/sdt.h>

long lib_probe(long value, int small);
long exe_guarded(long value, unsigned char tiny);

struct record {
	int64_t big;
	int32_t medium;
	int16_t small;
	int8_t tiny;
	uint8_t unsigned_tiny;
};

int32_t global_counter = 17;

/* Built without optimisation: arguments live in the frame, -N(%rbp). */
__attribute__((noinline, optimize("O0"))) int64_t in_frame(int64_t a, char c)
{
	STAP_PROBE3(test, frame, a, c, global_counter);
	return a + c;
}

__attribute__((noinline)) int64_t all_kinds(struct record *r, int64_t a, int32_t b, int16_t c, int8_t d,
					      uint32_t e)
{
	volatile int32_t on_stack = b * 3;

	STAP_PROBE2(test, constants, 5, -9);
	STAP_PROBE5(test, registers, a, b, c, d, e);
	STAP_PROBE5(test, memory, r->big, r->medium, r->small, r->unsigned_tiny, on_stack);
	return a + b + c + d + e + on_stack + exe_guarded(a, r->unsigned_tiny);
}

int main(int argc, char **argv)
{
	struct record r = {argc * 1000, -argc, 7, -3, 200};

	(void)argv;
	return (int)(all_kinds(&r, argc + 40, -argc, 300, -5, 70000) + lib_probe(argc, 2) + in_frame(argc, 'x')) & 1;
}
