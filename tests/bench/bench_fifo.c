// SPDX-License-Identifier: GPL-2.0
/*
 * FIFO micro-benchmarks against a pipe, one process (run in the guest by
 * tests/bench/guest-bench.sh).
 *
 *   bench_fifo rt    DEV|pipe SECONDS [BYTES]
 *	P1: write BYTES (default 4096) then read them back, as many round
 *	trips as fit in SECONDS. Prints "ops=N secs=S ops_per_s=R".
 *   bench_fifo rtalt DEV SECONDS [BYTES]
 *	Diagnostic for P1: the round trips of rt on DEV and on a pipe in one
 *	process, alternating blocks of 256 so that both see the same host
 *	noise and the same per-process speed (docs/performance.md). Prints
 *	"dev_ns=.. pipe_ns=.. ratio=..": ns per round trip, and pipe_ns /
 *	dev_ns (the ops/s ratio of P1).
 *   bench_fifo sigio DEV|pipe[,DEV|pipe] ITERATIONS
 *	P5: O_ASYNC + F_SETOWN(self) + F_SETSIG(SIGRTMIN) on the read side;
 *	time from just before write(64 bytes) until sigwaitinfo() returned
 *	the real-time signal, then drain. Prints "n=N p50_ns=.. p99_ns=..
 *	mean_ns=.. min_ns=.. max_ns=..". With two sources, one iteration of
 *	each in turn (both see the same host noise, which decides a p99
 *	under TCG), and one such line per source, prefixed "SOURCE: ".
 *
 *   bench_fifo pread FILE SECONDS [BYTES [SPAN]]
 *	P9: synchronous pread of BYTES (default 4096) at BYTES-aligned
 *	pseudo-random offsets within the first SPAN bytes (default 16 MiB)
 *	of FILE, the same sequence of offsets whatever FILE is. Same output
 *	as rt.
 *
 *   bench_fifo sleep NANOSECONDS ITERATIONS
 *	Diagnostic for P3: how long a relative clock_nanosleep of NANOSECONDS
 *	really takes here (hrtimer expiry + wakeup). Same output as sigio.
 *
 * DEV is a path such as /dev/asyncdev (opened O_RDWR, both ends on one
 * file); "pipe" uses pipe2().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "bench_fifo: %s: %s\n", what, strerror(errno));
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* rfd/wfd: the read and write ends. */
static void open_ends(const char *what, int *rfd, int *wfd)
{
	int p[2];

	if (!strcmp(what, "pipe")) {
		if (pipe2(p, O_CLOEXEC))
			die("pipe2");
		*rfd = p[0];
		*wfd = p[1];
		return;
	}
	*rfd = *wfd = open(what, O_RDWR | O_CLOEXEC);
	if (*rfd < 0)
		die(what);
}

static ssize_t full_io(int fd, char *buf, size_t n, int wr)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = wr ? write(fd, buf + done, n - done) :
				 read(fd, buf + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die(wr ? "write" : "read");
		done += r;
	}
	return done;
}

static int cmd_rt(const char *what, double secs, size_t bytes)
{
	static char buf[1 << 16];
	int rfd, wfd;
	uint64_t ops = 0, t0, t1, deadline;

	if (bytes > sizeof(buf))
		bytes = sizeof(buf);
	memset(buf, 0x5a, sizeof(buf));
	open_ends(what, &rfd, &wfd);
	/* Warm up, then check the clock every 256 round trips. */
	for (int i = 0; i < 1000; i++) {
		full_io(wfd, buf, bytes, 1);
		full_io(rfd, buf, bytes, 0);
	}
	t0 = now_ns();
	deadline = t0 + (uint64_t)(secs * 1e9);
	do {
		for (int i = 0; i < 256; i++) {
			full_io(wfd, buf, bytes, 1);
			full_io(rfd, buf, bytes, 0);
		}
		ops += 256;
		t1 = now_ns();
	} while (t1 < deadline);
	printf("ops=%llu secs=%.3f ops_per_s=%.1f\n", (unsigned long long)ops,
	       (t1 - t0) / 1e9, ops * 1e9 / (t1 - t0));
	return 0;
}

