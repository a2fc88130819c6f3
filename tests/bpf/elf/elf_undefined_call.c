// Bad input: a call of an extern function that is neither in the object nor declared __ksym
// (a function another object would define, for a linker libbpf does not run at load).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int defined_in_another_object(int x);

SEC("xdp")
int calls_missing(struct xdp_md *ctx)
{
	return defined_in_another_object(ctx->ingress_ifindex);
}

char LICENSE[] SEC("license") = "GPL";
