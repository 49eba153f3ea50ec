/* /dev/asyncdev behaves like a pipe (pipe(7)), minus SIGPIPE. */
#include "guest.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <sys/sysmacros.h>

static void fill(char *buf, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(seed + i * 7);
}

static void test_node_is_misc_char_device_0666(void **state)
{
	struct asyncdev_info info;
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(stat(FIFO_PATH, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(major(st.st_rdev), 10);	/* misc */
	assert_int_equal(st.st_mode & 0777, 0666);
	fd = open_node(FIFO_PATH, O_RDWR);
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_INFO, &info), 0);
	assert_int_equal(info.abi_version, ASYNCDEV_ABI_VERSION);
	assert_int_equal(info.node, ASYNCDEV_NODE_FIFO);
	assert_int_equal(info.capacity, FIFO_BYTES);
	assert_int_equal(info.record_size, sizeof(struct asyncdev_record));
	close(fd);
}

static void test_read_returns_what_is_available(void **state)
{
	char in[100], out[4096];
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	fill(in, sizeof(in), 1);
	assert_int_equal(write(fd, in, sizeof(in)), sizeof(in));
	assert_int_equal(read(fd, out, sizeof(out)), sizeof(in));
	assert_memory_equal(in, out, sizeof(in));
	close(fd);
}

static void test_zero_length_read_write_return_0(void **state)
{
	char b;
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	/* Empty FIFO, blocking fd: a zero-length read must not block. */
	assert_int_equal(read(fd, &b, 0), 0);
	assert_int_equal(write(fd, &b, 0), 0);
	assert_int_equal(fifo_level(fd), 0);
	close(fd);
}

static void test_blocking_read_waits_for_writer(void **state)
{
	char out[64];
	uint64_t t0;
	pid_t pid;
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		sleep_ms(200);
		_exit(write(fd, "hello", 5) == 5 ? 0 : 1);
	}
	t0 = now_ns();
	assert_int_equal(read(fd, out, sizeof(out)), 5);
	assert_true(now_ns() - t0 >= 150000000u);
	assert_memory_equal(out, "hello", 5);
	wait_child_ok(pid);
	close(fd);
}

static void test_nonblock_read_empty_eagain(void **state)
{
	char b[16];
	int fd = open_node(FIFO_PATH, O_RDWR | O_NONBLOCK);

	(void)state;
	assert_int_equal(read(fd, b, sizeof(b)), -1);
	assert_int_equal(errno, EAGAIN);
	close(fd);
}

static void test_nonblock_write_full_eagain_and_atomic(void **state)
{
	static char big[FIFO_BYTES + 8192];
	char page[4096];
	int fd = open_node(FIFO_PATH, O_RDWR | O_NONBLOCK);

	(void)state;
	/* A large nonblocking write stores what fits. */
	assert_int_equal(write(fd, big, sizeof(big)), FIFO_BYTES);
	assert_int_equal(write(fd, page, 1), -1);
	assert_int_equal(errno, EAGAIN);
	/* With 100 bytes free, a 4096-byte write is refused whole. */
	assert_int_equal(read(fd, page, 100), 100);
	assert_int_equal(write(fd, page, sizeof(page)), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(fifo_level(fd), FIFO_BYTES - 100);
	/* But a small one fits. */
	assert_int_equal(write(fd, page, 100), 100);
	close(fd);
}

static void test_blocking_write_waits_for_room(void **state)
{
	static char big[FIFO_BYTES];
	char page[4096];
	uint64_t t0;
	pid_t pid;
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	write_all(fd, big, sizeof(big));
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		sleep_ms(200);
		_exit(read(fd, page, sizeof(page)) == sizeof(page) ? 0 : 1);
	}
	t0 = now_ns();
	assert_int_equal(write(fd, page, sizeof(page)), sizeof(page));
	assert_true(now_ns() - t0 >= 150000000u);
	wait_child_ok(pid);
	assert_int_equal(fifo_level(fd), FIFO_BYTES);
	close(fd);
}

static void test_large_blocking_write_is_streamed(void **state)
{
	static char in[300000], out[300000];
	pid_t pid;
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	fill(in, sizeof(in), 3);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid)
		_exit(write(fd, in, sizeof(in)) == sizeof(in) ? 0 : 1);
	read_all(fd, out, sizeof(out));
	wait_child_ok(pid);
	assert_memory_equal(in, out, sizeof(in));
	close(fd);
}

