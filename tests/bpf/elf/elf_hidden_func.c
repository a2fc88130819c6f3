// Hidden global functions (`__hidden`): libbpf makes their BTF linkage static
// (mark_btf_static), so the verifier checks them in each caller's context.
// Verified on their own, as global functions are, their pointer arguments
// could be NULL and every dereference below would be refused
// ("R1 invalid mem access 'mem_or_null'"); in the callers' context they are
// a map value and a stack slot the callers checked.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct flow_stats {
	__u64 packets;
	__u64 bytes;
	__u64 largest;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct flow_stats);
} flows SEC(".maps");

__u64 visible_calls;

// Adds one packet of `len` bytes to `stats`, which the caller found in a map.
__noinline __hidden int account(struct flow_stats *stats, __u64 len)
{
	stats->packets += 1;
	stats->bytes += len;
	if (len > stats->largest)
		stats->largest = len;
	return (int)stats->packets;
}

// Doubles the value `slot` points to; a pointer to the caller's stack.
__noinline __hidden void double_in_place(__u64 *slot)
{
	*slot *= 2;
}

// A global function that stays global: verified on its own, with a scalar argument.
__noinline int bucket_of(__u32 len)
{
	visible_calls++;
	return len < 128 ? 0 : len < 1024 ? 1 : 2;
}

SEC("xdp")
int count_flows(struct xdp_md *ctx)
{
	__u64 len = ctx->data_end - ctx->data;
	__u32 key = bucket_of(len);
	struct flow_stats *stats = bpf_map_lookup_elem(&flows, &key);

	if (!stats)
		return XDP_ABORTED;
	account(stats, len);
	return XDP_PASS;
}

SEC("xdp")
int count_doubled(struct xdp_md *ctx)
{
	__u64 len = ctx->data_end - ctx->data;
	__u32 key = 3;
	struct flow_stats *stats;

	double_in_place(&len);
	stats = bpf_map_lookup_elem(&flows, &key);
	if (!stats)
		return XDP_ABORTED;
	account(stats, len);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
