// SPDX-License-Identifier: GPL-2.0
// execsnoop: every execve(2), with its arguments and result (after libbpf-tools' execsnoop).
// sys_enter_execve keeps the file name and the arguments per thread; sys_exit_execve adds
// the result and the comm the process has now and sends the event through a ring buffer.
// -p filters at entry, -c at exit (on the new program's name).
#include "tools.h"

#define MAX_ARGS 20
#define ARG_SIZE 128
#define ARGS_SIZE (MAX_ARGS * ARG_SIZE)
#define LAST_ARG (ARGS_SIZE - ARG_SIZE)

struct event {
	__u64 ts_ns;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__s32 retval;
	__u32 args_count;
	__u32 args_size;
	char comm[TASK_COMM_LEN];
	char args[ARGS_SIZE];
};

static const struct event empty_event = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct event);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

__u64 lost = 0;

SEC("tracepoint/syscalls/sys_enter_execve")
int tracepoint__syscalls__sys_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	const char **argv;
	const char *arg;
	struct event *e;
	int ret, i;

	if (!tgid_allowed(id >> 32))
		return 0;
	if (bpf_map_update_elem(&execs, &tid, &empty_event, BPF_NOEXIST))
		return 0;
	e = bpf_map_lookup_elem(&execs, &tid);
	if (!e)
		return 0;
	e->pid = id >> 32;
	e->tid = tid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ppid = BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), real_parent, tgid);

	ret = bpf_probe_read_user_str(e->args, ARG_SIZE, (const char *)BPF_CORE_READ(ctx, args[0]));
	if (ret < 0)
		return 0;
	e->args_size = ret <= ARG_SIZE ? ret : ARG_SIZE;
	argv = (const char **)BPF_CORE_READ(ctx, args[1]);
#pragma unroll
	for (i = 1; i < MAX_ARGS; i++) {
		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			return 0;
		if (e->args_size > LAST_ARG)
			return 0;
		ret = bpf_probe_read_user_str(&e->args[e->args_size], ARG_SIZE, arg);
		if (ret < 0)
			return 0;
		e->args_count++;
		e->args_size += ret;
	}
	/* more arguments than MAX_ARGS: say so with a count one higher */
	if (!bpf_probe_read_user(&arg, sizeof(arg), &argv[MAX_ARGS]) && arg)
		e->args_count++;
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int tracepoint__syscalls__sys_exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *e;

	e = bpf_map_lookup_elem(&execs, &tid);
	if (!e)
		return 0;
	e->retval = BPF_CORE_READ(ctx, ret);
	e->ts_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	/* -c: the name the process has after the call (the new program's) */
	if (comm_allowed() && bpf_ringbuf_output(&events, e, sizeof(*e), 0))
		__sync_fetch_and_add(&lost, 1);
	bpf_map_delete_elem(&execs, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
