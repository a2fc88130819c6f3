// BTF-defined maps shared between programs, subprogram calls (static and
// global), a callback through bpf_loop, tail calls through a program array
// with initial values, a map-in-map with initial values, pinning by name.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pinned_stats SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { &inner_a, &inner_b },
};

int tail_target(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int (void *));
} jump_table SEC(".maps") = {
	.values = { [2] = (void *)&tail_target },
};

static __noinline __u64 add_twice(__u64 x)
{
	return x + x;
}

__noinline int global_helper(__u32 key)
{
	__u64 one = 1, *value = bpf_map_lookup_elem(&counters, &key);
	if (value)
		__sync_fetch_and_add(value, add_twice(key));
	else
		bpf_map_update_elem(&counters, &key, &one, BPF_ANY);
	return 0;
}

static long sum_cb(__u32 index, void *ctx)
{
	*(__u64 *)ctx += index;
	return 0;
}

SEC("xdp")
int count_a(struct xdp_md *ctx)
{
	global_helper(1);
	return XDP_PASS;
}

SEC("xdp")
int count_b(struct xdp_md *ctx)
{
	__u32 key = 0, inner_key = 0, *inner_value;
	__u64 sum = 0, *slot;
	void *inner;

	global_helper(2);
	bpf_loop(5, sum_cb, &sum, 0);           /* 0+1+2+3+4 = 10 */
	slot = bpf_map_lookup_elem(&pinned_stats, &key);
	if (slot)
		*slot = sum;
	inner = bpf_map_lookup_elem(&outer, &key);
	if (inner) {
		inner_value = bpf_map_lookup_elem(inner, &inner_key);
		if (inner_value)
			*inner_value = 42;
	}
	return XDP_PASS;
}

SEC("xdp")
int tail_target(struct xdp_md *ctx)
{
	return XDP_TX;
}

SEC("xdp")
int tail_caller(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jump_table, 2);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
