/* forkcost: what one fork costs a process shaped like Tern's daemon
 * (bench/README.md, bench/RESULTS.md "Twenty-first session").
 *
 *   forkcost [-n forks] [-v vmas] [-t pages] [-w pages] [library.so ...]
 *     Loads each library (dlopen, as the dynamic linker does at start),
 *     adds vmas extra one-page mappings (each its own mapping, untouched),
 *     dirties t pages of the heap, then times n rounds of fork, the child
 *     writing w of those pages and calling _exit, the parent waiting for
 *     it.  Prints the process's mapping count (/proc/self/maps lines) and
 *     the wall time per round: on an idle machine, the CPU the kernel
 *     spends to start and end one process of that shape.
 *
 * Build: gcc -O2 -Wall -o forkcost forkcost.c -ldl
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096L

static int
count_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int c, n = 0;

	if (f == NULL)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void
usage(void)
{
	fprintf(stderr, "usage: forkcost [-n forks] [-v vmas] [-t pages] "
		"[-w pages] [library.so ...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	long n = 5000, vmas = 0, touched = 0, written = 0;
	struct timespec t0, t1;
	char *heap = NULL, *extra;
	double us;
	int opt;

	while ((opt = getopt(argc, argv, "n:v:t:w:")) != -1) {
		switch (opt) {
		case 'n': n = atol(optarg); break;
		case 'v': vmas = atol(optarg); break;
		case 't': touched = atol(optarg); break;
		case 'w': written = atol(optarg); break;
		default: usage();
		}
	}
	if (n <= 0 || vmas < 0 || touched < 0 || written < 0 ||
	    written > touched)
		usage();
	for (int i = optind; i < argc; i++)
		if (dlopen(argv[i], RTLD_NOW | RTLD_GLOBAL) == NULL) {
			fprintf(stderr, "forkcost: %s\n", dlerror());
			return 1;
		}
	if (vmas > 0) {
		/* Every other page read-only: no two neighbours merge. */
		extra = mmap(NULL, (size_t)(2 * vmas * PAGE),
			PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
		if (extra == MAP_FAILED) {
			perror("forkcost: mmap");
			return 1;
		}
		for (long i = 0; i < vmas; i++)
			if (mprotect(extra + (2 * i + 1) * PAGE, PAGE,
			    PROT_READ) != 0) {
				perror("forkcost: mprotect");
				return 1;
			}
	}
	if (touched > 0) {
		heap = malloc((size_t)(touched * PAGE));
		if (heap == NULL) {
			perror("forkcost: malloc");
			return 1;
		}
		memset(heap, 1, (size_t)(touched * PAGE));
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("forkcost: fork");
			return 1;
		}
		if (pid == 0) {
			for (long j = 0; j < written; j++)
				heap[j * PAGE] = 2;
			_exit(0);
		}
		if (waitpid(pid, NULL, 0) != pid) {
			perror("forkcost: waitpid");
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
		(double)(t1.tv_nsec - t0.tv_nsec)) / (double)n / 1000.0;
	printf("mappings=%d libraries=%d vmas=%ld touched=%ld written=%ld "
		"us_per_fork=%.1f\n", count_mappings(), argc - optind, vmas,
		touched, written, us);
	return 0;
}
