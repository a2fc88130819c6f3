// libbpf-bootstrap's "fentry": fentry/fexit of do_unlinkat, plus an LSM hook.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("fentry/do_unlinkat")
int BPF_PROG(do_unlinkat, int dfd, struct filename *name)
{
	bpf_printk("fentry: pid = %d, filename = %s\n", bpf_get_current_pid_tgid() >> 32, name->name);
	return 0;
}

SEC("fexit/do_unlinkat")
int BPF_PROG(do_unlinkat_exit, int dfd, struct filename *name, long ret)
{
	bpf_printk("fexit: pid = %d, filename = %s, ret = %ld\n", bpf_get_current_pid_tgid() >> 32, name->name, ret);
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(check_open, struct file *file)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
