// SPDX-License-Identifier: GPL-2.0
/* CO-RE against the running kernel: a syscall program reads its own task
 * (the test thread) through local definitions that differ from the kernel's
 * on purpose: task_struct___mine keeps a few members in another order,
 * declares a bitfield with the wrong neighbours and a flexible array with a
 * length; __state was called state before 5.14 (two flavours pick the right
 * one); enum pid_type___mine has other values; some types exist in no
 * kernel, bpf_iter_num only from 6.4. The test compares every value with the
 * kernel (pid, tgid, parent, process group, session, comm, a scheduler flag
 * it sets) and with vmlinux BTF. */
#include "core_types.h"

enum pid_type___mine { PIDTYPE_SID = 100, PIDTYPE_PGID = 200, PIDTYPE_NOT_IN_ANY_KERNEL = 300 };

struct upid___mine {
	int nr;
} __attribute__((preserve_access_index));

struct pid___mine {
	struct upid___mine numbers[1]; /* the kernel's is a flexible array */
} __attribute__((preserve_access_index));

struct signal_struct___mine {
	struct pid___mine *pids[4];
} __attribute__((preserve_access_index));

struct task_struct___mine {
	struct signal_struct___mine *signal;
	char comm[16];
	unsigned int sched_reset_on_fork : 1;
	int tgid;
	struct task_struct___mine *real_parent;
	int pid;
} __attribute__((preserve_access_index));

struct task_struct___old { /* before 5.14 */
	long state;
} __attribute__((preserve_access_index));

struct task_struct___new { /* 5.14 and later */
	unsigned int __state;
} __attribute__((preserve_access_index));

struct task_struct___nope {
	int no_such_field_in_any_kernel;
} __attribute__((preserve_access_index));

struct bpf_iter_num___probe { /* 6.4 and later */
	__u64 __opaque[1];
} __attribute__((preserve_access_index));

struct core_type_in_no_kernel {
	int a;
} __attribute__((preserve_access_index));

struct core_task_args {
	__u64 out[32];
};

#define FIELD_INFO(field, kind) __builtin_preserve_field_info(field, kind)

static __always_inline int pid_of(struct task_struct___mine *task, long type)
{
	struct signal_struct___mine *signal = BPF_CORE_READ(task, signal);
	struct pid___mine *pid = 0;

	bpf_probe_read_kernel(&pid, sizeof(pid),
			      (char *)signal + bpf_core_field_offset(signal->pids) + type * sizeof(pid));
	return BPF_CORE_READ(pid, numbers[0].nr);
}

SEC("syscall")
int core_task(struct core_task_args *ctx)
{
	struct task_struct___mine *task = (void *)bpf_get_current_task();
	struct task_struct___old *old = (void *)task;
	struct task_struct___new *new = (void *)task;
	struct task_struct___nope *nope = (void *)task;
	char comm[16] = {};
	long state = -1;
	int absent = -1;

	ctx->out[0] = BPF_CORE_READ(task, pid);
	ctx->out[1] = BPF_CORE_READ(task, tgid);
	ctx->out[2] = BPF_CORE_READ(task, real_parent, tgid);
	ctx->out[3] = BPF_CORE_READ_BITFIELD_PROBED(task, sched_reset_on_fork);
	ctx->out[4] = pid_of(task, bpf_core_enum_value(enum pid_type___mine, PIDTYPE_PGID));
	ctx->out[5] = pid_of(task, bpf_core_enum_value(enum pid_type___mine, PIDTYPE_SID));
	/* renamed member: only one flavour resolves, the other read is poisoned and dead */
	if (bpf_core_field_exists(old->state))
		state = BPF_CORE_READ(old, state);
	else if (bpf_core_field_exists(new->__state))
		state = BPF_CORE_READ(new, __state);
	ctx->out[6] = bpf_core_field_exists(old->state);
	ctx->out[7] = bpf_core_field_exists(new->__state);
	ctx->out[8] = state;
	if (bpf_core_field_exists(nope->no_such_field_in_any_kernel))
		absent = BPF_CORE_READ(nope, no_such_field_in_any_kernel);
	ctx->out[9] = bpf_core_field_exists(nope->no_such_field_in_any_kernel);
	ctx->out[10] = absent;
	ctx->out[11] = bpf_core_type_exists(struct bpf_iter_num___probe);
	ctx->out[12] = bpf_core_type_size(struct bpf_iter_num___probe);
	ctx->out[13] = bpf_core_type_exists(struct core_type_in_no_kernel);
	ctx->out[14] = bpf_core_type_id_kernel(struct task_struct___mine);
	ctx->out[15] = bpf_core_type_id_local(struct task_struct___mine);
	ctx->out[16] = bpf_core_type_size(struct task_struct___mine);
	ctx->out[17] = bpf_core_field_offset(task->pid);
	ctx->out[18] = bpf_core_field_size(task->pid);
	ctx->out[19] = FIELD_INFO(task->pid, BPF_FIELD_SIGNED);
	ctx->out[20] = FIELD_INFO(task->sched_reset_on_fork, BPF_FIELD_BYTE_OFFSET);
	ctx->out[21] = FIELD_INFO(task->sched_reset_on_fork, BPF_FIELD_BYTE_SIZE);
	ctx->out[22] = FIELD_INFO(task->sched_reset_on_fork, BPF_FIELD_LSHIFT_U64);
	ctx->out[23] = FIELD_INFO(task->sched_reset_on_fork, BPF_FIELD_RSHIFT_U64);
	ctx->out[24] = FIELD_INFO(task->sched_reset_on_fork, BPF_FIELD_SIGNED);
	ctx->out[25] = bpf_core_enum_value(enum pid_type___mine, PIDTYPE_PGID);
	ctx->out[26] = bpf_core_enum_value(enum pid_type___mine, PIDTYPE_SID);
	ctx->out[27] = bpf_core_enum_value_exists(enum pid_type___mine, PIDTYPE_PGID);
	ctx->out[28] = bpf_core_enum_value_exists(enum pid_type___mine, PIDTYPE_NOT_IN_ANY_KERNEL);
	ctx->out[29] = bpf_core_field_offset(task->real_parent);
	bpf_core_read_str(comm, sizeof(comm), &task->comm);
	__builtin_memcpy(&ctx->out[30], comm, sizeof(comm));
	return 0;
}

char _license[] SEC("license") = "GPL";
