// Bad input: a BTF-defined map with a field libbpf does not know.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(colour, 3);
} odd SEC(".maps");

SEC("xdp")
int uses_odd(struct xdp_md *ctx)
{
	__u32 key = 0;
	return bpf_map_lookup_elem(&odd, &key) ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
