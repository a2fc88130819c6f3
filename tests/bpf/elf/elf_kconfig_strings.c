// Build facts a tool reports beside its output (the kernel it runs on, the
// compiler that built it), from __kconfig externs: string options declared
// shorter than their values are truncated as libbpf truncates them. The
// report goes through a perf buffer when the target process calls getppid.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig __weak;
extern char CONFIG_CC_VERSION_TEXT[8] __kconfig __weak; /* "gcc (Debian 12.2.0-14) 12.2.0": cut to 7 */
extern char CONFIG_DEFAULT_HOSTNAME[32] __kconfig __weak; /* "(none)": fits */

struct build_info {
	__u32 kernel_version;
	__s32 hz;
	char cc[8];
	char hostname[32];
};

const volatile __u32 target_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} reports SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int report_build(void *ctx)
{
	struct build_info info = {};

	if (bpf_get_current_pid_tgid() >> 32 != target_tgid)
		return 0;
	info.kernel_version = LINUX_KERNEL_VERSION;
	info.hz = CONFIG_HZ;
	__builtin_memcpy(info.cc, CONFIG_CC_VERSION_TEXT, sizeof(info.cc));
	__builtin_memcpy(info.hostname, CONFIG_DEFAULT_HOSTNAME, sizeof(info.hostname));
	bpf_perf_event_output(ctx, &reports, BPF_F_CURRENT_CPU, &info, sizeof(info));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
