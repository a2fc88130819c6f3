// SPDX-License-Identifier: GPL-2.0
// pycalls: the Python function calls of a running CPython (after bcc's
// pythoncalls / ucalls -l python), through its USDT probes
// python:function__return and python:function__entry (filename, funcname,
// lineno), read with libbpf's usdt.bpf.h. Per function (file, name, and the
// line it returned from): how many calls returned, and for those whose entry
// was seen too, their total and longest time from entry to return.
//
// CPython 3.11's eval loop fires function__entry only while a trace or
// profile function is set (sys.settrace, sys.setprofile: its tracing path),
// function__return always; an entry is paired with the return of the same
// code object at the same call depth of the thread, so a return whose entry
// was not seen is counted without a time and leaves the stack as it is.
//
// BPF_USDT() reads the uprobe's registers (struct pt_regs), laid out per
// architecture: tools/gen_tool_objects.py builds one object per target,
// pycalls.x86.bpf.o and pycalls.arm64.bpf.o (-D__TARGET_ARCH_x86/arm64).
#include "tools.h"

#if defined(__TARGET_ARCH_x86)
/* x86_64's uprobe context as user space declares it (asm/ptrace.h) */
struct pt_regs {
	unsigned long r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	unsigned long rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss;
};
#elif defined(__TARGET_ARCH_arm64)
/* arm64's uprobe context (asm/ptrace.h) */
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};
#else
#error "pycalls is built per architecture: -D__TARGET_ARCH_x86 or -D__TARGET_ARCH_arm64"
#endif

/* usdt.bpf.h includes <linux/errno.h>: the multiarch include directory gives its <asm/errno.h> */
#include <bpf/usdt.bpf.h>

#define FILE_LEN 128
#define NAME_LEN 48
#define MAX_DEPTH 256

struct function {
	char file[FILE_LEN];
	char name[NAME_LEN];
	__u32 line;
};

struct stats {
	__u64 calls;    /* returns seen */
	__u64 timed;    /* of which the entry was seen too */
	__u64 total_ns; /* entry to return, over the timed calls */
	__u64 max_ns;
};

struct frame {
	__u32 tid;
	__u32 depth;
};

/* a call in progress: when it started, and which code object (its strings' addresses) */
struct start {
	__u64 ns;
	__u64 file;
	__u64 name;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct function);
	__type(value, struct stats);
} functions SEC(".maps");

/* per thread: how many calls whose entry was seen are in progress */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} depths SEC(".maps");

/* per thread and depth: the call in progress there */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct frame);
	__type(value, struct start);
} starts SEC(".maps");

/* returns whose entry was not seen */
__u64 untimed_returns;

SEC("usdt")
int BPF_USDT(function_entry, const char *file, const char *name, int line)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 zero = 0, *depth;
	struct frame frame = {.tid = tid};
	struct start start = {.file = (__u64)file, .name = (__u64)name};

	depth = bpf_map_lookup_elem(&depths, &tid);
	if (!depth) {
		bpf_map_update_elem(&depths, &tid, &zero, BPF_NOEXIST);
		depth = bpf_map_lookup_elem(&depths, &tid);
		if (!depth)
			return 0;
	}
	if (*depth >= MAX_DEPTH)
		return 0;
	frame.depth = *depth;
	*depth += 1;
	start.ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&starts, &frame, &start, BPF_ANY);
	return 0;
}

SEC("usdt")
int BPF_USDT(function_return, const char *file, const char *name, int line)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct function function = {};
	struct stats zero = {}, *stats;
	struct frame frame = {.tid = tid};
	struct start *start = NULL;
	__u64 took = 0;
	__u32 *depth;

	depth = bpf_map_lookup_elem(&depths, &tid);
	if (depth && *depth > 0) {
		frame.depth = *depth - 1;
		start = bpf_map_lookup_elem(&starts, &frame);
		if (start && start->file == (__u64)file && start->name == (__u64)name) {
			took = bpf_ktime_get_ns() - start->ns;
			*depth -= 1;
			bpf_map_delete_elem(&starts, &frame);
		} else {
			start = NULL; /* the return of a call whose entry was not seen */
		}
	}
	if (!start)
		__sync_fetch_and_add(&untimed_returns, 1);

	bpf_probe_read_user_str(function.file, sizeof(function.file), file);
	bpf_probe_read_user_str(function.name, sizeof(function.name), name);
	function.line = line;
	stats = bpf_map_lookup_elem(&functions, &function);
	if (!stats) {
		bpf_map_update_elem(&functions, &function, &zero, BPF_NOEXIST);
		stats = bpf_map_lookup_elem(&functions, &function);
		if (!stats)
			return 0;
	}
	__sync_fetch_and_add(&stats->calls, 1);
	if (start) {
		__sync_fetch_and_add(&stats->timed, 1);
		__sync_fetch_and_add(&stats->total_ns, took);
		if (took > stats->max_ns)
			stats->max_ns = took;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
