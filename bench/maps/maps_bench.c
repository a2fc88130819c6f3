/* The C side of bench/maps: the same map operations as bench_maps.py, on libbpf.
 *
 * Prints one "name ops_per_second" line per operation (best of `repeats`),
 * for a u32 -> u64 hash map of `n` entries (and a per-CPU hash for
 * percpu_lookup). Built by bench_maps.py with: gcc -O2 maps_bench.c -lbpf
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static void die(const char *what)
{
	fprintf(stderr, "maps_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double best[32];
static const char *names[32];
static int nresults;

static void record(int slot, const char *name, double ops)
{
	names[slot] = name;
	if (ops > best[slot])
		best[slot] = ops;
	if (slot >= nresults)
		nresults = slot + 1;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 100000;
	int repeats = argc > 2 ? atoi(argv[2]) : 3;
	unsigned chunks[3] = {64, 1024, n};
	const char *update_names[3] = {"batch_update_64", "batch_update_1024", "batch_update_all"};
	const char *lookup_names[3] = {"batch_lookup_64", "batch_lookup_1024", "batch_lookup_all"};
	__u32 *keys = calloc(n, sizeof(*keys));
	__u64 *values = calloc(n, sizeof(*values));
	int ncpus = libbpf_num_possible_cpus();
	__u64 *percpu = calloc(ncpus, sizeof(*percpu));
	int fd, pfd;

	if (!keys || !values || !percpu || ncpus <= 0)
		die("allocating");
	for (unsigned i = 0; i < n; i++) {
		keys[i] = i;
		values[i] = (__u64)i * 3;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench", 4, 8, n, NULL);
	pfd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "bench_pcpu", 4, 8, n, NULL);
	if (fd < 0 || pfd < 0)
		die("creating maps");
	for (int r = 0; r < repeats; r++) {
		double t;
		__u32 key, next;
		__u64 value;
		unsigned count, seen;

		t = now();
		for (unsigned i = 0; i < n; i++)
			if (bpf_map_update_elem(fd, &keys[i], &values[i], BPF_ANY))
				die("update");
		record(0, "update", n / (now() - t));

		t = now();
		for (unsigned i = 0; i < n; i++)
			if (bpf_map_lookup_elem(fd, &keys[i], &value))
				die("lookup");
		record(1, "lookup", n / (now() - t));

		t = now();
		seen = 0;
		if (!bpf_map_get_next_key(fd, NULL, &key)) {
			seen++;
			while (!bpf_map_get_next_key(fd, &key, &next)) {
				key = next;
				seen++;
			}
		}
		if (seen != n)
			die("iterating");
		record(2, "iterate", n / (now() - t));

		t = now();
		for (unsigned i = 0; i < n; i++)
			if (bpf_map_delete_elem(fd, &keys[i]))
				die("delete");
		record(3, "delete", n / (now() - t));

		for (int c = 0; c < 3; c++) {
			DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, opts);
			__u32 in_batch, out_batch;
			void *in = NULL;
			int err;

			t = now();
			for (unsigned done = 0; done < n; done += count) {
				count = n - done < chunks[c] ? n - done : chunks[c];
				if (bpf_map_update_batch(fd, keys + done, values + done, &count, &opts))
					die("batch update");
			}
			record(4 + c, update_names[c], n / (now() - t));

			t = now();
			seen = 0;
			in = NULL;
			do {
				count = chunks[c];
				err = bpf_map_lookup_batch(fd, in, &out_batch, keys, values, &count, &opts);
				if (err && errno != ENOENT)
					die("batch lookup");
				seen += count;
				in_batch = out_batch;
				in = &in_batch;
			} while (!err);
			if (seen != n)
				die("batch lookup count");
			record(7 + c, lookup_names[c], n / (now() - t));
			for (unsigned i = 0; i < n; i++)
				keys[i] = i; /* the lookup overwrote them */
			for (unsigned i = 0; i < n; i++)
				if (bpf_map_delete_elem(fd, &keys[i]))
					die("delete after batch");
		}

		for (unsigned i = 0; i < n; i++)
			if (bpf_map_update_elem(pfd, &keys[i], percpu, BPF_ANY))
				die("percpu update");
		t = now();
		for (unsigned i = 0; i < n; i++)
			if (bpf_map_lookup_elem(pfd, &keys[i], percpu))
				die("percpu lookup");
		record(10, "percpu_lookup", n / (now() - t));
	}
	for (int i = 0; i < nresults; i++)
		printf("%s %.0f\n", names[i], best[i]);
	close(fd);
	close(pfd);
	return 0;
}
