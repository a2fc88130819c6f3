// A strong (not __weak) kfunc that no kernel has: the object parses, loading it names the function.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

extern int bpf_kfunc_no_kernel_has(struct __sk_buff *skb) __ksym;

SEC("tc")
int call_missing(struct __sk_buff *skb)
{
	return bpf_kfunc_no_kernel_has(skb);
}

char LICENSE[] SEC("license") = "GPL";
