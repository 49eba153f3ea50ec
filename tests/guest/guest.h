/* Helpers shared by the guest tests (cmocka, run as root in the guest). */
#ifndef ASYNCDEV_GUEST_H
#define ASYNCDEV_GUEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <asyncdev/uapi/asyncdev.h>

#define FIFO_PATH	"/dev/asyncdev"
#define MEM_PATH	"/dev/asyncmem"
#define FIFO_BYTES	65536

static inline int open_node(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	return fd;
}

/* An address no process maps (the compiler must not see it is bogus). */
static inline void *bad_ptr(void)
{
	volatile uintptr_t p = 8;

	return (void *)p;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static inline void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static inline struct asyncdev_stats node_stats(int fd)
{
	struct asyncdev_stats s;

	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_STATS, &s), 0);
	return s;
}

static inline void node_config(int fd, uint64_t latency_ns, uint64_t jitter_ns,
			       uint32_t channels, uint32_t produce_hz)
{
	struct asyncdev_config c = {
		.latency_ns = latency_ns, .jitter_ns = jitter_ns,
		.channels = channels, .produce_hz = produce_hz,
	};

	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_CONFIG, &c), 0);
}

/*
 * Both nodes back to defaults: no latency, no producer, no faults, no
 * stalls, no short transfers, no bad ranges, seed 0, FIFO empty.
 */
static inline void device_reset(void)
{
	const char *paths[] = { FIFO_PATH, MEM_PATH };
	struct asyncdev_fault off = { .mode = ASYNCDEV_FAULT_OFF };
	struct asyncdev_stall stall_off = { { 0, 0, 0 }, { 0, 0 } };
	struct asyncdev_short short_off = { { 0, 0, 0 }, 0, 0, 0, { 0, 0 } };
	struct asyncdev_seed seed0 = { 0, { 0, 0, 0 } };
	struct asyncdev_badblocks bad_all = { .op = ASYNCDEV_BAD_CLEAR_ALL };
	struct asyncdev_badblocks bad_pass = { .op = ASYNCDEV_BAD_SET_WRITES };

	for (int i = 0; i < 2; i++) {
		int fd = open_node(paths[i], O_RDWR);

		node_config(fd, 0, 0, 1, 0);
		assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_FAULT, &off), 0);
		assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_STALL, &stall_off), 0);
		assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_SHORT, &short_off), 0);
		assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_SEED, &seed0), 0);
		if (i == 1) {
			assert_int_equal(ioctl(fd, ASYNCDEV_IOC_BADBLOCKS,
					       &bad_all), 0);
			assert_int_equal(ioctl(fd, ASYNCDEV_IOC_BADBLOCKS,
					       &bad_pass), 0);
		}
		if (i == 0)
			assert_int_equal(ioctl(fd, ASYNCDEV_IOC_FLUSH), 0);
		close(fd);
	}
}

static inline size_t fifo_level(int fd)
{
	return node_stats(fd).fifo_level;
}

/* write(2) all of @n bytes or fail the test. */
static inline void write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			fail_msg("write: %s", w < 0 ? strerror(errno) : "0");
		p += w;
		n -= (size_t)w;
	}
}

static inline void read_all(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fail_msg("read: %s", r < 0 ? strerror(errno) : "0");
		p += r;
		n -= (size_t)r;
	}
}

/* Wait for child @pid and assert it exited with status 0. */
static inline void wait_child_ok(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fail_msg("child %d failed (status 0x%x)", pid, st);
}

static inline int setup_reset(void **state)
{
	(void)state;
	device_reset();
	return 0;
}

/* Leave defaults behind for the test programs that run after this one. */
static inline int teardown_reset(void **state)
{
	(void)state;
	device_reset();
	return 0;
}

#endif
