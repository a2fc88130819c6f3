// tcpconn: TCP connects, accepts and closes with their addresses, ports and the process, in the
// style of the libbpf-tools (a tcptracer-like tool written for this project). The kprobe programs
// follow tcp_v4_connect/tcp_v6_connect (entry and return), tcp_close and inet_csk_accept like the
// original tools; the tracepoint program sees the same transitions through
// sock/inet_sock_set_state, for kernels (or hosts) without kprobes. Events go through a perf
// buffer; sockets are read through BPF_CORE_READ chains on struct sock and its common part.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#define TASK_COMM_LEN 16
#define MAX_ENTRIES 8192
#define AF_INET 2
#define AF_INET6 10

enum tcpconn_kind {
	TCPCONN_CONNECT = 1,
	TCPCONN_ACCEPT = 2,
	TCPCONN_CLOSE = 3,
};

struct tcpconn_event {
	union {
		__u32 saddr_v4;
		__u8 saddr_v6[16];
	};
	union {
		__u32 daddr_v4;
		__u8 daddr_v6[16];
	};
	char task[TASK_COMM_LEN];
	__u64 ts_us;
	__u64 sock_cookie;
	__u32 af;
	__u32 pid;
	__u32 uid;
	__u32 netns;
	__u32 kind;
	__u16 sport;
	__u16 dport;
	__u16 state;
	__u16 bound_if;
	__u32 mark;
};

struct tcpconn_tuple {
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 netns;
	__u16 sport;
	__u16 dport;
};

struct tcpconn_owner {
	char task[TASK_COMM_LEN];
	__u32 pid;
	__u32 uid;
};

/* the netns cookie moved from possible_net_t.net to a plain pointer in some kernels */
struct sock_common___old {
	struct net *skc_net;
} __attribute__((preserve_access_index));

const volatile pid_t filter_pid = 0;
const volatile uid_t filter_uid = (uid_t)-1;
const volatile __u16 filter_port = 0;

__u64 events_sent;
__u64 owners_missed;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct sock *);
} connecting SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, struct tcpconn_tuple);
	__type(value, struct tcpconn_owner);
} owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

static __always_inline bool filtered(__u32 pid, __u32 uid)
{
	if (filter_pid && pid != filter_pid)
		return true;
	if (filter_uid != (uid_t)-1 && uid != filter_uid)
		return true;
	return false;
}

static __always_inline __u32 sock_netns(struct sock *sk)
{
	if (bpf_core_field_exists(sk->__sk_common.skc_net.net))
		return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	return BPF_CORE_READ((struct sock_common___old *)&sk->__sk_common, skc_net, ns.inum);
}

static __always_inline bool fill_tuple(struct tcpconn_tuple *tuple, struct sock *sk, __u16 family)
{
	struct inet_sock *inet = (struct inet_sock *)sk;

	__builtin_memset(tuple, 0, sizeof(*tuple));
	if (family == AF_INET) {
		BPF_CORE_READ_INTO(tuple->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO(tuple->daddr, sk, __sk_common.skc_daddr);
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO(tuple->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32);
		BPF_CORE_READ_INTO(tuple->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32);
	} else {
		return false;
	}
	tuple->netns = sock_netns(sk);
	tuple->sport = bpf_ntohs(BPF_CORE_READ(inet, inet_sport));
	tuple->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	return tuple->sport && tuple->dport;
}

static __always_inline void fill_event(struct tcpconn_event *event, struct sock *sk, __u16 family, __u32 kind)
{
	__builtin_memset(event, 0, sizeof(*event));
	event->ts_us = bpf_ktime_get_ns() / 1000;
	event->af = family;
	event->kind = kind;
	event->netns = sock_netns(sk);
	event->sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	event->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	event->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	event->bound_if = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
	event->mark = BPF_CORE_READ(sk, sk_mark);
	if (bpf_core_field_exists(sk->__sk_common.skc_cookie))
		event->sock_cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (family == AF_INET) {
		event->saddr_v4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		event->daddr_v4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO(&event->saddr_v6, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32);
		BPF_CORE_READ_INTO(&event->daddr_v6, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32);
	}
}

static __always_inline void send_event(void *ctx, struct tcpconn_event *event)
{
	if (bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, event, sizeof(*event)) == 0)
		__sync_fetch_and_add(&events_sent, 1);
}

