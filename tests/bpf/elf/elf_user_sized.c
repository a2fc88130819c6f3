// A sleep profiler in the style of bcc's offcputime and cpudist: how long the
// target process sleeps in clock_nanosleep, counted per (process, user stack,
// kernel stack), each sleep longer than min_ns also sent to a ring buffer.
// Every map is sized by user space before loading, as those tools do: hash
// maps and the ring buffer declare no max_entries, the stack trace map no
// max_entries and no value size (user space picks the depth).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16

// The fields read, relocated by CO-RE against the running kernel.
struct task_struct {
	int pid;
	int tgid;
	char comm[TASK_COMM_LEN];
} __attribute__((preserve_access_index));

struct key_t {
	__u32 tgid;
	__s32 user_stack_id;
	__s32 kern_stack_id;
	char comm[TASK_COMM_LEN];
};

struct event {
	__u32 tgid;
	__u32 pid;
	__u64 delta_ns;
	__s32 user_stack_id;
	__s32 kern_stack_id;
	char comm[TASK_COMM_LEN];
};

const volatile __u32 target_tgid = 0;
const volatile __u64 min_ns = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);   /* thread id */
	__type(value, __u64); /* when it went to sleep */
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
} stackmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct key_t);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
} events SEC(".maps");

SEC("tp/syscalls/sys_enter_clock_nanosleep")
int sleep_enter(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id;
	__u64 ts;

	if (id >> 32 != target_tgid)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

SEC("tp/syscalls/sys_exit_clock_nanosleep")
int sleep_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tid = bpf_get_current_pid_tgid();
	struct key_t key = {};
	__u64 *tsp, *count, delta, one = 1;
	struct event *e;

	tsp = bpf_map_lookup_elem(&start, &tid);
	if (!tsp)
		return 0;
	delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &tid);
	if (delta < min_ns)
		return 0;

	key.tgid = BPF_CORE_READ(task, tgid);
	key.user_stack_id = bpf_get_stackid(ctx, &stackmap, BPF_F_USER_STACK);
	key.kern_stack_id = bpf_get_stackid(ctx, &stackmap, 0);
	BPF_CORE_READ_STR_INTO(&key.comm, task, comm);
	count = bpf_map_lookup_elem(&counts, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->tgid = key.tgid;
	e->pid = tid;
	e->delta_ns = delta;
	e->user_stack_id = key.user_stack_id;
	e->kern_stack_id = key.kern_stack_id;
	__builtin_memcpy(e->comm, key.comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
