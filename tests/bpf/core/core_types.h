/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel's fixed-width integer types, so that the CO-RE test programs
 * need neither <linux/bpf.h> nor the multiarch <asm/types.h> it pulls in
 * (they compile with a bare `clang -target bpf`), then libbpf's helper and
 * CO-RE macros. */
#ifndef CORE_TYPES_H
#define CORE_TYPES_H

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#endif