static int cmd_pread(const char *path, double secs, size_t bytes,
		     uint64_t span)
{
	static char buf[1 << 16] __attribute__((aligned(4096)));
	uint64_t ops = 0, t0, t1, deadline, blocks, x = 0x9e3779b97f4a7c15ull;
	int fd;

	if (bytes > sizeof(buf))
		bytes = sizeof(buf);
	blocks = span / bytes;
	if (!bytes || !blocks) {
		fprintf(stderr, "bench_fifo: pread: SPAN smaller than BYTES\n");
		return 2;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);
	/* xorshift64: cheap, and the same offsets for every file. */
#define NEXT_OFF() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, \
		    (off_t)((x % blocks) * bytes))
	for (int i = 0; i < 1000; i++)
		if (pread(fd, buf, bytes, NEXT_OFF()) != (ssize_t)bytes)
			die("pread (warm-up)");
	t0 = now_ns();
	deadline = t0 + (uint64_t)(secs * 1e9);
	do {
		for (int i = 0; i < 256; i++)
			if (pread(fd, buf, bytes, NEXT_OFF()) != (ssize_t)bytes)
				die("pread");
		ops += 256;
		t1 = now_ns();
	} while (t1 < deadline);
#undef NEXT_OFF
	close(fd);
	printf("ops=%llu secs=%.3f ops_per_s=%.1f\n", (unsigned long long)ops,
	       (t1 - t0) / 1e9, ops * 1e9 / (t1 - t0));
	return 0;
}

