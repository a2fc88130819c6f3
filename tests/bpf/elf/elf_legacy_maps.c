// A legacy `maps` section (struct bpf_map_def), as iproute2 and old libbpf read it.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 2,
};

struct bpf_map_def SEC("maps") legacy_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u32),
	.max_entries = 8,
};

SEC("socket")
int legacy_prog(struct __sk_buff *skb)
{
	__u32 key = 1;
	__u64 *value = bpf_map_lookup_elem(&legacy_counts, &key);
	if (value)
		*value += 5;
	return 0;
}

char _license[] SEC("license") = "GPL";
__u32 _version SEC("version") = 0x050400;
