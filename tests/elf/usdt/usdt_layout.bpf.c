/* The layout libbpf's usdt.bpf.h gives struct __bpf_usdt_spec, and the
 * offsets of x86_64's struct pt_regs it reads registers from: read back
 * from .rodata by tests/elf/test_elf_usdt.py and compared with what
 * ebpf.elf encodes. Built with clang -target bpf -D__TARGET_ARCH_x86. */
#include <stddef.h>
#include <stdbool.h>
#include <linux/types.h>
#include <linux/ptrace.h>
#include <linux/bpf.h>
#include <bpf/usdt.bpf.h>

const volatile unsigned long layout[] = {
	sizeof(struct __bpf_usdt_arg_spec),
	offsetof(struct __bpf_usdt_arg_spec, val_off),
	offsetof(struct __bpf_usdt_arg_spec, arg_type),
	offsetof(struct __bpf_usdt_arg_spec, reg_off),
	offsetof(struct __bpf_usdt_arg_spec, arg_signed),
	offsetof(struct __bpf_usdt_arg_spec, arg_bitshift),
	sizeof(struct __bpf_usdt_spec),
	offsetof(struct __bpf_usdt_spec, args),
	offsetof(struct __bpf_usdt_spec, usdt_cookie),
	offsetof(struct __bpf_usdt_spec, arg_cnt),
	BPF_USDT_MAX_ARG_CNT,
	BPF_USDT_ARG_CONST,
	BPF_USDT_ARG_REG,
	BPF_USDT_ARG_REG_DEREF,
};

#define REG(name) offsetof(struct pt_regs, name)

/* in the order of the names in test_elf_usdt.py's PT_REGS */
const volatile unsigned long pt_regs[] = {
	REG(r15), REG(r14), REG(r13), REG(r12), REG(rbp), REG(rbx), REG(r11), REG(r10), REG(r9),
	REG(r8), REG(rax), REG(rcx), REG(rdx), REG(rsi), REG(rdi), REG(rip), REG(rsp),
};

char LICENSE[] SEC("license") = "Dual BSD/GPL";
