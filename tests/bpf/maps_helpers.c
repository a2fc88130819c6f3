// Maps, helper calls, global data (map value loads) and tail calls.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jumps SEC(".maps");

const volatile __u64 threshold = 1000;
__u64 last_seen = 0;

SEC("xdp")
int count(struct xdp_md *ctx)
{
	__u32 key = ctx->ingress_ifindex;
	__u64 one = 1, now = bpf_ktime_get_ns();
	__u64 *value = bpf_map_lookup_elem(&seen, &key);

	if (value)
		*value += 1;
	else
		bpf_map_update_elem(&seen, &key, &one, BPF_NOEXIST);
	__u32 zero = 0;
	__u64 *total = bpf_map_lookup_elem(&counters, &zero);
	if (total && *total > threshold)
		bpf_map_delete_elem(&seen, &key);
	last_seen = now;
	bpf_tail_call(ctx, &jumps, bpf_get_prandom_u32() & 3);
	return XDP_PASS;
}

/* Legacy packet loads (BPF_LD | BPF_ABS): LLVM's intrinsics, as the kernel samples declare them. */
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

SEC("socket")
int legacy(struct __sk_buff *skb)
{
	__u64 proto = load_half(skb, 12);
	__u64 flags = load_byte(skb, 14 + 9);
	__u64 addr = load_word(skb, 26 + (skb->len & 3));
	return proto == 0x0800 && flags == 6 && addr ? -1 : 0;
}

char LICENSE[] SEC("license") = "GPL";
