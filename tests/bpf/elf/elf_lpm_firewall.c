// An XDP firewall in the style of real tools: source prefixes and what to
// do with them in LPM tries (IPv4 and IPv6) whose keys are the usual
// `struct { __u32 prefixlen; ... addr; }`, per-rule hit counters, and
// per-connection accounting in the table a daemon pinned (elf_shared_maps.h).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "elf_shared_maps.h"

#define MAX_RULES 64

struct ipv4_lpm_key {
	__u32 prefixlen;
	__u32 addr; /* network byte order */
};

struct ipv6_lpm_key {
	__u32 prefixlen;
	__u8 addr[16];
};

struct rule {
	__u32 action; /* XDP_DROP, XDP_PASS */
	__u32 id;     /* 1..MAX_RULES-1, its slot in rule_hits */
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MAX_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ipv4_lpm_key);
	__type(value, struct rule);
} rules_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, MAX_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ipv6_lpm_key);
	__type(value, struct rule);
} rules_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_RULES);
	__type(key, __u32);
	__type(value, __u64);
} rule_hits SEC(".maps");

static __always_inline int verdict(struct rule *rule)
{
	__u32 id;
	__u64 *hits;

	if (!rule)
		return XDP_PASS;
	id = rule->id;
	hits = bpf_map_lookup_elem(&rule_hits, &id);
	if (hits)
		__sync_fetch_and_add(hits, 1);
	return rule->action;
}

static __always_inline void account(struct iphdr *ip, struct udphdr *udp, __u32 len, struct rule *rule)
{
	struct conn_key key = {};
	struct conn_stats *stats, fresh = {};

	key.saddr = ip->saddr;
	key.daddr = ip->daddr;
	key.proto = ip->protocol;
	if (udp) {
		key.sport = bpf_ntohs(udp->source);
		key.dport = bpf_ntohs(udp->dest);
	}
	stats = bpf_map_lookup_elem(&conn_stats, &key);
	if (!stats) {
		bpf_map_update_elem(&conn_stats, &key, &fresh, BPF_NOEXIST);
		stats = bpf_map_lookup_elem(&conn_stats, &key);
		if (!stats)
			return;
	}
	__sync_fetch_and_add(&stats->packets, 1);
	__sync_fetch_and_add(&stats->bytes, len);
	stats->last_rule = rule ? rule->id : 0;
}

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct rule *rule;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		struct udphdr *udp = NULL;
		struct ipv4_lpm_key key = { .prefixlen = 32 };

		if ((void *)(ip + 1) > end)
			return XDP_PASS;
		if (ip->protocol == IPPROTO_UDP && ip->ihl == 5 && (void *)(ip + 1) + sizeof(*udp) <= end)
			udp = (void *)(ip + 1);
		key.addr = ip->saddr;
		rule = bpf_map_lookup_elem(&rules_v4, &key);
		account(ip, udp, end - data, rule);
		return verdict(rule);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		struct ipv6_lpm_key key = { .prefixlen = 128 };

		if ((void *)(ip6 + 1) > end)
			return XDP_PASS;
		__builtin_memcpy(key.addr, &ip6->saddr, sizeof(key.addr));
		return verdict(bpf_map_lookup_elem(&rules_v6, &key));
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
