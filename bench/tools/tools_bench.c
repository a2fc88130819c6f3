// The libbpf side of bench/tools: open one of ebpf-core's tool objects, load it, attach
// every program (leaving out the "_raw" twins, as the tools do where tp_btf works),
// then print "ready" and exit. The Python script times spawn -> "ready" for both sides.
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	int attached = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OBJECT\n", argv[0]);
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "open failed\n");
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		const char *name = bpf_program__name(prog);
		if (ends_with(name, "_raw"))
			bpf_program__set_autoload(prog, false);
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "load failed\n");
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__autoload(prog))
			continue;
		if (!bpf_program__attach(prog)) {
			fprintf(stderr, "attach %s failed\n", bpf_program__name(prog));
			return 1;
		}
		attached++;
	}
	printf("ready %d\n", attached);
	fflush(stdout);
	return 0;
}
