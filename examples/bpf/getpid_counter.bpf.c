// SPDX-License-Identifier: GPL-2.0
/* A libbpf-style program for examples/clang_object.py: global variables
 * (.rodata set before loading, .bss read after), a BTF-defined map, and
 * CO-RE reads of task_struct that are relocated for the running kernel. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0; /* 0: every process */
__u64 hits = 0;
__u32 last_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} calls_by_tid SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getpid")
int count_getpid(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u32 tid = BPF_CORE_READ(task, pid);
	__u64 one = 1, *calls;

	if (target_tgid && tgid != target_tgid)
		return 0;
	__sync_fetch_and_add(&hits, 1);
	last_tgid = tgid;
	calls = bpf_map_lookup_elem(&calls_by_tid, &tid);
	if (calls)
		__sync_fetch_and_add(calls, 1);
	else
		bpf_map_update_elem(&calls_by_tid, &tid, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
