// SPDX-License-Identifier: GPL-2.0
/* The program integration/core/test_core_prometheus_scrape.py serves as
 * Prometheus metrics, in the style of ebpf_exporter's examples: a counter of
 * calls keyed by a struct (tgid, which call), a per-CPU total, and a log2
 * histogram of clock_nanosleep() latency in microseconds (bcc's slots). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0; /* 0: every process */

enum call { CALL_GETPID = 0, CALL_GETPPID = 1 };

struct call_key {
	__u32 tgid;
	__u32 call;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct call_key);
	__type(value, __u64);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} total SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65);
	__type(key, __u32);
	__type(value, __u64);
} sleep_latency SEC(".maps");

static __always_inline int mine(void)
{
	return !target_tgid || (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline void count(enum call which)
{
	struct call_key key = { .tgid = bpf_get_current_pid_tgid() >> 32, .call = which };
	__u64 one = 1, *value;
	__u32 zero = 0;

	if (!mine())
		return;
	value = bpf_map_lookup_elem(&calls, &key);
	if (value)
		__sync_fetch_and_add(value, 1);
	else
		bpf_map_update_elem(&calls, &key, &one, BPF_NOEXIST);
	value = bpf_map_lookup_elem(&total, &zero);
	if (value)
		*value += 1;
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int on_getpid(void *ctx)
{
	count(CALL_GETPID);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	count(CALL_GETPPID);
	return 0;
}

/* bcc's bpf_log2l(): 0 and 1 in slot 1, 2..3 in slot 2, 4..7 in slot 3... */
static __always_inline __u32 log2l(__u64 v)
{
	__u32 slot = 0;

	for (int i = 0; i < 64 && v; i++) {
		v >>= 1;
		slot++;
	}
	return slot ? slot : 1;
}

SEC("tracepoint/syscalls/sys_enter_clock_nanosleep")
int sleep_enter(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();

	if (mine())
		bpf_map_update_elem(&start, &tid, &now, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_clock_nanosleep")
int sleep_exit(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), slot;
	__u64 *began = bpf_map_lookup_elem(&start, &tid), *count;

	if (!began)
		return 0;
	slot = log2l((bpf_ktime_get_ns() - *began) / 1000);
	bpf_map_delete_elem(&start, &tid);
	count = bpf_map_lookup_elem(&sleep_latency, &slot);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
