// iolat: block I/O latency histograms per disk and operation, in the style of the libbpf-tools
// (a biolatency-like tool written for this project). Requests are timed from insertion (or issue)
// to completion; each completion lands in a log2 histogram keyed by disk and operation, and in
// per-disk totals. Six programs: BTF-typed tracepoints (tp_btf) and raw tracepoints (raw_tp) for
// the same three events, so that user space loads whichever the kernel supports. The request is
// read through BPF_CORE_READ chains (request -> queue -> disk, request -> bio -> bdev...), with
// flavours for the layouts of older kernels.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define MAX_SLOTS 27
#define MAX_ENTRIES 10240
#define DISK_NAME_LEN 32
#define REQ_OP_BITS 8
#define REQ_OP_MASK ((1 << REQ_OP_BITS) - 1)
#define MINORBITS 20
#define MKDEV(ma, mi) (((ma) << MINORBITS) | (mi))

struct iolat_key {
	__u32 dev;
	__u32 op;
};

struct iolat_hist {
	__u64 slots[MAX_SLOTS];
	__u64 total_ns;
	__u64 count;
	__u64 bytes;
	char disk[DISK_NAME_LEN];
};

struct iolat_disk {
	__u64 reads;
	__u64 writes;
	__u64 flushes;
	__u64 discards;
	__u64 others;
	__u64 sectors;
	__u64 max_ns;
	__u64 queued_ns;
	__u32 last_tag;
	__u32 last_hw_queue;
	__u32 last_pid;
	__u32 segments;
};

struct iolat_queue {
	__u32 id;
	__u32 nr_hw_queues;
	__u32 queue_depth;
	__u32 nr_requests;
	__u32 minors;
	__u32 has_elevator;
	__u64 rq_timeout;
	__u64 sector;
	__u32 ioprio;
	__u32 bio_vecs;
	__u64 alloc_to_start_ns;
	__u64 kernel_io_ns;
};

struct iolat_start {
	__u64 ts;
	__u64 insert_ts;
	__u64 cgroup;
	__u32 pid;
	__u32 pad;
};

/* layouts of older kernels: the disk hung off the request itself (before 5.17) */
struct request___disk {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

struct request_queue___old {
	struct gendisk *disk;
} __attribute__((preserve_access_index));

/* bio->bi_disk before 5.12, bio->bi_bdev after */
struct bio___old {
	struct gendisk *bi_disk;
	u8 bi_partno;
} __attribute__((preserve_access_index));

const volatile bool targ_per_disk = true;
const volatile bool targ_per_op = true;
const volatile bool targ_queued = false;
const volatile bool targ_ms = false;
const volatile bool filter_dev = false;
const volatile __u32 targ_dev = 0;
const volatile __u64 min_bytes = 0;
const volatile int targ_op = -1;
const volatile __u64 targ_cgroup = 0;

__u64 completions;
__u64 unmatched;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, struct request *);
	__type(value, struct iolat_start);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, struct iolat_key);
	__type(value, struct iolat_hist);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct iolat_disk);
} disks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct iolat_queue);
} queues SEC(".maps");

static struct iolat_hist zero_hist;
static struct iolat_disk zero_stats;

static __always_inline struct gendisk *rq_disk(struct request *rq)
{
	if (bpf_core_field_exists(rq->q) && bpf_core_field_exists(((struct request_queue___old *)0)->disk)) {
		struct request_queue *q = BPF_CORE_READ(rq, q);

		return BPF_CORE_READ((struct request_queue___old *)q, disk);
	}
	if (bpf_core_field_exists(((struct request___disk *)rq)->rq_disk))
		return BPF_CORE_READ((struct request___disk *)rq, rq_disk);
	return NULL;
}

static __always_inline __u32 disk_dev(struct gendisk *disk)
{
	if (!disk)
		return 0;
	return MKDEV(BPF_CORE_READ(disk, major), BPF_CORE_READ(disk, first_minor));
}

