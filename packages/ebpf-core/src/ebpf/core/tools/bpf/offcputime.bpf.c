// SPDX-License-Identifier: GPL-2.0
// offcputime: time spent blocked (off CPU), by stack (after bcc's and libbpf-tools'
// offcputime). At sched_switch the task leaving the CPU has its stacks recorded and its
// time noted; when it is switched in again, the time it was away is added to the total of
// its (pid, tgid, user stack, kernel stack, comm), in microseconds. The handler is compiled
// twice: BTF-typed tracepoint (tp_btf, 5.5) and raw tracepoint (4.17).
#include "tools.h"

#define PERF_MAX_STACK_DEPTH 127
/* bpf_get_stackid: record the user stack rather than the kernel's (linux/bpf.h) */
#define BPF_F_USER_STACK (1ULL << 8)
/* task_struct.flags: a kernel thread (linux/sched.h) */
#define PF_KTHREAD 0x00200000
/* what bpf_get_stackid gives for a task without a user stack (a kernel thread) */
#define EFAULT 14

/* task_struct's flags, declared apart from tools.h's task_struct (a CO-RE flavour) */
struct task_struct___flags {
	unsigned int flags;
} __attribute__((preserve_access_index));

struct key_t {
	__u32 pid;
	__u32 tgid;
	__s32 user_stack_id;
	__s32 kern_stack_id;
	char name[TASK_COMM_LEN];
};

struct start_t {
	__u64 start_ts;
	struct key_t key;
};

/* sized by user space (--stack-storage-size) */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__uint(value_size, PERF_MAX_STACK_DEPTH * sizeof(__u64));
} stackmap SEC(".maps");

/* thread id -> when it left the CPU, with what it is counted under */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct start_t);
} start SEC(".maps");

/* microseconds off CPU */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct key_t);
	__type(value, __u64);
} counts SEC(".maps");

/* -u: user threads only; -k: kernel threads only */
const volatile bool user_threads_only = false;
const volatile bool kernel_threads_only = false;
/* -U: user stacks only; -K: kernel stacks only */
const volatile bool user_stacks_only = false;
const volatile bool kernel_stacks_only = false;
/* -m, -M: the block times counted, in microseconds */
const volatile __u64 min_block_us = 1;
const volatile __u64 max_block_us = (__u64)-1;

static const __u64 zero = 0;

static __always_inline bool is_kthread(struct task_struct *t)
{
	return BPF_CORE_READ((struct task_struct___flags *)t, flags) & PF_KTHREAD;
}

static __always_inline bool record_allowed(struct task_struct *t)
{
	if (!task_allowed(t))
		return false;
	if (user_threads_only && is_kthread(t))
		return false;
	if (kernel_threads_only && !is_kthread(t))
		return false;
	return true;
}

static __always_inline int switched(void *ctx, struct task_struct *prev, struct task_struct *next)
{
	struct start_t begin = {};
	struct start_t *left;
	__u64 *total;
	__s64 delta;
	__u32 tid;

	if (record_allowed(prev)) {
		tid = BPF_CORE_READ(prev, pid);
		/* the idle tasks of the CPUs all have pid 0: tell them apart by CPU */
		if (!tid)
			tid = bpf_get_smp_processor_id();
		begin.key.pid = tid;
		begin.key.tgid = BPF_CORE_READ(prev, tgid);
		begin.start_ts = bpf_ktime_get_ns();
		if (kernel_stacks_only)
			begin.key.user_stack_id = -1;
		else if (is_kthread(prev))
			begin.key.user_stack_id = -EFAULT;
		else
			begin.key.user_stack_id = bpf_get_stackid(ctx, &stackmap, BPF_F_USER_STACK);
		begin.key.kern_stack_id = user_stacks_only ? -1 : bpf_get_stackid(ctx, &stackmap, 0);
		BPF_CORE_READ_STR_INTO(&begin.key.name, prev, comm);
		bpf_map_update_elem(&start, &tid, &begin, BPF_ANY);
		bpf_map_update_elem(&counts, &begin.key, &zero, BPF_NOEXIST);
	}

	tid = BPF_CORE_READ(next, pid);
	left = bpf_map_lookup_elem(&start, &tid);
	if (!left)
		return 0;
	delta = (__s64)(bpf_ktime_get_ns() - left->start_ts);
	if (delta < 0)
		goto cleanup;
	delta /= 1000U;
	if (delta < min_block_us || delta > max_block_us)
		goto cleanup;
	total = bpf_map_lookup_elem(&counts, &left->key);
	if (total)
		__sync_fetch_and_add(total, delta);
cleanup:
	bpf_map_delete_elem(&start, &tid);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return switched(ctx, prev, next);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(sched_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return switched(ctx, prev, next);
}

char LICENSE[] SEC("license") = "GPL";
