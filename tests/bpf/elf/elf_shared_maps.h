// Maps a daemon creates and pins once (elf_maps_only.c) and that the tools
// it starts reuse by name (elf_lpm_firewall.c): connection accounting keyed
// and valued by C structs, so the maps carry BTF types.
#ifndef ELF_SHARED_MAPS_H
#define ELF_SHARED_MAPS_H

struct conn_key {
	__u32 saddr; /* network byte order */
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct conn_stats {
	__u64 packets;
	__u64 bytes;
	__u32 last_rule; /* the rule that matched last, 0 for none */
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct conn_key);
	__type(value, struct conn_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} conn_stats SEC(".maps");

#endif
