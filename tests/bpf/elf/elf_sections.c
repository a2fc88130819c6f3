// One small program per section name libbpf knows (parsed, and loaded where the kernel allows).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define PROG(sec, name) SEC(sec) int name(void *ctx) { return 0; }
#define PROG1(sec, name) SEC(sec) int name(void *ctx) { return 1; }

PROG("kprobe/do_unlinkat", kprobe_unlink)
PROG("kretprobe/do_unlinkat", kretprobe_unlink)
PROG("uprobe//usr/lib/x86_64-linux-gnu/libc.so.6:malloc", uprobe_malloc)
PROG("uretprobe", uretprobe_any)
PROG("tracepoint/syscalls/sys_enter_getpid", tracepoint_getpid)
PROG("tp/syscalls/sys_enter_getppid", tp_getppid)
PROG("raw_tp/sys_enter", raw_tp_enter)
PROG("raw_tracepoint/sys_exit", raw_tracepoint_exit)
PROG("tp_btf/sched_switch", tp_btf_switch)
PROG("fentry/do_unlinkat", fentry_unlink)
PROG("fexit/do_unlinkat", fexit_unlink)
PROG("fmod_ret/security_file_open", fmod_ret_open)
// A sleepable fentry program may attach only where the kernel allows one to
// sleep: bpf_fentry_test1 is in the fmod_ret set with KF_SLEEPABLE since 6.2
// (and on the error-injection list before, with CONFIG_FUNCTION_ERROR_INJECTION).
PROG("fentry.s/bpf_fentry_test1", fentry_sleepable)
PROG("lsm/file_open", lsm_file_open)
PROG("lsm.s/file_open", lsm_sleepable)
PROG("iter/task", iter_task)
PROG("xdp", xdp_prog)
PROG("tc", tc_prog)
#ifndef NO_TCX // libbpf knows tcx/ only since 1.3: the bpftool oracle test leaves it out for an older one
PROG("tcx/ingress", tcx_ingress)
#endif
PROG("classifier", classifier_prog)
PROG1("cgroup_skb/ingress", cgroup_skb_in)
PROG1("cgroup_skb/egress", cgroup_skb_out)
PROG1("cgroup/sock_create", cgroup_sock)
PROG1("cgroup/connect4", cgroup_connect4)
PROG1("cgroup/getsockopt", cgroup_getsockopt)
PROG1("cgroup/sysctl", cgroup_sysctl)
PROG1("cgroup/dev", cgroup_dev)
PROG("sockops", sockops_prog)
PROG("sk_msg", sk_msg_prog)
PROG("sk_skb/stream_verdict", sk_skb_verdict)
PROG("sk_skb/stream_parser", sk_skb_parser)
PROG("socket", socket_prog)
PROG("syscall", syscall_prog)
PROG("perf_event", perf_event_prog)

char LICENSE[] SEC("license") = "GPL";
