// A process watcher in the style of libbpf-bootstrap, attached in one call as
// a skeleton's attach() does: a tracepoint that sends an event (with the
// parent read through a CO-RE chain) to a ring buffer, a raw tracepoint and
// uprobes on libc by "binary:function" sections count. An XDP program and
// programs whose sections name no attach point are for the user to attach;
// SEC("?...") is an optional probe that is not loaded unless turned on.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16

struct task_struct {
	int tgid;
	struct task_struct *real_parent;
} __attribute__((preserve_access_index));

struct event {
	__u32 tgid;
	__u32 ppid;
	char comm[TASK_COMM_LEN];
};

enum { HIT_TP, HIT_RAW_TP, HIT_UPROBE, HIT_URETPROBE, HIT_OPTIONAL, HIT_MANUAL, HIT_MAX };

const volatile __u32 target_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HIT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

static __always_inline int mine(void)
{
	return bpf_get_current_pid_tgid() >> 32 == target_tgid;
}

static __always_inline void hit(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&hits, &which);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	struct task_struct *task;
	struct event *e;

	if (!mine())
		return 0;
	hit(HIT_TP);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	e->tgid = BPF_CORE_READ(task, tgid);
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("raw_tp/sys_enter")
int on_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	if (mine())
		hit(HIT_RAW_TP);
	return 0;
}

SEC("uprobe/libc.so.6:getpid")
int on_getpid(void *ctx)
{
	if (mine())
		hit(HIT_UPROBE);
	return 0;
}

SEC("uretprobe/libc.so.6:getpid")
int on_getpid_return(void *ctx)
{
	if (mine())
		hit(HIT_URETPROBE);
	return 0;
}

SEC("?ksyscall/getppid")
int optional_getppid(void *ctx)
{
	if (mine())
		hit(HIT_OPTIONAL);
	return 0;
}

SEC("tp")
int manual_tp(void *ctx)
{
	if (mine())
		hit(HIT_MANUAL);
	return 0;
}

SEC("uprobe")
int manual_uprobe(void *ctx)
{
	if (mine())
		hit(HIT_MANUAL);
	return 0;
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
