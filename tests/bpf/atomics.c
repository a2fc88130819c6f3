// Atomic operations: lock add with any -mcpu, the fetch forms, xchg and cmpxchg with -mcpu=v3.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 wide = 0;
__u32 narrow = 0;

SEC("xdp")
int atomics(struct xdp_md *ctx)
{
	__u64 size = ctx->data_end - ctx->data;

	__sync_fetch_and_add(&wide, size);
	__sync_fetch_and_add(&narrow, 1);
#if __BPF_CPU_VERSION__ >= 3
	__u64 r = __sync_fetch_and_add(&wide, 2);
	r += __sync_fetch_and_or(&wide, 4);
	r += __sync_fetch_and_and(&wide, ~1ULL);
	r += __sync_fetch_and_xor(&wide, 8);
	__sync_fetch_and_or(&wide, 16);
	__sync_fetch_and_and(&wide, ~16ULL);
	__sync_fetch_and_xor(&wide, 32);
	r += __sync_lock_test_and_set(&wide, r);
	r += __sync_val_compare_and_swap(&wide, r, size);
	__u32 n = __sync_fetch_and_add(&narrow, 2);
	n += __sync_fetch_and_or(&narrow, 4);
	n += __sync_fetch_and_and(&narrow, 3);
	n += __sync_fetch_and_xor(&narrow, 9);
	__sync_fetch_and_or(&narrow, 16);
	n += __sync_lock_test_and_set(&narrow, n);
	n += __sync_val_compare_and_swap(&narrow, n, 7);
	return (r + n) & 1 ? XDP_PASS : XDP_DROP;
#else
	return XDP_PASS;
#endif
}

char LICENSE[] SEC("license") = "GPL";
