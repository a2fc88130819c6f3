// SPDX-License-Identifier: GPL-2.0
/* The "kernel" side of core_bits.c: struct core_bits as a target BTF file
 * (tests load the .BTF of this object with ebpf.btf.load_file and pass it
 * as CoreRelocator(targets=[...]), and feed core_bits_sample, from .data, to
 * the program). Against the local definition in core_bits.c, members are
 * reordered, `a` grew from 32 to 64 bits, `missing` is missing, the bitfields
 * moved and changed order, `pos` has another member and order, `u` sits in an
 * anonymous union, `arr` is longer and the enum has other values and no
 * CORE_YELLOW. The type is named core_bits: the local one is a flavour. */

enum core_color { CORE_BLUE = 7, CORE_RED = 9, CORE_GREEN = 11 };

struct core_bits {
	long long pad;
	int arr[6];
	struct {
		short z;
		int y;
		int x;
	} pos;
	unsigned int wide : 12;
	int sval : 5;
	unsigned int spare : 3;
	unsigned int flag : 1;
	enum core_color color;
	union {
		int u;
		unsigned int u_alias;
	};
	int b;
	unsigned long long a;
};

struct core_bits core_bits_sample = {
	.pad = -1,
	.arr = {10, 11, 12, 13, 14, 15},
	.pos = {.z = 5, .y = -20, .x = 30},
	.wide = 0xABC,
	.sval = -7,
	.spare = 5,
	.flag = 1,
	.color = CORE_GREEN,
	.u = 4242,
	.b = -99,
	.a = 0x100000005ULL,
};