static int cmd_rtalt(const char *dev, double secs, size_t bytes)
{
	static char buf[1 << 16];
	int fds[2][2];
	uint64_t ns[2] = { 0, 0 }, ops = 0, deadline;

	if (bytes > sizeof(buf))
		bytes = sizeof(buf);
	memset(buf, 0x5a, sizeof(buf));
	open_ends(dev, &fds[0][0], &fds[0][1]);
	open_ends("pipe", &fds[1][0], &fds[1][1]);
	for (int s = 0; s < 2; s++)
		for (int i = 0; i < 1000; i++) {
			full_io(fds[s][1], buf, bytes, 1);
			full_io(fds[s][0], buf, bytes, 0);
		}
	deadline = now_ns() + (uint64_t)(secs * 1e9);
	do {
		for (int s = 0; s < 2; s++) {
			uint64_t t0 = now_ns();

			for (int i = 0; i < 256; i++) {
				full_io(fds[s][1], buf, bytes, 1);
				full_io(fds[s][0], buf, bytes, 0);
			}
			ns[s] += now_ns() - t0;
		}
		ops += 256;
	} while (now_ns() < deadline);
	printf("dev_ns=%.1f pipe_ns=%.1f ratio=%.3f\n", (double)ns[0] / ops,
	       (double)ns[1] / ops, (double)ns[1] / ns[0]);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* One SIGIO source of cmd_sigio and its latency samples. */
struct sigio_src {
	const char *what;
	int rfd, wfd;
	uint64_t *lat;
};

/* write(64 bytes) -> sigwaitinfo() returned @sig for @src: ns, then drain. */
static uint64_t sigio_once(struct sigio_src *src, const sigset_t *set, int sig)
{
	char buf[4096];
	uint64_t t0, t1;
	siginfo_t si;

	memset(buf, 0x33, 64);
	t0 = now_ns();
	if (write(src->wfd, buf, 64) != 64)
		die("write");
	do {
		if (sigwaitinfo(set, &si) < 0 && errno != EINTR)
			die("sigwaitinfo");
	} while (si.si_signo != sig);
	t1 = now_ns();
	if (si.si_fd != src->rfd || si.si_code != POLL_IN) {
		fprintf(stderr, "bench_fifo: %s: unexpected siginfo fd=%d code=%d\n",
			src->what, si.si_fd, si.si_code);
		exit(2);
	}
	while (read(src->rfd, buf, sizeof(buf)) > 0)
		;
	/* A signal raised by the drain (none expected) must not count. */
	while (sigtimedwait(set, &si, &(struct timespec){0, 0}) > 0)
		;
	return t1 - t0;
}

static void print_lat(const char *what, uint64_t *lat, long iters)
{
	uint64_t sum = 0;

	qsort(lat, iters, sizeof(*lat), cmp_u64);
	for (long i = 0; i < iters; i++)
		sum += lat[i];
	printf("%s%sn=%ld p50_ns=%llu p99_ns=%llu mean_ns=%llu min_ns=%llu max_ns=%llu\n",
	       what ? what : "", what ? ": " : "", iters,
	       (unsigned long long)lat[iters / 2],
	       (unsigned long long)lat[iters * 99 / 100],
	       (unsigned long long)(sum / iters), (unsigned long long)lat[0],
	       (unsigned long long)lat[iters - 1]);
}

/* @whats: one source, or two separated by a comma measured alternately. */
static int cmd_sigio(const char *whats, long iters)
{
	struct sigio_src src[2] = {};
	char *list = strdup(whats), *comma;
	int n = 1, sig = SIGRTMIN;
	long warm = iters / 10 + 100;
	sigset_t set;

	if (!list)
		die("strdup");
	comma = strchr(list, ',');
	src[0].what = list;
	if (comma) {
		*comma = '\0';
		src[1].what = comma + 1;
		n = 2;
	}
	sigemptyset(&set);
	sigaddset(&set, sig);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		die("sigprocmask");
	for (int k = 0; k < n; k++) {
		int rfd;

		src[k].lat = calloc(iters, sizeof(*src[k].lat));
		if (!src[k].lat)
			die("calloc");
		open_ends(src[k].what, &src[k].rfd, &src[k].wfd);
		rfd = src[k].rfd;
		if (fcntl(rfd, F_SETOWN, getpid()) || fcntl(rfd, F_SETSIG, sig) ||
		    fcntl(rfd, F_SETFL, fcntl(rfd, F_GETFL) | O_ASYNC | O_NONBLOCK))
			die("fcntl");
	}
	for (long i = -warm; i < iters; i++)
		for (int k = 0; k < n; k++) {
			uint64_t ns = sigio_once(&src[k], &set, sig);

			if (i >= 0)
				src[k].lat[i] = ns;
		}
	for (int k = 0; k < n; k++) {
		print_lat(n > 1 ? src[k].what : NULL, src[k].lat, iters);
		free(src[k].lat);
	}
	free(list);
	return 0;
}

static int cmd_sleep(long ns, long iters)
{
	uint64_t *lat = calloc(iters, sizeof(*lat));
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };

	if (!lat)
		die("calloc");
	for (long i = 0; i < iters; i++) {
		uint64_t t0 = now_ns();

		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
		lat[i] = now_ns() - t0;
	}
	print_lat(NULL, lat, iters);
	free(lat);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "sleep") && atol(argv[3]) > 0)
		return cmd_sleep(atol(argv[2]), atol(argv[3]));
	if (argc >= 4 && !strcmp(argv[1], "rt"))
		return cmd_rt(argv[2], atof(argv[3]),
			      argc > 4 ? strtoul(argv[4], NULL, 0) : 4096);
	if (argc >= 4 && !strcmp(argv[1], "rtalt"))
		return cmd_rtalt(argv[2], atof(argv[3]),
				 argc > 4 ? strtoul(argv[4], NULL, 0) : 4096);
	if (argc >= 4 && !strcmp(argv[1], "sigio") && atol(argv[3]) > 0)
		return cmd_sigio(argv[2], atol(argv[3]));
	if (argc >= 4 && !strcmp(argv[1], "pread"))
		return cmd_pread(argv[2], atof(argv[3]),
				 argc > 4 ? strtoul(argv[4], NULL, 0) : 4096,
				 argc > 5 ? strtoull(argv[5], NULL, 0) : 16 << 20);
	fprintf(stderr, "usage: bench_fifo rt DEV|pipe SECONDS [BYTES]\n"
			"       bench_fifo rtalt DEV SECONDS [BYTES]\n"
			"       bench_fifo sigio DEV|pipe[,DEV|pipe] ITERATIONS\n"
			"       bench_fifo pread FILE SECONDS [BYTES [SPAN]]\n"
			"       bench_fifo sleep NANOSECONDS ITERATIONS\n");
	return 2;
}
