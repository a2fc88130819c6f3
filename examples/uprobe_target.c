/* The program examples/uprobe_function.py compiles and traces: it calls
 * ebpf_example_add() N times (N is the first argument, default 5). */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) int ebpf_example_add(int a, int b)
{
	return a + b;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 5;
	int sum = 0;

	for (int i = 0; i < n; i++)
		sum = ebpf_example_add(sum, i);
	printf("%d\n", sum);
	return 0;
}