/* Writers of 4096-byte records: every record read back is whole. */
static void test_atomic_writes_never_interleave(void **state)
{
	enum { WRITERS = 4, RECORDS = 200, REC = 4096 };
	static char rec[REC];
	pid_t pids[WRITERS];
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (!pids[w]) {
			memset(rec, 'A' + w, REC);
			for (int i = 0; i < RECORDS; i++)
				if (write(fd, rec, REC) != REC)
					_exit(1);
			_exit(0);
		}
	}
	for (int i = 0; i < WRITERS * RECORDS; i++) {
		read_all(fd, rec, REC);
		for (int j = 1; j < REC; j++)
			if (rec[j] != rec[0])
				fail_msg("record %d torn at byte %d", i, j);
	}
	for (int w = 0; w < WRITERS; w++)
		wait_child_ok(pids[w]);
	close(fd);
}

/* Byte @seq of the stream: period 251, prime to the ring size. */
static char stream_byte(size_t seq)
{
	return (char)(seq % 251);
}

/*
 * Data that never lets the FIFO empty wraps around the ring end at ever
 * different offsets (chunks of 1..4096 bytes) and comes out whole and in
 * order; once drained, the ring restarts at offset 0 and still works.
 */
static void test_ring_wraps_at_every_offset(void **state)
{
	static char in[4096], out[4096];
	size_t wseq = 0, rseq = 0, level, i = 0;
	int fd = open_node(FIFO_PATH, O_RDWR | O_NONBLOCK);
	ssize_t n;

	(void)state;
	while (wseq < 8 * (size_t)FIFO_BYTES) {
		size_t w = (i * 577) % 4096 + 1, r = (i * 389) % 4096 + 1;

		for (size_t k = 0; k < w; k++)
			in[k] = stream_byte(wseq + k);
		n = write(fd, in, w);
		if (n >= 0) {
			assert_int_equal(n, w);	/* atomic: all or EAGAIN */
			wseq += w;
		} else {
			assert_int_equal(errno, EAGAIN);
		}
		/* Read, but leave at least one byte: the ring never empties. */
		level = wseq - rseq;
		assert_int_equal(fifo_level(fd), level);
		if (r > level - 1)
			r = level - 1;
		if (r) {
			assert_int_equal(read(fd, out, r), r);
			for (size_t k = 0; k < r; k++)
				assert_int_equal(out[k], stream_byte(rseq + k));
			rseq += r;
		}
		i++;
	}
	while (rseq < wseq) {
		n = read(fd, out, sizeof(out));
		assert_true(n > 0);
		for (ssize_t k = 0; k < n; k++)
			assert_int_equal(out[k], stream_byte(rseq + k));
		rseq += n;
	}
	assert_int_equal(fifo_level(fd), 0);
	fill(in, 100, 9);
	assert_int_equal(write(fd, in, 100), 100);
	assert_int_equal(read(fd, out, sizeof(out)), 100);
	assert_memory_equal(in, out, 100);
	close(fd);
}

static void test_stream_no_seek_espipe(void **state)
{
	char b[8] = "abc";
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	assert_int_equal(pwrite(fd, b, 3, 0), -1);
	assert_int_equal(errno, ESPIPE);
	assert_int_equal(write(fd, b, 3), 3);
	assert_int_equal(pread(fd, b, 3, 0), -1);
	assert_int_equal(errno, ESPIPE);
	assert_int_equal(lseek(fd, 0, SEEK_SET), -1);
	assert_int_equal(errno, ESPIPE);
	assert_int_equal(fifo_level(fd), 3);
	close(fd);
}

static void test_readv_writev(void **state)
{
	char a[10], b[20], c[30], x[25], y[35];
	struct iovec wv[3] = { { a, 10 }, { b, 20 }, { c, 30 } };
	struct iovec rv[2] = { { x, 25 }, { y, 35 } };
	char all[60], got[60];
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	fill(a, 10, 1);
	fill(b, 20, 2);
	fill(c, 30, 3);
	memcpy(all, a, 10);
	memcpy(all + 10, b, 20);
	memcpy(all + 30, c, 30);
	assert_int_equal(writev(fd, wv, 3), 60);
	assert_int_equal(readv(fd, rv, 2), 60);
	memcpy(got, x, 25);
	memcpy(got + 25, y, 35);
	assert_memory_equal(all, got, 60);
	close(fd);
}

