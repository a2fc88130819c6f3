// SPDX-License-Identifier: GPL-2.0
// biolatency: block I/O latency as a log2 histogram, whole or per disk (after libbpf-tools'
// biolatency). A request is timed from its issue to the driver (or, with -Q, from its
// insertion in the queue) to its completion. The block tracepoints take the request alone
// since 5.11 (the layout read here). As runqlat, each handler is built as tp_btf and as
// raw_tp; user space loads the version the kernel takes.
#include "tools.h"

#define MINORBITS 20
#define MKDEV(ma, mi) (((ma) << MINORBITS) | (mi))

struct gendisk {
	int major;
	int first_minor;
} __attribute__((preserve_access_index));

struct request_queue {
	struct gendisk *disk;
} __attribute__((preserve_access_index));

struct request {
	struct request_queue *q;
} __attribute__((preserve_access_index));

/* Before 5.17 a request named its disk itself. */
struct request___old {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct hist_key);
	__type(value, __u64);
} hists SEC(".maps");

/* -D: a histogram per disk (keyed by MKDEV(major, minor)) */
const volatile bool targ_per_disk = false;
/* -Q: include the time queued in the OS (from insertion) */
const volatile bool targ_queued = false;
/* -m: milliseconds rather than microseconds */
const volatile bool targ_ms = false;

static __always_inline struct gendisk *disk_of(struct request *rq)
{
	if (bpf_core_field_exists(((struct request___old *)rq)->rq_disk))
		return BPF_CORE_READ((struct request___old *)rq, rq_disk);
	return BPF_CORE_READ(rq, q, disk);
}

static __always_inline int stamp(struct request *rq, bool insert)
{
	__u64 key = (__u64)rq, ts;

	/* -p/-c: the task that inserts (-Q) or issues the request, when it is not a kernel worker */
	if (insert != targ_queued || !current_allowed())
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &key, &ts, BPF_ANY);
	return 0;
}

static __always_inline int complete(struct request *rq)
{
	__u64 key = (__u64)rq, *begin, delta;
	struct gendisk *disk;
	__u32 dev = 0;

	begin = bpf_map_lookup_elem(&start, &key);
	if (!begin)
		return 0;
	delta = bpf_ktime_get_ns() - *begin;
	bpf_map_delete_elem(&start, &key);
	if (targ_per_disk) {
		disk = disk_of(rq);
		if (disk)
			dev = MKDEV(BPF_CORE_READ(disk, major), BPF_CORE_READ(disk, first_minor));
	}
	delta /= targ_ms ? 1000000 : 1000;
	hist_add(&hists, dev, delta);
	return 0;
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(block_rq_insert_btf, struct request *rq)
{
	return stamp(rq, true);
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(block_rq_issue_btf, struct request *rq)
{
	return stamp(rq, false);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(block_rq_complete_btf, struct request *rq)
{
	return complete(rq);
}

SEC("raw_tp/block_rq_insert")
int BPF_PROG(block_rq_insert_raw, struct request *rq)
{
	return stamp(rq, true);
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(block_rq_issue_raw, struct request *rq)
{
	return stamp(rq, false);
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(block_rq_complete_raw, struct request *rq)
{
	return complete(rq);
}

char LICENSE[] SEC("license") = "GPL";
