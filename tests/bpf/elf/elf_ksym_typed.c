// A typed .ksyms extern: a per-CPU kernel variable found by name in vmlinux BTF.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern const int bpf_prog_active __ksym;

__s64 active_seen = -1;

SEC("xdp")
int read_active(struct xdp_md *ctx)
{
	const int *active = bpf_this_cpu_ptr(&bpf_prog_active);

	active_seen = *active;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
