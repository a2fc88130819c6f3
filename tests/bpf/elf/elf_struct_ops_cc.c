// A TCP congestion control written in BPF: NewReno's slow start and
// congestion avoidance, with a window that never grows past `max_cwnd`
// (set from user space before loading), and counters of what the kernel
// asked it to do. Registered twice: as "ebpf_reno" through a bpf_link
// (.struct_ops.link, Linux 6.4+) and as "ebpf_reno_map" by a map update
// (.struct_ops, 5.6+); both use the same programs.
//
// The structs are local views of the kernel's, with only the members used:
// the loader matches struct_ops members by name and CO-RE finds the fields.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define TCP_CA_NAME_MAX 16
#define TCP_INIT_CWND 10

struct sock;

struct tcp_sock {
	__u32 snd_cwnd;
	__u32 snd_cwnd_cnt;
	__u32 snd_cwnd_clamp;
	__u32 snd_ssthresh;
	__u32 prior_cwnd;
} __attribute__((preserve_access_index));

struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	void (*set_state)(struct sock *sk, __u8 new_state);
	__u32 (*undo_cwnd)(struct sock *sk);
	void (*init)(struct sock *sk);
	void (*release)(struct sock *sk);
	char name[TCP_CA_NAME_MAX];
	__u32 flags;
};

const volatile __u32 max_cwnd = 1000;

__u64 inits;
__u64 releases;
__u64 acks;
__u64 acked_packets;
__u64 ssthresh_calls;
__u64 state_changes;
__u32 largest_cwnd;

static __always_inline struct tcp_sock *tcp_sk(struct sock *sk)
{
	return (struct tcp_sock *)sk;
}

SEC("struct_ops/reno_init")
void BPF_PROG(reno_init, struct sock *sk)
{
	__sync_fetch_and_add(&inits, 1);
}

SEC("struct_ops/reno_release")
void BPF_PROG(reno_release, struct sock *sk)
{
	__sync_fetch_and_add(&releases, 1);
}

SEC("struct_ops/reno_ssthresh")
__u32 BPF_PROG(reno_ssthresh, struct sock *sk)
{
	__u32 half = tcp_sk(sk)->snd_cwnd >> 1;

	__sync_fetch_and_add(&ssthresh_calls, 1);
	return half > 2 ? half : 2;
}

SEC("struct_ops/reno_cong_avoid")
void BPF_PROG(reno_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock *tp = tcp_sk(sk);
	__u32 cwnd = tp->snd_cwnd;
	__u32 limit = tp->snd_cwnd_clamp;

	__sync_fetch_and_add(&acks, 1);
	__sync_fetch_and_add(&acked_packets, acked);
	if (max_cwnd < limit)
		limit = max_cwnd;
	if (cwnd < tp->snd_ssthresh) {
		// slow start: one more segment per segment acknowledged
		cwnd += acked;
	} else {
		// congestion avoidance: one more segment per window acknowledged
		__u32 cnt = tp->snd_cwnd_cnt + acked;

		if (cnt >= cwnd) {
			cnt -= cwnd;
			cwnd++;
		}
		tp->snd_cwnd_cnt = cnt;
	}
	if (cwnd > limit)
		cwnd = limit;
	tp->snd_cwnd = cwnd;
	if (cwnd > largest_cwnd)
		largest_cwnd = cwnd;
}

SEC("struct_ops/reno_set_state")
void BPF_PROG(reno_set_state, struct sock *sk, __u8 new_state)
{
	__sync_fetch_and_add(&state_changes, 1);
}

SEC("struct_ops/reno_undo_cwnd")
__u32 BPF_PROG(reno_undo_cwnd, struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	return tp->snd_cwnd > tp->prior_cwnd ? tp->snd_cwnd : tp->prior_cwnd;
}

// Loaded only if some struct_ops map points at it: none does.
SEC("struct_ops/reno_unused")
__u32 BPF_PROG(reno_unused, struct sock *sk)
{
	return TCP_INIT_CWND;
}

SEC(".struct_ops.link")
struct tcp_congestion_ops ebpf_reno = {
	.init = (void *)reno_init,
	.release = (void *)reno_release,
	.ssthresh = (void *)reno_ssthresh,
	.cong_avoid = (void *)reno_cong_avoid,
	.set_state = (void *)reno_set_state,
	.undo_cwnd = (void *)reno_undo_cwnd,
	.name = "ebpf_reno",
};

SEC(".struct_ops")
struct tcp_congestion_ops ebpf_reno_map = {
	.init = (void *)reno_init,
	.release = (void *)reno_release,
	.ssthresh = (void *)reno_ssthresh,
	.cong_avoid = (void *)reno_cong_avoid,
	.set_state = (void *)reno_set_state,
	.undo_cwnd = (void *)reno_undo_cwnd,
	.name = "ebpf_reno_map",
};

char LICENSE[] SEC("license") = "GPL";
