// SPDX-License-Identifier: GPL-2.0
// runqlat: run queue latency, the time a task waits between being woken (or preempted)
// and running, as a log2 histogram (after libbpf-tools' runqlat). The same handlers are
// compiled twice: BTF-typed tracepoints (tp_btf, 5.5) and raw tracepoints (4.17); user
// space loads the first where the kernel takes them, the second elsewhere.
#include "tools.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct hist_key);
	__type(value, __u64);
} hists SEC(".maps");

/* -P: a histogram per process (keyed by tgid) */
const volatile bool targ_per_process = false;
/* -m: milliseconds rather than microseconds */
const volatile bool targ_ms = false;

static __always_inline int enqueue(struct task_struct *p)
{
	__u32 tid = BPF_CORE_READ(p, pid);
	__u64 ts;

	if (!tid || !task_allowed(p))
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

static __always_inline int switched(struct task_struct *prev, struct task_struct *next)
{
	__u32 tid;
	__u64 *begin, delta;

	/* a task preempted while runnable waits in the run queue from now */
	if (task_state(prev) == TASK_RUNNING)
		enqueue(prev);
	tid = BPF_CORE_READ(next, pid);
	begin = bpf_map_lookup_elem(&start, &tid);
	if (!begin)
		return 0;
	delta = bpf_ktime_get_ns() - *begin;
	bpf_map_delete_elem(&start, &tid);
	delta /= targ_ms ? 1000000 : 1000;
	hist_add(&hists, targ_per_process ? BPF_CORE_READ(next, tgid) : 0, delta);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup_btf, struct task_struct *p)
{
	return enqueue(p);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new_btf, struct task_struct *p)
{
	return enqueue(p);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return switched(prev, next);
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(sched_wakeup_raw, struct task_struct *p)
{
	return enqueue(p);
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new_raw, struct task_struct *p)
{
	return enqueue(p);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(sched_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return switched(prev, next);
}

char LICENSE[] SEC("license") = "GPL";
