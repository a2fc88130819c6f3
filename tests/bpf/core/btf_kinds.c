/* Every BTF kind clang emits, for the ebpf.btf parser, raw-listing and C-output tests. */
typedef unsigned int u32;
typedef unsigned long long u64;

struct fwd_only;

enum small_signed { SS_MINUS = -2, SS_ZERO = 0, SS_TWO = 2 };
enum big_values { BV_LOW = 1, BV_HIGH = 0x1ffffffffULL };

struct bits {
	unsigned int a : 3;
	unsigned int b : 5;
	int c : 7;
	unsigned long long wide : 40;
	char tail;
};

struct __attribute__((packed)) packed_one {
	char c;
	int i;
	long long l;
};

struct with_anon {
	int kind;
	union {
		struct { short x, y; };
		long long whole;
	};
	struct { char name[4]; } named_anon;
	int (*callback)(const char *restrict fmt, ...);
	void (*handlers[3])(int);
	struct fwd_only *opaque;
	volatile const u32 *flags;
	double ratio;
	enum small_signed s;
	enum big_values v;
	int __attribute__((btf_decl_tag("user_field"))) tagged;
	int __attribute__((btf_type_tag("user"))) *user_ptr;
};

struct with_anon global_with_anon;
struct bits global_bits;
struct packed_one global_packed = { .c = 1 };
static volatile int counter;

__attribute__((noinline)) static int helper(struct bits *b, int x)
{
	return b->a + x + counter;
}

__attribute__((section("socket"), used)) int entry(void *ctx)
{
	counter++;
	return helper(&global_bits, global_with_anon.kind) + global_packed.c;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
