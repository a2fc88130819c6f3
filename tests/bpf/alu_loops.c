// Arithmetic, shifts, byte swaps, loops, stack use and BPF-to-BPF calls.
// Compiled by tests/asm/test_asm_oracle.py for every -mcpu the installed clang knows.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

static __attribute__((noinline)) __u64 mix(__u64 a, __u64 b)
{
	return (a * 31 + b) ^ (a >> 7) ^ (b << 3);
}

static __attribute__((noinline)) __s32 clamp(__s32 v, __s32 lo, __s32 hi)
{
	if (v < lo)
		return lo;
	if (v > hi)
		return hi;
	return v;
}

SEC("socket")
int arithmetic(struct __sk_buff *skb)
{
	volatile __u64 stack[4] = {1, 2, 3, 4};
	__u64 len = skb->len;
	__u32 proto = skb->protocol;
	__s64 s = (__s64)len - 100;
	__u64 acc = 0;

	acc += len * 3;
	acc -= proto / 7;
	acc |= proto % 5;
	acc &= ~0xffULL;
	acc ^= s >> 2;
	acc += (__u64)-s;
	acc += __bpf_ntohs((__u16)proto) + __bpf_ntohl((__u32)len) + __builtin_bswap64(acc);
	acc += stack[len & 3];
	acc += 0x123456789abcdefULL;
	return (int)mix(acc, len) + clamp((__s32)s, -10, 10);
}

SEC("xdp")
int loops(struct xdp_md *ctx)
{
	__u32 size = ctx->data_end - ctx->data;
	__u64 sum = 0, prod = 1;

	for (int i = 0; i < 32; i++) {
		if (i >= size)
			break;
		sum += i * size;
		prod = prod * 3 + (sum & 0xf);
	}
	while (size > 7)
		size >>= 1;
	return (sum + prod + size) & 3 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
