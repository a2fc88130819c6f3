// Global variables in .data, .rodata, .bss and named .data.*/.rodata.* sections,
// read and written by an XDP program run with BPF_PROG_TEST_RUN.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 target_pid = 7;          // .rodata, set before load
const volatile __u64 multiplier = 3;          // .rodata
volatile __u64 hits = 100;                    // .data
volatile __u64 last_result;                   // .bss
static volatile __u32 static_counter;         // .bss, static (section-relative relocation)
volatile __u32 custom_data SEC(".data.custom") = 11;
const volatile __u32 tuning SEC(".rodata.tuning") = 5;

SEC("xdp")
int use_globals(struct xdp_md *ctx)
{
	hits++;
	static_counter += 2;
	custom_data += 1;
	last_result = (__u64)target_pid * multiplier + tuning;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
