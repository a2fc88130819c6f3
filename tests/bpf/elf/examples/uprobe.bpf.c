// libbpf-bootstrap's "uprobe": a function of our own process, entry and return.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u64 calls;

SEC("uprobe")
int BPF_KPROBE(uprobe_add, int a, int b)
{
	__sync_fetch_and_add(&calls, 1);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_add, int ret)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
