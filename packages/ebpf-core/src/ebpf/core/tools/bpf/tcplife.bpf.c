// SPDX-License-Identifier: GPL-2.0
// tcplife: every TCP session when it closes: its process, addresses, bytes each way and
// lifetime (after bcc's and libbpf-tools' tcplife). Tracepoint sock:inet_sock_set_state:
// the first change of a socket starts its clock and names its process (the connecting one
// for SYN_SENT, the one that accepts once it is ESTABLISHED otherwise); CLOSE ends it, and
// the byte counts are read from the tcp_sock (CO-RE).
#include "tools.h"

struct sock {
} __attribute__((preserve_access_index));

struct tcp_sock {
	__u64 bytes_received;
	__u64 bytes_acked;
} __attribute__((preserve_access_index));

struct ident {
	__u64 birth_ns;
	__u32 pid;
	char comm[TASK_COMM_LEN];
};

struct event {
	__u64 ts_ns;
	__u64 span_ns;
	__u64 rx_bytes;
	__u64 tx_bytes;
	__u32 pid;
	__u32 pad;
	struct tcp_addrs addrs;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, struct ident);
} idents SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

__u64 lost = 0;

/* --port: only sessions with this local or remote port */
const volatile __u16 targ_port = 0;

SEC("tracepoint/sock/inet_sock_set_state")
int inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)BPF_CORE_READ(ctx, skaddr);
	int newstate = BPF_CORE_READ(ctx, newstate);
	struct ident *known, fresh = {};
	struct tcp_sock *tp;
	struct event *e;

	if (BPF_CORE_READ(ctx, protocol) != IPPROTO_TCP)
		return 0;
	if (targ_port && BPF_CORE_READ(ctx, sport) != targ_port && BPF_CORE_READ(ctx, dport) != targ_port)
		return 0;
	known = bpf_map_lookup_elem(&idents, &sk);
	/* listening sockets are not sessions (bcc's tcplife leaves them out too) */
	if (newstate == TCP_LISTEN)
		return 0;
	if (newstate != TCP_CLOSE) {
		if (!known) {
			fresh.birth_ns = bpf_ktime_get_ns();
			bpf_map_update_elem(&idents, &sk, &fresh, BPF_NOEXIST);
			known = bpf_map_lookup_elem(&idents, &sk);
			if (!known)
				return 0;
		}
		/* a connect names its process at SYN_SENT; an accepted socket changes state in
		 * softirqs until its process closes it (FIN_WAIT1, or LAST_ACK after the peer's FIN) */
		if (newstate == TCP_SYN_SENT ||
		    (!known->pid && (newstate == TCP_FIN_WAIT1 || newstate == TCP_LAST_ACK))) {
			known->pid = bpf_get_current_pid_tgid() >> 32;
			bpf_get_current_comm(known->comm, sizeof(known->comm));
		}
		return 0;
	}
	if (!known)
		return 0;
	if (!known->pid) {
		known->pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(known->comm, sizeof(known->comm));
	}
	if (!tgid_allowed(known->pid) || !comm_matches(known->comm))
		goto done;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		goto done;
	}
	tp = (struct tcp_sock *)sk;
	e->ts_ns = bpf_ktime_get_ns();
	e->span_ns = e->ts_ns - known->birth_ns;
	e->rx_bytes = BPF_CORE_READ(tp, bytes_received);
	e->tx_bytes = BPF_CORE_READ(tp, bytes_acked);
	e->pid = known->pid;
	e->pad = 0;
	tcp_addrs_of(ctx, &e->addrs);
	__builtin_memcpy(e->comm, known->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
done:
	bpf_map_delete_elem(&idents, &sk);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
