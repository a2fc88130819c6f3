// USDT handlers written with libbpf's usdt.bpf.h (BPF_USDT, bpf_usdt_arg,
// bpf_usdt_arg_cnt, bpf_usdt_cookie), as a request tracer would: per-client
// request counts, bytes and the last status, kept in a hash map.
//
// usdt.bpf.h's helpers are `__weak __hidden` global functions taking a
// pointer that may be NULL on its own (`long *res`); they pass the verifier
// only once their BTF linkage is static (libbpf's mark_btf_static). Its
// __bpf_usdt_specs and __bpf_usdt_ip_to_spec_id maps hold the argument specs
// that user space writes when it attaches. Build with -D__TARGET_ARCH_<arch>.
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>

struct client_stats {
	__u64 requests;
	__u64 bytes;
	__s64 last_status;
	__u64 cookie;
	__s64 nargs;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct client_stats);
} clients SEC(".maps");

__u64 failed_requests;

SEC("usdt")
int BPF_USDT(request_done, long client, long bytes, long status)
{
	struct client_stats zero = {}, *stats;
	__u32 key = client;

	stats = bpf_map_lookup_elem(&clients, &key);
	if (!stats) {
		bpf_map_update_elem(&clients, &key, &zero, BPF_NOEXIST);
		stats = bpf_map_lookup_elem(&clients, &key);
		if (!stats)
			return 0;
	}
	__sync_fetch_and_add(&stats->requests, 1);
	__sync_fetch_and_add(&stats->bytes, bytes);
	stats->last_status = status;
	stats->cookie = bpf_usdt_cookie(ctx);
	stats->nargs = bpf_usdt_arg_cnt(ctx);
	if (status < 0)
		__sync_fetch_and_add(&failed_requests, 1);
	return 0;
}

SEC("usdt")
int BPF_USDT(request_start, long client)
{
	long arg = 0;

	// the third argument read by hand, as tools do for optional ones
	if (bpf_usdt_arg(ctx, 2, &arg) == 0 && arg < 0)
		__sync_fetch_and_add(&failed_requests, 1);
	return client < 0;
}

char LICENSE[] SEC("license") = "GPL";
