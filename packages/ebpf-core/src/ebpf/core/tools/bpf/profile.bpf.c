// SPDX-License-Identifier: GPL-2.0
// profile: CPU sampling by stack (after bcc's and libbpf-tools' profile). User space opens
// a software CPU-clock perf event per CPU at a frequency or period and attaches this
// program to each; every sample counts the (process, user stack, kernel stack, comm) of
// the task the CPU was running.
#include "tools.h"

#define PERF_MAX_STACK_DEPTH 127
/* bpf_get_stackid: record the user stack rather than the kernel's (linux/bpf.h) */
#define BPF_F_USER_STACK (1ULL << 8)

struct key_t {
	__u32 pid;
	__s32 user_stack_id;
	__s32 kern_stack_id;
	char name[TASK_COMM_LEN];
};

/* sized by user space (--stack-storage-size) */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__uint(value_size, PERF_MAX_STACK_DEPTH * sizeof(__u64));
} stackmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct key_t);
	__type(value, __u64);
} counts SEC(".maps");

/* -U: user stacks only; -K: kernel stacks only */
const volatile bool user_stacks_only = false;
const volatile bool kernel_stacks_only = false;
/* -I: count the idle task (pid 0) too */
const volatile bool include_idle = false;

static const __u64 one = 1;

SEC("perf_event")
int do_perf_event(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u32 tid = id;
	struct key_t key = {};
	__u64 *count;

	if (!include_idle && tid == 0)
		return 0;
	if (!current_allowed())
		return 0;
	key.pid = tgid;
	bpf_get_current_comm(&key.name, sizeof(key.name));
	key.kern_stack_id = user_stacks_only ? -1 : bpf_get_stackid(ctx, &stackmap, 0);
	key.user_stack_id = kernel_stacks_only ? -1 : bpf_get_stackid(ctx, &stackmap, BPF_F_USER_STACK);
	count = bpf_map_lookup_elem(&counts, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
