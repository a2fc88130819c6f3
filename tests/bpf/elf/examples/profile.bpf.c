// libbpf-bootstrap's "profile": stack samples from a perf event, to a ring buffer.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define MAX_STACK_DEPTH 32

struct stacktrace_event {
	__u32 pid;
	__u32 cpu_id;
	char comm[16];
	__s32 kstack_sz;
	__s32 ustack_sz;
	__u64 kstack[MAX_STACK_DEPTH];
	__u64 ustack[MAX_STACK_DEPTH];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("perf_event")
int profile(void *ctx)
{
	struct stacktrace_event *event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);

	if (!event)
		return 1;
	event->pid = bpf_get_current_pid_tgid() >> 32;
	event->cpu_id = bpf_get_smp_processor_id();
	if (bpf_get_current_comm(event->comm, sizeof(event->comm)))
		event->comm[0] = 0;
	event->kstack_sz = bpf_get_stack(ctx, event->kstack, sizeof(event->kstack), 0);
	event->ustack_sz = bpf_get_stack(ctx, event->ustack, sizeof(event->ustack), BPF_F_USER_STACK);
	bpf_ringbuf_submit(event, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
