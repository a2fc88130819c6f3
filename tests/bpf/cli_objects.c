// What `ebpf` is compared with bpftool on: an XDP program whose name is longer than the
// kernel's 15 characters (the whole name comes from BTF func info), global variables in
// .rodata, .data and .bss (dumped as bpftool's data sections), a hash map with BTF keys and
// values, helper calls the verifier rewrites (named from kallsyms in the xlated dump), a
// subprogram, and BTF line info for every statement.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct proto_stats {
	__u64 packets;
	__u64 bytes;
	__u64 last_seen_ns;
	char label[8];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct proto_stats);
} stats_by_proto SEC(".maps");

const volatile __u32 sample_every = 4;     // .rodata
const volatile __u64 min_length = 60;      // .rodata
__u64 packets_seen = 3;                    // .data
__u64 packets_sampled;                     // .bss

static __attribute__((noinline)) __u32 packet_length(struct xdp_md *ctx)
{
	return ctx->data_end - ctx->data;
}

SEC("xdp")
int count_packets_by_protocol(struct xdp_md *ctx)
{
	__u32 proto = ctx->rx_queue_index;
	__u32 length = packet_length(ctx);
	struct proto_stats *stats;

	packets_seen++;
	if (length < min_length || packets_seen % sample_every)
		return XDP_PASS;
	packets_sampled++;
	stats = bpf_map_lookup_elem(&stats_by_proto, &proto);
	if (!stats) {
		struct proto_stats fresh = { .packets = 1, .bytes = length, .label = "new" };

		fresh.last_seen_ns = bpf_ktime_get_ns();
		bpf_map_update_elem(&stats_by_proto, &proto, &fresh, BPF_NOEXIST);
		return XDP_PASS;
	}
	__sync_fetch_and_add(&stats->packets, 1);
	__sync_fetch_and_add(&stats->bytes, length);
	stats->last_seen_ns = bpf_ktime_get_ns();
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
