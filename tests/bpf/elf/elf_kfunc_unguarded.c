// A __weak kfunc the kernel lacks, called without a bpf_ksym_exists() guard: the object parses and
// its externs resolve (the call is poisoned, as libbpf does), and the verifier refuses the
// reachable poisoned call. A second program of the object calls a kfunc the kernel has.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

extern void bpf_kfunc_no_kernel_has(void) __ksym __weak;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

SEC("tc")
int call_unguarded(struct __sk_buff *skb)
{
	bpf_kfunc_no_kernel_has();
	return TC_ACT_OK;
}

SEC("tc")
int call_present(struct __sk_buff *skb)
{
	bpf_rcu_read_lock();
	bpf_rcu_read_unlock();
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