static __always_inline __u32 rq_dev(struct request *rq)
{
	struct block_device *part;
	struct bio *bio;
	__u32 dev = disk_dev(rq_disk(rq));

	if (dev)
		return dev;
	if (bpf_core_field_exists(rq->part)) {
		part = BPF_CORE_READ(rq, part);
		if (part)
			return BPF_CORE_READ(part, bd_dev);
	}
	bio = BPF_CORE_READ(rq, bio);
	if (!bio)
		return 0;
	if (bpf_core_field_exists(bio->bi_bdev))
		return BPF_CORE_READ(bio, bi_bdev, bd_dev);
	if (bpf_core_field_exists(((struct bio___old *)bio)->bi_disk))
		return disk_dev(BPF_CORE_READ((struct bio___old *)bio, bi_disk));
	return 0;
}

static __always_inline __u64 log2l(__u64 v)
{
	__u64 r = 0;

	for (int i = 0; i < 63 && v > 1; i++) {
		v >>= 1;
		r++;
	}
	return r;
}

static __always_inline int trace_rq_start(struct request *rq, bool issue)
{
	struct iolat_start info = {}, *have;
	struct task_struct *task;
	__u64 now = bpf_ktime_get_ns();

	if (issue && targ_queued && BPF_CORE_READ(rq, q, elevator))
		return 0;
	if (filter_dev && rq_dev(rq) != targ_dev)
		return 0;
	if (min_bytes && BPF_CORE_READ(rq, __data_len) < min_bytes)
		return 0;
	if (targ_op >= 0 && (BPF_CORE_READ(rq, cmd_flags) & REQ_OP_MASK) != targ_op)
		return 0;
	/* the cgroup (v2) of the task that inserts or issues the request */
	task = (struct task_struct *)bpf_get_current_task();
	info.cgroup = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	if (targ_cgroup && info.cgroup != targ_cgroup)
		return 0;
	have = bpf_map_lookup_elem(&start, &rq);
	if (have) {
		/* issued after being inserted: keep the insertion time for the queueing delay */
		info.insert_ts = have->insert_ts ? have->insert_ts : have->ts;
	} else if (!issue) {
		info.insert_ts = now;
	}
	info.ts = now;
	info.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_map_update_elem(&start, &rq, &info, BPF_ANY);
	return 0;
}

static __always_inline void count_op(struct iolat_disk *stats, __u32 op)
{
	switch (op) {
	case REQ_OP_READ:
		__sync_fetch_and_add(&stats->reads, 1);
		break;
	case REQ_OP_WRITE:
		__sync_fetch_and_add(&stats->writes, 1);
		break;
	case REQ_OP_FLUSH:
		__sync_fetch_and_add(&stats->flushes, 1);
		break;
	case REQ_OP_DISCARD:
	case REQ_OP_SECURE_ERASE:
		__sync_fetch_and_add(&stats->discards, 1);
		break;
	default:
		__sync_fetch_and_add(&stats->others, 1);
	}
}

/* what the kernel knows of the request and its queue, kept per disk */
static __always_inline void note_queue(struct request *rq, __u32 dev, __u64 now)
{
	struct iolat_queue queue = {};
	struct request_queue *q = BPF_CORE_READ(rq, q);
	struct gendisk *disk = rq_disk(rq);
	struct bio *bio = BPF_CORE_READ(rq, bio);
	__u64 start_ns = BPF_CORE_READ(rq, start_time_ns);

	queue.id = BPF_CORE_READ(q, id);
	queue.nr_hw_queues = BPF_CORE_READ(q, nr_hw_queues);
	queue.queue_depth = BPF_CORE_READ(q, queue_depth);
	queue.nr_requests = BPF_CORE_READ(q, nr_requests);
	queue.has_elevator = BPF_CORE_READ(q, elevator) != NULL;
	queue.rq_timeout = BPF_CORE_READ(q, rq_timeout);
	if (disk)
		queue.minors = BPF_CORE_READ(disk, minors);
	queue.sector = BPF_CORE_READ(rq, __sector);
	if (bio) {
		queue.ioprio = BPF_CORE_READ(bio, bi_ioprio);
		queue.bio_vecs = BPF_CORE_READ(bio, bi_vcnt);
		if (!queue.sector)
			queue.sector = BPF_CORE_READ(bio, bi_iter.bi_sector);
	}
	if (bpf_core_field_exists(rq->alloc_time_ns)) {
		__u64 alloc_ns = BPF_CORE_READ(rq, alloc_time_ns);

		if (alloc_ns && start_ns > alloc_ns)
			queue.alloc_to_start_ns = start_ns - alloc_ns;
	}
	if (bpf_core_field_exists(rq->io_start_time_ns)) {
		__u64 io_start_ns = BPF_CORE_READ(rq, io_start_time_ns);

		if (io_start_ns && now > io_start_ns)
			queue.kernel_io_ns = now - io_start_ns;
	}
	bpf_map_update_elem(&queues, &dev, &queue, BPF_ANY);
}

