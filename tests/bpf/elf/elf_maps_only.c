// The object a daemon loads first: maps only, no program. It creates and
// pins the shared connection table, a configuration array of structs and a
// task storage map (which the kernel creates only with BTF types), then
// starts the tools that reuse them (elf_lpm_firewall.c). libbpf loads the
// object's BTF for the maps alone.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "elf_shared_maps.h"

struct config {
	__u32 sample_rate;
	__u32 verbose;
	char tag[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} settings SEC(".maps");

struct task_ctx {
	__u64 started_ns;
	__u32 events;
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctx SEC(".maps");

char LICENSE[] SEC("license") = "GPL";
