// libbpf-bootstrap's "kprobe": unlinkat entry and return, with BPF_KPROBE macros.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(do_unlinkat, int dfd, struct filename *name)
{
	const char *filename = BPF_CORE_READ(name, name);

	bpf_printk("KPROBE ENTRY pid = %d, filename = %s\n", bpf_get_current_pid_tgid() >> 32, filename);
	return 0;
}

SEC("kretprobe/do_unlinkat")
int BPF_KRETPROBE(do_unlinkat_exit, long ret)
{
	bpf_printk("KPROBE EXIT: pid = %d, ret = %ld\n", bpf_get_current_pid_tgid() >> 32, ret);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
