// 32-bit comparisons and arithmetic: clang emits JMP32 and ALU32 instructions with -mcpu=v3.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int narrow(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	__s32 slen = (__s32)len - 60;
	__u32 score = 0;

	if (len == 64) score += 1;
	if (len != 128) score += 2;
	if (len > 1500) score += 4;
	if (len >= 9000) score += 8;
	if (len < 20) score += 16;
	if (len <= 40) score += 32;
	if (slen > -5) score += 64;
	if (slen >= 3) score += 128;
	if (slen < -20) score += 256;
	if (slen <= 0) score *= 3;
	if (len & 0x8000) score /= 5;
	if (score < len) score = len - score;
	score = (score << 3) >> 1;
	score = (__u32)((__s32)score >> 2);
	return score % 3;
}

char LICENSE[] SEC("license") = "GPL";
