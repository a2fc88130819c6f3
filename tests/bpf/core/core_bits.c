// SPDX-License-Identifier: GPL-2.0
/* CO-RE against an external target BTF (core_bits_target.c): a syscall
 * program gets the target's struct core_bits as bytes in its context, copies
 * them to the stack and reads them through its own, different definition.
 * Direct member reads are CO-RE-relocated loads (LDX offsets, and a load size
 * that must grow for `a`); the bitfields go through BPF_CORE_READ_BITFIELD
 * (offset, size, shifts, signedness); the other values are the relocations
 * themselves, which the test checks against the target BTF. */
#include "core_types.h"

enum core_color___local { CORE_RED = 0, CORE_GREEN = 1, CORE_BLUE = 2, CORE_YELLOW = 3 };

struct core_bits___local {
	unsigned int a;
	int b;
	unsigned int flag : 1;
	int sval : 5;
	unsigned int wide : 12;
	unsigned char missing;
	enum core_color___local color;
	struct {
		int x;
		int y;
	} pos;
	int u;
	int arr[4];
} __attribute__((preserve_access_index));

/* in no target */
struct core_absent___local {
	int a;
} __attribute__((preserve_access_index));

struct core_bits_args {
	__u64 in[16]; /* the target's struct core_bits */
	__u64 out[32];
};

#define FIELD_INFO(field, kind) __builtin_preserve_field_info(field, kind)

SEC("syscall")
int core_bits(struct core_bits_args *ctx)
{
	__u64 buf[16];
	struct core_bits___local *s = (void *)buf;
	unsigned char missing = 77;
	long yellow = -1;

	__builtin_memcpy(buf, ctx->in, sizeof(buf));
	ctx->out[0] = s->a;
	ctx->out[1] = s->b;
	ctx->out[2] = BPF_CORE_READ_BITFIELD(s, flag);
	ctx->out[3] = BPF_CORE_READ_BITFIELD(s, sval);
	ctx->out[4] = BPF_CORE_READ_BITFIELD(s, wide);
	/* missing in the target: the read is poisoned, and dead */
	if (bpf_core_field_exists(s->missing))
		bpf_core_read(&missing, sizeof(missing), &s->missing);
	ctx->out[5] = missing;
	ctx->out[6] = s->color;
	ctx->out[7] = s->pos.x;
	ctx->out[8] = s->pos.y;
	ctx->out[9] = s->u;
	ctx->out[10] = s->arr[3];
	ctx->out[11] = bpf_core_field_exists(s->missing);
	ctx->out[12] = bpf_core_field_exists(s->wide);
	ctx->out[13] = bpf_core_field_offset(s->wide);
	ctx->out[14] = bpf_core_field_size(s->wide);
	ctx->out[15] = FIELD_INFO(s->sval, BPF_FIELD_SIGNED);
	ctx->out[16] = FIELD_INFO(s->wide, BPF_FIELD_SIGNED);
	ctx->out[17] = FIELD_INFO(s->sval, BPF_FIELD_LSHIFT_U64);
	ctx->out[18] = FIELD_INFO(s->sval, BPF_FIELD_RSHIFT_U64);
	ctx->out[19] = bpf_core_field_offset(s->a);
	ctx->out[20] = bpf_core_field_size(s->a);
	ctx->out[21] = bpf_core_type_exists(struct core_bits___local);
	ctx->out[22] = bpf_core_type_size(struct core_bits___local);
	ctx->out[23] = bpf_core_type_exists(struct core_absent___local);
	ctx->out[24] = bpf_core_type_size(struct core_absent___local);
	ctx->out[25] = bpf_core_type_id_local(struct core_bits___local);
	ctx->out[26] = bpf_core_type_id_kernel(struct core_bits___local);
	ctx->out[27] = bpf_core_enum_value_exists(enum core_color___local, CORE_YELLOW);
	ctx->out[28] = bpf_core_enum_value(enum core_color___local, CORE_GREEN);
	ctx->out[29] = bpf_core_enum_value_exists(enum core_color___local, CORE_BLUE);
	ctx->out[30] = bpf_core_enum_value(enum core_color___local, CORE_BLUE);
	/* not in the target enum: poisoned, and dead */
	if (bpf_core_enum_value_exists(enum core_color___local, CORE_YELLOW))
		yellow = bpf_core_enum_value(enum core_color___local, CORE_YELLOW);
	ctx->out[31] = yellow;
	return 0;
}

char _license[] SEC("license") = "GPL";
