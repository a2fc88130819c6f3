// A socket filter that outgrew one program: the entry program counts the
// packet and tail-calls a stage through a program array. The stages live in
// sections libbpf has no program type for (SEC("socket/tail") and
// SEC("socket/type_ids") match no entry of its table, SEC("sk_lookup/") is
// not the exact "sk_lookup"): libbpf opens them with no type and user space
// sets one before loading. SEC("raw_tp/") has a type and no target, and
// SEC("?socket") is a debugging filter that is not loaded unless turned on.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum { SEEN_ENTRY, SEEN_TAIL, SEEN_TYPE_IDS, SEEN_LOOKUP, SEEN_DEBUG, SEEN_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SEEN_MAX);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

int filter_tail(struct __sk_buff *skb);
int classify(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int (void *));
} stages SEC(".maps") = {
	.values = { [1] = (void *)&filter_tail, [2] = (void *)&classify },
};

static __always_inline void count(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&seen, &which);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("socket")
int filter_entry(struct __sk_buff *skb)
{
	count(SEEN_ENTRY);
	/* IPv4 packets to the classifier, the rest to the plain tail */
	bpf_tail_call(skb, &stages, skb->protocol == __builtin_bswap16(0x0800) ? 2 : 1);
	return 0; /* no stage: drop */
}

SEC("socket/tail")
int filter_tail(struct __sk_buff *skb)
{
	count(SEEN_TAIL);
	return skb->len; /* keep the whole packet */
}

SEC("socket/type_ids")
int classify(struct __sk_buff *skb)
{
	count(SEEN_TYPE_IDS);
	return 64; /* keep the headers */
}

SEC("sk_lookup/")
int steer(struct bpf_sk_lookup *ctx)
{
	count(SEEN_LOOKUP);
	return SK_PASS;
}

SEC("raw_tp/")
int manual_raw_tp(void *ctx)
{
	return 0;
}

SEC("?socket")
int filter_debug(struct __sk_buff *skb)
{
	count(SEEN_DEBUG);
	return skb->len;
}

char LICENSE[] SEC("license") = "GPL";
