// A program in a section no libbpf convention names: it opens with no type.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("nonsense/thing")
int misplaced(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
