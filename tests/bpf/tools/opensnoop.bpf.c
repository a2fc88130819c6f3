// opensnoop: files opened by open(2), openat(2) and openat2(2), with the process, flags, mode and
// result, in the style of the libbpf-tools (an opensnoop-like tool written for this project). The
// entry tracepoints keep the arguments per thread, the exit tracepoints send one event per call
// through a ring buffer; the filters are set by user space before loading.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16
#define NAME_MAX 255
#define MAX_ENTRIES 10240

struct opensnoop_args {
	const char *fname;
	__u64 flags;
	__u32 mode;
	__u32 dfd;
};

struct opensnoop_event {
	__u64 ts_ns;
	__u64 flags;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u32 ppid;
	__s32 ret;
	__u32 mode;
	__s32 dfd;
	__u32 syscall;
	char comm[TASK_COMM_LEN];
	char fname[NAME_MAX + 1];
};

struct open_how___local {
	__u64 flags;
	__u64 mode;
	__u64 resolve;
} __attribute__((preserve_access_index));

const volatile pid_t targ_pid = 0;
const volatile pid_t targ_tgid = 0;
const volatile uid_t targ_uid = (uid_t)-1;
const volatile bool targ_failed = false;

__u64 dropped;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct opensnoop_args);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

static __always_inline bool trace_allowed(__u32 tgid, __u32 pid)
{
	if (targ_tgid && targ_tgid != tgid)
		return false;
	if (targ_pid && targ_pid != pid)
		return false;
	if (targ_uid != (uid_t)-1 && (__u32)bpf_get_current_uid_gid() != targ_uid)
		return false;
	return true;
}

static __always_inline int enter(const char *fname, __u64 flags, __u32 mode, __u32 dfd)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, pid = id;
	struct opensnoop_args args = {.fname = fname, .flags = flags, .mode = mode, .dfd = dfd};

	if (!trace_allowed(tgid, pid))
		return 0;
	bpf_map_update_elem(&start, &pid, &args, BPF_ANY);
	return 0;
}

static __always_inline int leave(long ret, __u32 syscall)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id;
	struct opensnoop_args *args = bpf_map_lookup_elem(&start, &pid);
	struct task_struct *task;
	struct opensnoop_event *event;

	if (!args)
		return 0;
	if (targ_failed && ret >= 0)
		goto cleanup;
	event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
	if (!event) {
		__sync_fetch_and_add(&dropped, 1);
		goto cleanup;
	}
	task = (struct task_struct *)bpf_get_current_task();
	event->ts_ns = bpf_ktime_get_ns();
	event->pid = id >> 32;
	event->tid = pid;
	event->uid = bpf_get_current_uid_gid();
	event->ppid = BPF_CORE_READ(task, real_parent, tgid);
	event->ret = ret;
	event->flags = args->flags;
	event->mode = args->mode;
	event->dfd = args->dfd;
	event->syscall = syscall;
	bpf_get_current_comm(event->comm, sizeof(event->comm));
	bpf_probe_read_user_str(event->fname, sizeof(event->fname), args->fname);
	bpf_ringbuf_submit(event, 0);
cleanup:
	bpf_map_delete_elem(&start, &pid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int tracepoint__syscalls__sys_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)ctx->args[0], ctx->args[1], ctx->args[2], (__u32)-100);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tracepoint__syscalls__sys_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)ctx->args[1], ctx->args[2], ctx->args[3], ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int tracepoint__syscalls__sys_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how___local how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return enter((const char *)ctx->args[1], how.flags, how.mode, ctx->args[0]);
}

SEC("tracepoint/syscalls/sys_exit_open")
int tracepoint__syscalls__sys_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret, 2);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int tracepoint__syscalls__sys_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret, 257);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int tracepoint__syscalls__sys_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret, 437);
}

char LICENSE[] SEC("license") = "GPL";