static __always_inline int handle_rq_complete(struct request *rq, int error, unsigned int nr_bytes)
{
	struct iolat_key key = {};
	struct iolat_start *info;
	struct iolat_disk *stats;
	struct gendisk *disk;
	struct iolat_hist *hist;
	__u64 now = bpf_ktime_get_ns(), delta, slot;
	__u32 dev, op;

	info = bpf_map_lookup_elem(&start, &rq);
	if (!info) {
		__sync_fetch_and_add(&unmatched, 1);
		return 0;
	}
	delta = now - info->ts;
	if ((__s64)delta < 0)
		goto cleanup;
	op = BPF_CORE_READ(rq, cmd_flags) & REQ_OP_MASK;
	disk = rq_disk(rq);
	dev = rq_dev(rq);
	if (targ_per_disk)
		key.dev = dev;
	if (targ_per_op)
		key.op = op;
	hist = bpf_map_lookup_elem(&hists, &key);
	if (!hist) {
		bpf_map_update_elem(&hists, &key, &zero_hist, BPF_NOEXIST);
		hist = bpf_map_lookup_elem(&hists, &key);
		if (!hist)
			goto cleanup;
		if (disk)
			bpf_probe_read_kernel_str(hist->disk, sizeof(hist->disk), BPF_CORE_READ(disk, disk_name));
	}
	slot = log2l(targ_ms ? delta / 1000000U : delta / 1000U);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	__sync_fetch_and_add(&hist->slots[slot], 1);
	__sync_fetch_and_add(&hist->total_ns, delta);
	__sync_fetch_and_add(&hist->count, 1);
	__sync_fetch_and_add(&hist->bytes, nr_bytes ? nr_bytes : BPF_CORE_READ(rq, __data_len));

	stats = bpf_map_lookup_elem(&disks, &dev);
	if (!stats) {
		bpf_map_update_elem(&disks, &dev, &zero_stats, BPF_NOEXIST);
		stats = bpf_map_lookup_elem(&disks, &dev);
		if (!stats)
			goto cleanup;
	}
	count_op(stats, op);
	__sync_fetch_and_add(&stats->sectors, BPF_CORE_READ(rq, __data_len) >> 9);
	if (delta > stats->max_ns)
		stats->max_ns = delta;
	if (info->insert_ts && info->ts > info->insert_ts)
		__sync_fetch_and_add(&stats->queued_ns, info->ts - info->insert_ts);
	stats->last_tag = BPF_CORE_READ(rq, tag);
	stats->last_pid = info->pid;
	stats->segments = BPF_CORE_READ(rq, nr_phys_segments);
	if (bpf_core_field_exists(rq->mq_hctx)) {
		struct blk_mq_hw_ctx *hctx = BPF_CORE_READ(rq, mq_hctx);

		if (hctx)
			stats->last_hw_queue = BPF_CORE_READ(hctx, queue_num);
	}
	note_queue(rq, dev, now);
	__sync_fetch_and_add(&completions, 1);
cleanup:
	bpf_map_delete_elem(&start, &rq);
	return 0;
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(block_rq_insert_btf, struct request *rq)
{
	return trace_rq_start(rq, false);
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(block_rq_issue_btf, struct request *rq)
{
	return trace_rq_start(rq, true);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(block_rq_complete_btf, struct request *rq, int error, unsigned int nr_bytes)
{
	return handle_rq_complete(rq, error, nr_bytes);
}

SEC("raw_tp/block_rq_insert")
int BPF_PROG(block_rq_insert, struct request *rq)
{
	return trace_rq_start(rq, false);
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(block_rq_issue, struct request *rq)
{
	return trace_rq_start(rq, true);
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(block_rq_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	return handle_rq_complete(rq, error, nr_bytes);
}

char LICENSE[] SEC("license") = "GPL";
