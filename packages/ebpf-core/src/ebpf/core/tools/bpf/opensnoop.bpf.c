// SPDX-License-Identifier: GPL-2.0
// opensnoop: every open(2)/openat(2), with its path, flags and result (after libbpf-tools'
// opensnoop). The entry keeps the path pointer and flags per thread; the exit reads the
// path and sends the event with the result through a ring buffer. Kernels without
// open(2) (arm64) have no sys_enter_open tracepoint: user space leaves those programs out.
#include "tools.h"

struct args {
	const char *fname;
	__s32 flags;
	__u32 mode;
};

struct event {
	__u64 ts_ns;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 ret;
	__s32 flags;
	__u32 mode;
	char comm[TASK_COMM_LEN];
	char fname[NAME_MAX + 1];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct args);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

__u64 lost = 0;

/* -x: only failed opens */
const volatile bool targ_failed = false;

static __always_inline int enter(const char *fname, int flags, __u32 mode)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct args args = {.fname = fname, .flags = flags, .mode = mode};

	if (!current_allowed())
		return 0;
	bpf_map_update_elem(&start, &tid, &args, BPF_ANY);
	return 0;
}

static __always_inline int leave(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct args *args;
	struct event *e;
	int ret;

	args = bpf_map_lookup_elem(&start, &tid);
	if (!args)
		return 0;
	ret = BPF_CORE_READ(ctx, ret);
	if (targ_failed && ret >= 0)
		goto cleanup;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		goto cleanup;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = tid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->flags = args->flags;
	e->mode = args->mode;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->fname, sizeof(e->fname), args->fname);
	bpf_ringbuf_submit(e, 0);
cleanup:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int tracepoint__syscalls__sys_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)BPF_CORE_READ(ctx, args[0]), (int)BPF_CORE_READ(ctx, args[1]),
		     (__u32)BPF_CORE_READ(ctx, args[2]));
}

SEC("tracepoint/syscalls/sys_exit_open")
int tracepoint__syscalls__sys_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tracepoint__syscalls__sys_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)BPF_CORE_READ(ctx, args[1]), (int)BPF_CORE_READ(ctx, args[2]),
		     (__u32)BPF_CORE_READ(ctx, args[3]));
}

SEC("tracepoint/syscalls/sys_exit_openat")
int tracepoint__syscalls__sys_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx);
}

char LICENSE[] SEC("license") = "GPL";