static void test_bad_pointer_read_efault_consumes_nothing(void **state)
{
	char in[10] = "0123456789", out[10];
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	assert_int_equal(write(fd, in, 10), 10);
	assert_int_equal(read(fd, bad_ptr(), 10), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(fifo_level(fd), 10);
	assert_int_equal(read(fd, out, 10), 10);
	assert_memory_equal(in, out, 10);
	close(fd);
}

static void test_bad_pointer_write_efault_stores_nothing(void **state)
{
	struct iovec v[2] = { { "ok", 2 }, { bad_ptr(), 100 } };
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	assert_int_equal(write(fd, bad_ptr(), 10), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(fifo_level(fd), 0);
	/* An atomic write with a bad second segment is not stored in part. */
	assert_int_equal(writev(fd, v, 2), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(fifo_level(fd), 0);
	close(fd);
}

static void test_unknown_ioctl_enotty(void **state)
{
	int arg = 0;
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	assert_int_equal(ioctl(fd, 0x1234, &arg), -1);
	assert_int_equal(errno, ENOTTY);
	/* Right number, wrong size: a different command. */
	assert_int_equal(ioctl(fd, _IOR(ASYNCDEV_IOC_MAGIC, 0x01, int), &arg), -1);
	assert_int_equal(errno, ENOTTY);
	assert_int_equal(ioctl(fd, TCGETS, &arg), -1);
	assert_int_equal(errno, ENOTTY);
	close(fd);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void test_blocking_read_interrupted_eintr(void **state)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	char b[16];
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	alarm(1);
	assert_int_equal(read(fd, b, sizeof(b)), -1);
	assert_int_equal(errno, EINTR);
	/* The interrupted reader left the queue: a new one is served. */
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(read(fd, b, sizeof(b)), 1);
	signal(SIGALRM, SIG_DFL);
	close(fd);
}

static void test_blocking_write_interrupted_eintr(void **state)
{
	static char big[FIFO_BYTES];
	struct sigaction sa = { .sa_handler = on_alarm };
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	write_all(fd, big, sizeof(big));
	alarm(1);
	assert_int_equal(write(fd, big, 10), -1);
	assert_int_equal(errno, EINTR);
	assert_int_equal(fifo_level(fd), FIFO_BYTES);
	signal(SIGALRM, SIG_DFL);
	close(fd);
}

static void test_poll_select_epoll_bits(void **state)
{
	static char big[FIFO_BYTES];
	struct pollfd p;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT }, got;
	fd_set rd, wr;
	struct timeval tv = { 0, 0 };
	int ep, fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	p = (struct pollfd){ .fd = fd, .events = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM };
	assert_int_equal(poll(&p, 1, 0), 1);
	assert_int_equal(p.revents, POLLOUT | POLLWRNORM);

	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(poll(&p, 1, 0), 1);
	assert_int_equal(p.revents, POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM);

	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(fd, &rd);
	FD_SET(fd, &wr);
	assert_int_equal(select(fd + 1, &rd, &wr, NULL, &tv), 2);

	write_all(fd, big, sizeof(big) - 1);	/* now full */
	assert_int_equal(poll(&p, 1, 0), 1);
	assert_int_equal(p.revents, POLLIN | POLLRDNORM);

	/* epoll wakes a waiter when room appears. */
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLOUT;
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	assert_int_equal(epoll_wait(ep, &got, 1, 0), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		sleep_ms(100);
		_exit(read(fd, big, 8192) == 8192 ? 0 : 1);
	}
	assert_int_equal(epoll_wait(ep, &got, 1, 5000), 1);
	assert_true(got.events & EPOLLOUT);
	wait_child_ok(pid);
	close(ep);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_node_is_misc_char_device_0666, setup_reset),
		cmocka_unit_test_setup(test_read_returns_what_is_available, setup_reset),
		cmocka_unit_test_setup(test_zero_length_read_write_return_0, setup_reset),
		cmocka_unit_test_setup(test_blocking_read_waits_for_writer, setup_reset),
		cmocka_unit_test_setup(test_nonblock_read_empty_eagain, setup_reset),
		cmocka_unit_test_setup(test_nonblock_write_full_eagain_and_atomic, setup_reset),
		cmocka_unit_test_setup(test_blocking_write_waits_for_room, setup_reset),
		cmocka_unit_test_setup(test_large_blocking_write_is_streamed, setup_reset),
		cmocka_unit_test_setup(test_atomic_writes_never_interleave, setup_reset),
		cmocka_unit_test_setup(test_ring_wraps_at_every_offset, setup_reset),
		cmocka_unit_test_setup(test_stream_no_seek_espipe, setup_reset),
		cmocka_unit_test_setup(test_readv_writev, setup_reset),
		cmocka_unit_test_setup(test_bad_pointer_read_efault_consumes_nothing, setup_reset),
		cmocka_unit_test_setup(test_bad_pointer_write_efault_stores_nothing, setup_reset),
		cmocka_unit_test_setup(test_unknown_ioctl_enotty, setup_reset),
		cmocka_unit_test_setup(test_blocking_read_interrupted_eintr, setup_reset),
		cmocka_unit_test_setup(test_blocking_write_interrupted_eintr, setup_reset),
		cmocka_unit_test_setup(test_poll_select_epoll_bits, setup_reset),
	};

	return cmocka_run_group_tests_name("fifo_semantics", tests, NULL, NULL);
}
