/* Includes the vmlinux.h that ebpf.btf.dump_c wrote (in the build directory)
 * and returns current->tgid read through the kernel's own layout. */
#include "vmlinux.h"

static void *(*bpf_get_current_task)(void) = (void *)35;
static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *src) = (void *)113;

__attribute__((section("socket"), used)) int read_tgid(void *ctx)
{
	struct task_struct *task = bpf_get_current_task();
	int tgid = 0;

	bpf_probe_read_kernel(&tgid, sizeof(tgid), (char *)task + __builtin_offsetof(struct task_struct, tgid));
	return tgid;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
