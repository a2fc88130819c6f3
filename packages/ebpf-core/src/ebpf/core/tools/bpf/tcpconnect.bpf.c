// SPDX-License-Identifier: GPL-2.0
// tcpconnect: every active TCP connection (connect), with the process that made it
// (after bcc's tcpconnect). No kprobe: tracepoint sock:inet_sock_set_state (4.16) fires in
// the connecting task when a socket goes from CLOSE to SYN_SENT.
#include "tools.h"

struct event {
	__u64 ts_ns;
	__u32 pid;
	__u32 uid;
	struct tcp_addrs addrs;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

__u64 lost = 0;

/* --port: only connections to this port */
const volatile __u16 targ_dport = 0;

SEC("tracepoint/sock/inet_sock_set_state")
int inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	struct event *e;

	if (BPF_CORE_READ(ctx, protocol) != IPPROTO_TCP || BPF_CORE_READ(ctx, newstate) != TCP_SYN_SENT)
		return 0;
	if (targ_dport && BPF_CORE_READ(ctx, dport) != targ_dport)
		return 0;
	if (!current_allowed())
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->uid = (__u32)bpf_get_current_uid_gid();
	tcp_addrs_of(ctx, &e->addrs);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
