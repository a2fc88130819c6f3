/* SPDX-License-Identifier: GPL-2.0 */
/* What every ready tool's BPF side shares: fixed-width types, libbpf's helper
 * and CO-RE macros, the few kernel structs the tools read, and the pid and
 * comm filters user space sets before loading.
 *
 * No vmlinux.h: each kernel struct is declared with only the fields a tool
 * reads, with __attribute__((preserve_access_index)), as libbpf-tools do.
 * clang records every field access as a CO-RE relocation, and the loader
 * moves it to where the running kernel keeps the field, so one object
 * serves every kernel with BTF. */
#ifndef EBPF_TOOLS_H
#define EBPF_TOOLS_H

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define TASK_COMM_LEN 16
#define NAME_MAX 255

/* Map types and flags (linux/bpf.h), for the map definitions. */
#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define BPF_MAP_TYPE_STACK_TRACE 7
#define BPF_MAP_TYPE_RINGBUF 27
#define BPF_ANY 0
#define BPF_NOEXIST 1

struct trace_entry {
	unsigned short type;
} __attribute__((preserve_access_index));

/* The context of syscalls:sys_enter_* and raw_syscalls:sys_enter. */
struct trace_event_raw_sys_enter {
	struct trace_entry ent;
	long id;
	unsigned long args[6];
} __attribute__((preserve_access_index));

/* The context of syscalls:sys_exit_* and raw_syscalls:sys_exit. */
struct trace_event_raw_sys_exit {
	struct trace_entry ent;
	long id;
	long ret;
} __attribute__((preserve_access_index));

struct task_struct {
	int pid;
	int tgid;
	int exit_code;
	unsigned long long start_time;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	char comm[TASK_COMM_LEN];
} __attribute__((preserve_access_index));

/* Set by user space before loading (-p PID, -c COMM); zero means everyone. */
const volatile __u32 targ_tgid = 0;
const volatile char targ_comm[TASK_COMM_LEN] = {};

/* Whether the current process passes the -p filter. */
static __always_inline bool tgid_allowed(__u32 tgid)
{
	return targ_tgid == 0 || targ_tgid == tgid;
}

/* Whether the current task's comm passes the -c filter (an exact match). */
static __always_inline bool comm_allowed(void)
{
	char comm[TASK_COMM_LEN];
	int i;

	if (targ_comm[0] == '\0')
		return true;
	bpf_get_current_comm(comm, sizeof(comm));
#pragma unroll
	for (i = 0; i < TASK_COMM_LEN; i++) {
		if (comm[i] != targ_comm[i])
			return false;
		if (comm[i] == '\0')
			break;
	}
	return true;
}

/* The -p and -c filters together, for the current task. */
static __always_inline bool current_allowed(void)
{
	return tgid_allowed(bpf_get_current_pid_tgid() >> 32) && comm_allowed();
}

#endif