static __always_inline int enter_connect(struct sock *sk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 uid = bpf_get_current_uid_gid();
	__u32 tid = pid_tgid;

	if (filtered(pid_tgid >> 32, uid))
		return 0;
	bpf_map_update_elem(&connecting, &tid, &sk, BPF_ANY);
	return 0;
}

static __always_inline int exit_connect(void *ctx, int ret, __u16 family)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = pid_tgid;
	struct tcpconn_owner owner = {};
	struct tcpconn_tuple tuple;
	struct sock **skpp, *sk;

	skpp = bpf_map_lookup_elem(&connecting, &tid);
	if (!skpp)
		return 0;
	sk = *skpp;
	if (ret || !fill_tuple(&tuple, sk, family))
		goto end;
	owner.pid = pid_tgid >> 32;
	owner.uid = bpf_get_current_uid_gid();
	bpf_get_current_comm(owner.task, sizeof(owner.task));
	bpf_map_update_elem(&owners, &tuple, &owner, BPF_ANY);
end:
	bpf_map_delete_elem(&connecting, &tid);
	return 0;
}

SEC("kprobe/tcp_v4_connect")
int BPF_KPROBE(tcp_v4_connect, struct sock *sk)
{
	return enter_connect(sk);
}

SEC("kretprobe/tcp_v4_connect")
int BPF_KRETPROBE(tcp_v4_connect_ret, int ret)
{
	return exit_connect(ctx, ret, AF_INET);
}

SEC("kprobe/tcp_v6_connect")
int BPF_KPROBE(tcp_v6_connect, struct sock *sk)
{
	return enter_connect(sk);
}

SEC("kretprobe/tcp_v6_connect")
int BPF_KRETPROBE(tcp_v6_connect_ret, int ret)
{
	return exit_connect(ctx, ret, AF_INET6);
}

SEC("kprobe/tcp_close")
int BPF_KPROBE(tcp_close, struct sock *sk)
{
	struct tcpconn_event event;
	struct tcpconn_tuple tuple;
	struct tcpconn_owner *owner;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (!fill_tuple(&tuple, sk, family))
		return 0;
	owner = bpf_map_lookup_elem(&owners, &tuple);
	if (!owner)
		return 0;
	fill_event(&event, sk, family, TCPCONN_CLOSE);
	event.pid = owner->pid;
	event.uid = owner->uid;
	__builtin_memcpy(event.task, owner->task, sizeof(event.task));
	send_event(ctx, &event);
	bpf_map_delete_elem(&owners, &tuple);
	return 0;
}

SEC("kretprobe/inet_csk_accept")
int BPF_KRETPROBE(inet_csk_accept_ret, struct sock *sk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 uid = bpf_get_current_uid_gid();
	struct tcpconn_event event;
	__u16 family;

	if (!sk || filtered(pid_tgid >> 32, uid))
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	fill_event(&event, sk, family, TCPCONN_ACCEPT);
	if (filter_port && event.sport != filter_port && event.dport != filter_port)
		return 0;
	event.pid = pid_tgid >> 32;
	event.uid = uid;
	bpf_get_current_comm(event.task, sizeof(event.task));
	send_event(ctx, &event);
	return 0;
}

/* The same transitions without kprobes: SYN_SENT -> ESTABLISHED is a connect that succeeded,
 * SYN_RECV -> ESTABLISHED an accept, any state -> CLOSE a close. */
SEC("tracepoint/sock/inet_sock_set_state")
int inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *args)
{
	struct sock *sk = (struct sock *)BPF_CORE_READ(args, skaddr);
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 uid = bpf_get_current_uid_gid();
	int old = BPF_CORE_READ(args, oldstate), new = BPF_CORE_READ(args, newstate);
	__u16 family = BPF_CORE_READ(args, family);
	struct tcpconn_event event;
	__u32 kind;

	if (BPF_CORE_READ(args, protocol) != IPPROTO_TCP)
		return 0;
	if (new == TCP_ESTABLISHED && old == TCP_SYN_SENT)
		kind = TCPCONN_CONNECT;
	else if (new == TCP_ESTABLISHED && old == TCP_SYN_RECV)
		kind = TCPCONN_ACCEPT;
	else if (new == TCP_CLOSE)
		kind = TCPCONN_CLOSE;
	else
		return 0;
	fill_event(&event, sk, family, kind);
	if (filter_port && event.sport != filter_port && event.dport != filter_port)
		return 0;
	event.pid = pid_tgid >> 32;
	event.uid = uid;
	bpf_get_current_comm(event.task, sizeof(event.task));
	send_event(args, &event);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
