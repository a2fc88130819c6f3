/* SPDX-License-Identifier: GPL-2.0 */
/* What every ready tool's BPF side shares: fixed-width types, libbpf's helper
 * and CO-RE macros, the few kernel structs the tools read, and the pid and
 * comm filters user space sets before loading.
 *
 * No vmlinux.h: each kernel struct is declared with only the fields a tool
 * reads, with __attribute__((preserve_access_index)), as libbpf-tools do.
 * clang records every field access as a CO-RE relocation, and the loader
 * moves it to where the running kernel keeps the field, so one object
 * serves every kernel with BTF. */
#ifndef EBPF_TOOLS_H
#define EBPF_TOOLS_H

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define TASK_COMM_LEN 16
#define NAME_MAX 255

/* Map types and flags (linux/bpf.h), for the map definitions. */
#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define BPF_MAP_TYPE_STACK_TRACE 7
#define BPF_MAP_TYPE_RINGBUF 27
#define BPF_ANY 0
#define BPF_NOEXIST 1

struct trace_entry {
	unsigned short type;
} __attribute__((preserve_access_index));

/* The context of syscalls:sys_enter_* and raw_syscalls:sys_enter. */
struct trace_event_raw_sys_enter {
	struct trace_entry ent;
	long id;
	unsigned long args[6];
} __attribute__((preserve_access_index));

/* The context of syscalls:sys_exit_* and raw_syscalls:sys_exit. */
struct trace_event_raw_sys_exit {
	struct trace_entry ent;
	long id;
	long ret;
} __attribute__((preserve_access_index));

/* The context of sock:inet_sock_set_state (a TCP socket changing state). */
struct trace_event_raw_inet_sock_set_state {
	struct trace_entry ent;
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
} __attribute__((preserve_access_index));

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_FIN_WAIT1 4
#define TCP_CLOSE 7
#define TCP_LAST_ACK 9
#define TCP_LISTEN 10

/* The addresses and ports of a TCP socket, as the tracepoint gives them (ports in host order). */
struct tcp_addrs {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 pad;
};

static __always_inline void tcp_addrs_of(struct trace_event_raw_inet_sock_set_state *ctx, struct tcp_addrs *a)
{
	a->family = BPF_CORE_READ(ctx, family);
	a->sport = BPF_CORE_READ(ctx, sport);
	a->dport = BPF_CORE_READ(ctx, dport);
	if (a->family == AF_INET) {
		bpf_probe_read_kernel(a->saddr, 4, (void *)ctx + bpf_core_field_offset(ctx->saddr));
		bpf_probe_read_kernel(a->daddr, 4, (void *)ctx + bpf_core_field_offset(ctx->daddr));
	} else {
		bpf_probe_read_kernel(a->saddr, 16, (void *)ctx + bpf_core_field_offset(ctx->saddr_v6));
		bpf_probe_read_kernel(a->daddr, 16, (void *)ctx + bpf_core_field_offset(ctx->daddr_v6));
	}
}

struct task_struct {
	int pid;
	int tgid;
	unsigned int __state;
	int exit_code;
	unsigned long long start_time;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	char comm[TASK_COMM_LEN];
} __attribute__((preserve_access_index));

/* task_struct before 5.14 named its state "state" (a long): a CO-RE flavour. */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

#define TASK_RUNNING 0

/* The state of task ``p`` (TASK_RUNNING...), on kernels before and after 5.14. */
static __always_inline long task_state(struct task_struct *p)
{
	if (bpf_core_field_exists(p->__state))
		return BPF_CORE_READ(p, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)p, state);
}

/* Log2 histograms, libbpf-tools' layout (slot i counts 2^i .. 2^(i+1)-1, slot 0 also 0):
 * a hash map keyed by struct hist_key, the count as value. */
#define MAX_SLOTS 64

struct hist_key {
	__u32 id; /* 0, or what the histogram is per (a pid, a device) */
	__u32 slot;
};

static __always_inline __u32 log2_u32(__u32 v)
{
	__u32 shift, r;

	r = (v > 0xFFFF) << 4;
	v >>= r;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? log2_u32(hi) + 32 : log2_u32(v);
}

static const __u64 hist_one = 1;

/* Count ``value`` into the log2 histogram ``id`` of hash map ``hists``. */
static __always_inline void hist_add(void *hists, __u32 id, __u64 value)
{
	struct hist_key key = {.id = id, .slot = log2_u64(value)};
	__u64 *count;

	if (key.slot >= MAX_SLOTS)
		key.slot = MAX_SLOTS - 1;
	count = bpf_map_lookup_elem(hists, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(hists, &key, &hist_one, BPF_NOEXIST);
}

/* Set by user space before loading (-p PID, -c COMM); zero means everyone. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[TASK_COMM_LEN] = {};

/* Whether the current process passes the -p filter. */
static __always_inline bool tgid_allowed(__u32 tgid)
{
	return targ_tgid == 0 || targ_tgid == tgid;
}

/* Whether ``comm`` passes the -c filter (an exact match; no filter: yes). */
static __always_inline bool comm_matches(const char *comm)
{
	int i;

	if (targ_comm[0] == '\0')
		return true;
#pragma unroll
	for (i = 0; i < TASK_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return false;
		if (comm[i] == '\0')
			break;
	}
	return true;
}

/* Whether the current task's comm passes the -c filter. */
static __always_inline bool comm_allowed(void)
{
	char comm[TASK_COMM_LEN];

	if (targ_comm[0] == '\0')
		return true;
	bpf_get_current_comm(comm, sizeof(comm));
	return comm_matches(comm);
}

/* Whether task ``p`` passes the -p and -c filters (for events about another task). */
static __always_inline bool task_allowed(struct task_struct *p)
{
	char comm[TASK_COMM_LEN];

	if (!tgid_allowed(BPF_CORE_READ(p, tgid)))
		return false;
	if (targ_comm[0] == '\0')
		return true;
	BPF_CORE_READ_STR_INTO(&comm, p, comm);
	return comm_matches(comm);
}

/* The -p and -c filters together, for the current task. */
static __always_inline bool current_allowed(void)
{
	return tgid_allowed(bpf_get_current_pid_tgid() >> 32) && comm_allowed();
}

#endif
