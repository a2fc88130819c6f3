// The C baseline of bench/btf: libbpf parses a BTF file and walks every type.
// Prints one line: "<parse+walk ms> <types> <checksum>" (best of N runs).
#include <bpf/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/sys/kernel/btf/vmlinux";
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	double best = 1e18;
	unsigned long long checksum = 0;
	__u32 count = 0;

	for (int r = 0; r < runs; r++) {
		double start = now_ms();
		struct btf *btf = btf__parse(path, NULL);
		if (!btf) {
			perror("btf__parse");
			return 1;
		}
		count = btf__type_cnt(btf);
		checksum = 0;
		// walk every type: kind, name and each member/param/enumerator
		for (__u32 id = 1; id < count; id++) {
			const struct btf_type *t = btf__type_by_id(btf, id);
			const char *name = btf__name_by_offset(btf, t->name_off);
			checksum += btf_kind(t) + (name ? name[0] : 0);
			if (btf_is_composite(t)) {
				const struct btf_member *m = btf_members(t);
				for (int i = 0; i < btf_vlen(t); i++, m++)
					checksum += m->type + btf_member_bit_offset(t, i) + btf__name_by_offset(btf, m->name_off)[0];
			} else if (btf_is_func_proto(t)) {
				const struct btf_param *p = btf_params(t);
				for (int i = 0; i < btf_vlen(t); i++, p++)
					checksum += p->type;
			}
		}
		double elapsed = now_ms() - start;
		if (elapsed < best)
			best = elapsed;
		btf__free(btf);
	}
	printf("%.3f %u %llu\n", best, count - 1, checksum);
	return 0;
}
