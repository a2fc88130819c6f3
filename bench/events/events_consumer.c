// The C side of bench/events: drain a ring buffer or a perf event array with libbpf.
//
// usage: events_consumer ringbuf|perf MAP_PIN PROG_PIN COUNT
//
// Opens the pinned map and program, sets up libbpf's consumer, fills the
// buffer by test-running the program COUNT times on CPU 0 (one 24-byte
// event per run), then times ring_buffer__consume / perf_buffer__consume
// until everything is read. Prints "<events> <seconds>".
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct event {
	unsigned int seq;
	unsigned long long value;
	unsigned int cpu;
};

static unsigned long long events, checksum;

static int on_ring_record(void *ctx, void *data, size_t size)
{
	const struct event *e = data;
	(void)ctx;
	(void)size;
	events++;
	checksum += e->seq; // read the record, as a real consumer would
	return 0;
}

static void on_perf_sample(void *ctx, int cpu, void *data, unsigned int size)
{
	on_ring_record(ctx, data, size);
	(void)cpu;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fill(int prog_fd, int count)
{
	char packet[64] = {0};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet, .data_size_in = sizeof(packet), .repeat = count);
	return bpf_prog_test_run_opts(prog_fd, &opts);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s ringbuf|perf MAP_PIN PROG_PIN COUNT\n", argv[0]);
		return 2;
	}
	int map_fd = bpf_obj_get(argv[2]);
	int prog_fd = bpf_obj_get(argv[3]);
	int count = atoi(argv[4]);
	if (map_fd < 0 || prog_fd < 0) {
		perror("bpf_obj_get");
		return 1;
	}
	cpu_set_t cpus;
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);

	double start, end;
	if (strcmp(argv[1], "ringbuf") == 0) {
		struct ring_buffer *rb = ring_buffer__new(map_fd, on_ring_record, NULL, NULL);
		if (!rb || fill(prog_fd, count)) {
			perror("ring buffer setup or fill");
			return 1;
		}
		start = now();
		while (ring_buffer__consume(rb) > 0)
			;
		end = now();
		ring_buffer__free(rb);
	} else {
		struct perf_buffer *pb = perf_buffer__new(map_fd, 4096, on_perf_sample, NULL, NULL, NULL);
		if (!pb || fill(prog_fd, count)) {
			perror("perf buffer setup or fill");
			return 1;
		}
		start = now();
		unsigned long long before;
		do { // one call reads every ring to its head; loop while it still finds records
			before = events;
			if (perf_buffer__consume(pb) < 0)
				break;
		} while (events != before);
		end = now();
		perf_buffer__free(pb);
	}
	printf("%llu %.6f %llu\n", events, end - start, checksum);
	return 0;
}
