// CO-RE reads of task_struct fields (relocated against the running kernel's BTF),
// run in the caller's task by BPF_PROG_TEST_RUN of a raw tracepoint program.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

// A local view of the kernel types with only the fields used: CO-RE finds
// their real offsets in the running kernel's BTF.
struct task_struct {
	int pid;
	int tgid;
	struct task_struct *real_parent;
} __attribute__((preserve_access_index));

__u64 seen_tgid;
__u64 seen_parent_tgid;
__u64 has_tgid;

SEC("raw_tp/sys_enter")
int read_task(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	seen_tgid = BPF_CORE_READ(task, tgid);
	seen_parent_tgid = BPF_CORE_READ(task, real_parent, tgid);
	has_tgid = bpf_core_field_exists(task->tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
