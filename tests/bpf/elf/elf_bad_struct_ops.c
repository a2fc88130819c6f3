// Bad input: a struct_ops member that points at an XDP program, which the
// kernel cannot call from its ops (libbpf refuses the object too).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct sock;

struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	char name[16];
};

SEC("xdp")
int not_struct_ops(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC(".struct_ops")
struct tcp_congestion_ops wrong = {
	.ssthresh = (void *)not_struct_ops,
	.name = "wrong",
};

char LICENSE[] SEC("license") = "GPL";
