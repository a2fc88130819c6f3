// ksyscall/ and kretsyscall/ sections: kprobes on the running architecture's syscall wrapper.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("ksyscall/getpid")
int ksyscall_getpid(void *ctx) { return 0; }

SEC("kretsyscall/getpid")
int kretsyscall_getpid(void *ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
