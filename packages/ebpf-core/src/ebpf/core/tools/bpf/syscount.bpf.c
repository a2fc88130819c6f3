// SPDX-License-Identifier: GPL-2.0
// syscount: system calls counted by syscall or by process, with their total latency
// (after bcc's and libbpf-tools' syscount). Tracepoints raw_syscalls:sys_enter/sys_exit
// see every system call; user space reads and clears the counts every interval.
#include "tools.h"

struct data {
	__u64 count;
	__u64 total_ns;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct data);
} counts SEC(".maps");

static const struct data zero = {};

/* -P: count by process instead of by syscall */
const volatile bool targ_per_process = false;
/* -L: time each call */
const volatile bool targ_latency = false;
/* -x: only calls that failed */
const volatile bool targ_failed = false;

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 ts;

	if (!targ_latency || !current_allowed())
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	__u64 *begin, delta = 0;
	struct data *val;
	long nr, ret;
	__u32 key;

	if (!current_allowed())
		return 0;
	nr = BPF_CORE_READ(ctx, id);
	if (nr < 0)
		return 0;
	if (targ_latency) {
		begin = bpf_map_lookup_elem(&start, &tid);
		if (!begin)
			return 0;
		delta = bpf_ktime_get_ns() - *begin;
		bpf_map_delete_elem(&start, &tid);
	}
	ret = BPF_CORE_READ(ctx, ret);
	if (targ_failed && ret >= 0)
		return 0;
	key = targ_per_process ? (__u32)(id >> 32) : (__u32)nr;
	val = bpf_map_lookup_elem(&counts, &key);
	if (!val) {
		bpf_map_update_elem(&counts, &key, &zero, BPF_NOEXIST);
		val = bpf_map_lookup_elem(&counts, &key);
		if (!val)
			return 0;
		if (targ_per_process)
			bpf_get_current_comm(val->comm, sizeof(val->comm));
	}
	__sync_fetch_and_add(&val->count, 1);
	if (targ_latency)
		__sync_fetch_and_add(&val->total_ns, delta);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
