// Kernel functions (kfuncs) declared __ksym, resolved against the running kernel's BTF at load:
// task references (bpf_task_from_pid, bpf_task_acquire/release) and an RCU read section
// (bpf_rcu_read_lock/unlock) in a syscall program, cpumasks (bpf_cpumask_*) in another, packet
// access through a dynptr (bpf_dynptr_from_skb/slice) in a tc classifier, and a __weak kfunc this
// kernel lacks, called only where bpf_ksym_exists() says it exists.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// libbpf >= 1.2 has it in bpf_helpers.h
#ifndef bpf_ksym_exists
#define bpf_ksym_exists(sym)                                                                         \
	({                                                                                           \
		_Static_assert(!__builtin_constant_p(!!sym), #sym " should be marked as __weak"); \
		!!sym;                                                                               \
	})
#endif

// Local views of the kernel's types: only the fields used, placed by CO-RE.
struct task_struct {
	int pid;
	int tgid;
	char comm[16];
	struct task_struct *real_parent;
} __attribute__((preserve_access_index));

struct cpumask {
	unsigned long bits[1];
} __attribute__((preserve_access_index));

struct bpf_cpumask {
	struct cpumask cpumask;
} __attribute__((preserve_access_index));

extern struct task_struct *bpf_task_from_pid(__s32 pid) __ksym;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

extern struct bpf_cpumask *bpf_cpumask_create(void) __ksym;
extern void bpf_cpumask_release(struct bpf_cpumask *cpumask) __ksym;
extern void bpf_cpumask_set_cpu(__u32 cpu, struct bpf_cpumask *cpumask) __ksym;
extern _Bool bpf_cpumask_test_cpu(__u32 cpu, const struct cpumask *cpumask) __ksym;
// weak and present: resolved like a strong one, and bpf_ksym_exists() says 1
extern __u32 bpf_cpumask_weight(const struct cpumask *cpumask) __ksym __weak;

extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags, struct bpf_dynptr *ptr) __ksym;
extern void *bpf_dynptr_slice(const struct bpf_dynptr *ptr, __u32 offset, void *buffer, __u32 buffer__szk) __ksym;

// weak and missing: no kernel has it, so bpf_ksym_exists() says 0 and the guarded call is dead code
extern void bpf_kfunc_no_kernel_has(struct task_struct *p) __ksym __weak;

struct task_args {
	__s32 pid;
	__s32 found;
	__s32 tgid;
	__s32 parent_tgid;
	char comm[16];
};

// user space sets how many CPUs to put in the mask before loading
const volatile __u32 cpus_to_set = 1;
__u32 mask_weight;
__u32 mask_has_cpu0;
__u32 mask_has_last;

__u32 weak_present = 7;
__u32 weak_missing = 7;
__u32 missing_called;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u64);
} ethertypes SEC(".maps");

SEC("syscall")
int inspect_task(struct task_args *args)
{
	struct task_struct *task, *again;
	char comm[16] = {};

	task = bpf_task_from_pid(args->pid);
	if (!task) {
		args->found = 0;
		return 0;
	}
	again = bpf_task_acquire(task); // a second reference, released on its own
	args->found = 1;
	args->tgid = task->tgid;
	bpf_probe_read_kernel_str(comm, sizeof(comm), task->comm);
	__builtin_memcpy(args->comm, comm, sizeof(comm)); // helpers cannot write the context
	bpf_rcu_read_lock(); // real_parent is an __rcu pointer
	args->parent_tgid = task->real_parent->tgid;
	bpf_rcu_read_unlock();
	if (again)
		bpf_task_release(again);
	bpf_task_release(task);
	return 0;
}

SEC("syscall")
int build_cpumask(void *ctx)
{
	struct bpf_cpumask *mask = bpf_cpumask_create();
	__u32 cpu;

	if (!mask)
		return 1;
	for (cpu = 0; cpu < cpus_to_set && cpu < 64; cpu++)
		bpf_cpumask_set_cpu(cpu, mask);
	mask_weight = bpf_cpumask_weight(&mask->cpumask);
	mask_has_cpu0 = bpf_cpumask_test_cpu(0, &mask->cpumask);
	mask_has_last = cpus_to_set ? bpf_cpumask_test_cpu(cpus_to_set - 1, &mask->cpumask) : 0;
	bpf_cpumask_release(mask);
	return 0;
}

SEC("syscall")
int probe_kfuncs(struct task_args *args)
{
	struct task_struct *task;

	weak_present = bpf_ksym_exists(bpf_cpumask_weight);
	weak_missing = bpf_ksym_exists(bpf_kfunc_no_kernel_has);
	if (bpf_ksym_exists(bpf_kfunc_no_kernel_has)) {
		task = bpf_task_from_pid(args->pid);
		if (task) {
			bpf_kfunc_no_kernel_has(task); // poisoned at load; the verifier drops it as dead code
			bpf_task_release(task);
		}
		missing_called = 1;
	}
	return 0;
}

SEC("tc")
int count_ethertypes(struct __sk_buff *skb)
{
	struct bpf_dynptr packet;
	__u8 buffer[14] = {};
	__u8 *eth;
	__u16 proto;
	__u64 one = 1, *count;

	if (bpf_dynptr_from_skb(skb, 0, &packet))
		return TC_ACT_OK;
	eth = bpf_dynptr_slice(&packet, 0, buffer, sizeof(buffer));
	if (!eth)
		return TC_ACT_OK;
	proto = ((__u16)eth[12] << 8) | eth[13];
	count = bpf_map_lookup_elem(&ethertypes, &proto);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&ethertypes, &proto, &one, BPF_NOEXIST);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
