// SPDX-License-Identifier: GPL-2.0
// Python function calls of a running CPython, through its USDT probes
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
// Shipped built (python_calls.<arch>.bpf.o) so that examples/python_calls.py
// needs no compiler; integration/core/test_core_example_python_calls.py
// checks the objects still match this source. To rebuild them:
//   clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -c python_calls.bpf.c -o python_calls.x86.bpf.o
//   clang -O2 -g -target bpf -D__TARGET_ARCH_arm64 -c python_calls.bpf.c -o python_calls.arm64.bpf.o
// (with the multiarch include directory, -I/usr/include/$(uname -m)-linux-gnu).
// Built with: Debian clang version 14.0.6
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

#if defined(__TARGET_ARCH_arm64) && defined(_ASM_X86_PTRACE_H)
/* arm64's uprobe context (asm/ptrace.h), when the headers included are x86_64's */
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
};
#endif

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
