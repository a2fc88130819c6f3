// Bad input: a program in a section no libbpf convention names.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("nonsense/thing")
int misplaced(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
