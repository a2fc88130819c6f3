// Drains a user ring buffer: each record is a u64 that is added to a total.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 4096);
} input SEC(".maps");

// [0]: sum of the values, [1]: records seen, [2]: records shorter than a u64,
// [3]: what the last bpf_user_ringbuf_drain returned.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __s64);
} totals SEC(".maps");

static void bump(__u32 index, __s64 by)
{
	__s64 *slot = bpf_map_lookup_elem(&totals, &index);

	if (slot)
		*slot += by;
}

static long on_record(struct bpf_dynptr *record, void *ctx)
{
	__u64 value;

	bump(1, 1);
	if (bpf_dynptr_read(&value, sizeof(value), record, 0, 0)) {
		bump(2, 1);
		return 0;
	}
	bump(0, value);
	return 0;
}

SEC("xdp")
int drain(struct xdp_md *ctx)
{
	__u32 last = 3;
	__s64 drained = bpf_user_ringbuf_drain(&input, on_record, NULL, 0);

	bpf_map_update_elem(&totals, &last, &drained, BPF_ANY);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
