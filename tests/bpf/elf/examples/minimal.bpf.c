// libbpf-bootstrap's "minimal": count write(2) calls of one process (our style).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile int my_pid = 0;
__u64 writes = 0;

SEC("tp/syscalls/sys_enter_write")
int handle_tp(void *ctx)
{
	int pid = bpf_get_current_pid_tgid() >> 32;

	if (pid != my_pid)
		return 0;
	__sync_fetch_and_add(&writes, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
