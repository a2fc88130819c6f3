/* A hash map whose values are a struct with a string, a bitfield and a
 * nested anonymous union: Collection maps read them as dicts (BtfCodec). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum color { RED = 0, GREEN = 5 };

struct event {
	__u32 pid;
	char comm[8];
	__s16 delta;
	unsigned int flag : 1;
	unsigned int level : 3;
	union {
		__u64 as_u64;
		__u32 as_u32[2];
	};
	enum color color;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct event);
} events SEC(".maps");

SEC("xdp")
int record(struct xdp_md *ctx)
{
	__u32 key = 1;
	struct event *seen = bpf_map_lookup_elem(&events, &key);
	struct event ev = {};

	/* A value written from user space comes back with delta doubled. */
	if (seen) {
		ev = *seen;
		ev.delta *= 2;
	} else {
		ev.pid = 42;
		__builtin_memcpy(ev.comm, "hello", 6);
		ev.delta = -7;
		ev.flag = 1;
		ev.level = 5;
		ev.as_u64 = 0x1122334455667788ULL;
		ev.color = GREEN;
	}
	bpf_map_update_elem(&events, &key, &ev, BPF_ANY);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
