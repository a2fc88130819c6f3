// SPDX-License-Identifier: GPL-2.0
// exitsnoop: every process exit, with its age and exit status (after libbpf-tools'
// exitsnoop). Tracepoint sched:sched_process_exit runs in the exiting task; its task_struct
// (CO-RE) gives the status, the start time and the parent.
#include "tools.h"

struct event {
	__u64 ts_ns;
	__u64 start_ns;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 exit_code;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

__u64 lost = 0;

/* --threaded: every thread's exit, not only the last of a process */
const volatile bool targ_threads = false;
/* -x: only exits with a non-zero status or by a signal */
const volatile bool targ_failed = false;

SEC("tracepoint/sched/sched_process_exit")
int sched_process_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, tid = (__u32)id;
	struct task_struct *task;
	struct event *e;
	int exit_code;

	if (!targ_threads && pid != tid)
		return 0;
	if (!current_allowed())
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	exit_code = BPF_CORE_READ(task, exit_code);
	if (targ_failed && exit_code == 0)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->start_ns = BPF_CORE_READ(task, start_time);
	e->pid = pid;
	e->tid = tid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->exit_code = exit_code;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
