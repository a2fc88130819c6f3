// Every argument of every USDT probe it is attached to, read with libbpf's
// usdt.bpf.h and sent to user space: integration/elf/test_elf_usdt_attach.py
// attaches `any_probe` to probes of every argument kind with a distinct USDT
// cookie each, and `registers` (written with BPF_USDT) to test:registers,
// then compares what arrives with what the traced program passed.
// Build with -D__TARGET_ARCH_<arch>; -DUSDT_TARGET='"/path"' names the
// traced executable in `registers`' section, for auto-attach.
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>

#define TYPED_MARK (1ULL << 63)

struct event {
	__u64 cookie;
	__s64 nargs;
	__s64 args[BPF_USDT_MAX_ARG_CNT];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("usdt")
int any_probe(struct pt_regs *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	int i;

	if (!e)
		return 0;
	e->cookie = bpf_usdt_cookie(ctx);
	e->nargs = bpf_usdt_arg_cnt(ctx);
#pragma unroll
	for (i = 0; i < BPF_USDT_MAX_ARG_CNT; i++) {
		long value = 0;

		if (i < e->nargs && bpf_usdt_arg(ctx, i, &value))
			value = -12345; /* an argument usdt.bpf.h could not read */
		e->args[i] = value;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

#ifdef USDT_TARGET
SEC("usdt/" USDT_TARGET ":test:registers")
#else
SEC("usdt")
#endif
int BPF_USDT(registers, long a, int b, short c, char d, unsigned int e)
{
	struct event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

	if (!ev)
		return 0;
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->cookie = bpf_usdt_cookie(ctx) | TYPED_MARK;
	ev->nargs = 5;
	ev->args[0] = a;
	ev->args[1] = b;
	ev->args[2] = c;
	ev->args[3] = d;
	ev->args[4] = e;
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
