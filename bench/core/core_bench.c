// The C baseline of bench/core: libbpf opens a BPF object file and loads it (maps, BTF, CO-RE
// relocation against the running kernel's BTF, programs), as a libbpf tool does at start-up.
// One load per process, like a tool starting: the kernel's BTF is read and indexed every time.
// Prints one line: "<open+load ms> <programs loaded>".
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int quiet(enum libbpf_print_level level, const char *format, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, format, args) : 0;
}

int main(int argc, char **argv)
{
	struct bpf_program *prog;
	struct bpf_object *obj;
	int loaded = 0, err;
	double start, elapsed;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OBJECT\n", argv[0]);
		return 2;
	}
	libbpf_set_print(quiet);
	start = now_ms();
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "bpf_object__open_file(%s): %s\n", argv[1], strerror(errno));
		return 1;
	}
	err = bpf_object__load(obj);
	elapsed = now_ms() - start;
	if (err) {
		fprintf(stderr, "bpf_object__load(%s): %s\n", argv[1], strerror(-err));
		return 1;
	}
	bpf_object__for_each_program(prog, obj)
		loaded += bpf_program__fd(prog) >= 0;
	printf("%.3f %d\n", elapsed, loaded);
	bpf_object__close(obj);
	return 0;
}
