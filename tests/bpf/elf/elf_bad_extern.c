// Bad input: a relocation to an extern that is neither __kconfig nor __ksym.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int defined_elsewhere;

SEC("xdp")
int uses_missing(struct xdp_md *ctx)
{
	return defined_elsewhere;
}

char LICENSE[] SEC("license") = "GPL";
