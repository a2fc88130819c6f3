// .kconfig and .ksyms externs, resolved from the running kernel at load.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern _Bool CONFIG_BPF_SYSCALL __kconfig __weak;
extern int CONFIG_NOT_A_REAL_OPTION_XYZ __kconfig __weak;
extern const void bpf_prog_put __ksym;          // untyped: an address from /proc/kallsyms

__u64 kernel_version_seen;
__u64 bpf_syscall_seen;
__u64 missing_seen;
__u64 put_address;

SEC("xdp")
int read_externs(struct xdp_md *ctx)
{
	kernel_version_seen = LINUX_KERNEL_VERSION;
	bpf_syscall_seen = CONFIG_BPF_SYSCALL;
	missing_seen = CONFIG_NOT_A_REAL_OPTION_XYZ;
	put_address = (__u64)&bpf_prog_put;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
