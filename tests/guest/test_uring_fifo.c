/*
 * io_uring and RWF_NOWAIT on /dev/asyncdev: submission never blocks, reads
 * on an empty FIFO complete when data arrives (poll-driven, or from an io-wq
 * worker with IOSQE_ASYNC), and a process exiting with reads pending exits
 * promptly.
 */
#include "guest.h"

#include <liburing.h>
#include <sys/uio.h>

static void ring_init(struct io_uring *ring, unsigned int entries)
{
	assert_int_equal(io_uring_queue_init(entries, ring, 0), 0);
}

static void prep_read(struct io_uring *ring, int fd, void *buf, unsigned int n,
		      unsigned int flags, uint64_t tag)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	assert_non_null(sqe);
	io_uring_prep_read(sqe, fd, buf, n, 0);
	sqe->flags |= flags;
	io_uring_sqe_set_data64(sqe, tag);
}

static struct io_uring_cqe *wait_cqe(struct io_uring *ring, int ms)
{
	struct __kernel_timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	struct io_uring_cqe *cqe = NULL;
	int r = io_uring_wait_cqe_timeout(ring, &cqe, &ts);

	return r ? NULL : cqe;
}

static void read_pending_completes_on_write(unsigned int sqe_flags)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	char buf[32] = { 0 };
	uint64_t t0;
	int fd = open_node(FIFO_PATH, O_RDWR);

	ring_init(&ring, 8);
	prep_read(&ring, fd, buf, sizeof(buf), sqe_flags, 7);
	t0 = now_ns();
	assert_int_equal(io_uring_submit(&ring), 1);
	assert_true(now_ns() - t0 < 100000000u);
	assert_null(wait_cqe(&ring, 100));
	assert_int_equal(write(fd, "uring", 5), 5);
	cqe = wait_cqe(&ring, 5000);
	assert_non_null(cqe);
	assert_int_equal(cqe->user_data, 7);
	assert_int_equal(cqe->res, 5);
	assert_memory_equal(buf, "uring", 5);
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	close(fd);
}

static void test_read_pending_completes_on_write(void **state)
{
	(void)state;
	read_pending_completes_on_write(0);
}

static void test_async_flag_read_pending_completes_on_write(void **state)
{
	(void)state;
	read_pending_completes_on_write(IOSQE_ASYNC);
}

static void test_write_then_read_roundtrip(void **state)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	char in[1000], out[1000];
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (char)(i * 13);
	ring_init(&ring, 8);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write(sqe, fd, in, sizeof(in), 0);
	sqe->flags |= IOSQE_IO_LINK;
	prep_read(&ring, fd, out, sizeof(out), 0, 2);
	assert_int_equal(io_uring_submit(&ring), 2);
	for (int i = 0; i < 2; i++) {
		cqe = wait_cqe(&ring, 5000);
		assert_non_null(cqe);
		assert_int_equal(cqe->res, sizeof(in));
		io_uring_cqe_seen(&ring, cqe);
	}
	assert_memory_equal(in, out, sizeof(in));
	io_uring_queue_exit(&ring);
	close(fd);
}

/* Submitting many reads on an empty FIFO does not block io_uring_enter. */
static void test_submit_never_blocks(void **state)
{
	static char buf[64][16];
	struct io_uring ring;
	uint64_t t0, dt;
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	ring_init(&ring, 64);
	for (int i = 0; i < 64; i++)
		prep_read(&ring, fd, buf[i], 16, 0, i);
	t0 = now_ns();
	assert_int_equal(io_uring_submit(&ring), 64);
	dt = now_ns() - t0;
	printf("# io_uring_submit of 64 reads on an empty FIFO: %.2f ms\n", dt / 1e6);
	assert_true(dt < 200000000u);
	/* Feed them all: 64 one-byte records... or one burst they share. */
	for (int i = 0; i < 64; i++) {
		struct io_uring_cqe *cqe;

		assert_int_equal(write(fd, "z", 1), 1);
		cqe = wait_cqe(&ring, 5000);
		assert_non_null(cqe);
		assert_int_equal(cqe->res, 1);
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	close(fd);
}

/* A process exiting with reads pending on the empty FIFO exits promptly. */
static void test_exit_with_pending_reads(void **state)
{
	int ready[2];
	uint64_t t0;
	pid_t pid;
	char c;

	(void)state;
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		static char buf[16][16];
		struct io_uring ring;
		int fd = open(FIFO_PATH, O_RDWR);

		if (fd < 0 || io_uring_queue_init(16, &ring, 0))
			_exit(1);
		for (int i = 0; i < 16; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			io_uring_prep_read(sqe, fd, buf[i], 16, 0);
			if (i % 2)
				sqe->flags |= IOSQE_ASYNC;
		}
		if (io_uring_submit(&ring) != 16)
			_exit(1);
		sleep_ms(200);	/* let io-wq workers block in read_iter */
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		_exit(0);	/* without io_uring_queue_exit */
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	t0 = now_ns();
	wait_child_ok(pid);
	printf("# exit with 16 pending io_uring reads: %.1f ms\n", (now_ns() - t0) / 1e6);
	assert_true(now_ns() - t0 < 5000000000u);
	close(ready[0]);
	close(ready[1]);
}

static void test_rwf_nowait(void **state)
{
	char buf[16];
	struct iovec v = { buf, sizeof(buf) };
	int fd = open_node(FIFO_PATH, O_RDWR);
	uint64_t t0;

	(void)state;
	assert_int_equal(preadv2(fd, &v, 1, -1, RWF_NOWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(write(fd, "now", 3), 3);
	assert_int_equal(preadv2(fd, &v, 1, -1, RWF_NOWAIT), 3);
	assert_memory_equal(buf, "now", 3);
	/*
	 * On a slow device a NOWAIT caller is still served from what the FIFO
	 * holds, at once: a synchronous call cannot complete later, and it
	 * must not sleep for the service time.
	 */
	node_config(fd, 1000000000, 0, 1, 0);
	assert_int_equal(write(fd, "x", 1), 1);
	t0 = now_ns();
	assert_int_equal(preadv2(fd, &v, 1, -1, RWF_NOWAIT), 1);
	assert_int_equal(preadv2(fd, &v, 1, -1, RWF_NOWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	assert_true(now_ns() - t0 < 500000000u);
	close(fd);
}

/* With a device latency, an io_uring read with data completes after it. */
static void test_latency_applies_to_uring(void **state)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	char buf[16];
	uint64_t t0, dt;
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	node_config(fd, 50000000, 0, 4, 0);	/* 50 ms */
	assert_int_equal(write(fd, "slow", 4), 4);
	ring_init(&ring, 4);
	prep_read(&ring, fd, buf, sizeof(buf), 0, 1);
	t0 = now_ns();
	assert_int_equal(io_uring_submit(&ring), 1);
	assert_true(now_ns() - t0 < 40000000u);
	cqe = wait_cqe(&ring, 5000);
	dt = now_ns() - t0;
	assert_non_null(cqe);
	assert_int_equal(cqe->res, 4);
	assert_true(dt >= 45000000u);
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_read_pending_completes_on_write, setup_reset),
		cmocka_unit_test_setup(test_async_flag_read_pending_completes_on_write, setup_reset),
		cmocka_unit_test_setup(test_write_then_read_roundtrip, setup_reset),
		cmocka_unit_test_setup(test_submit_never_blocks, setup_reset),
		cmocka_unit_test_setup(test_exit_with_pending_reads, setup_reset),
		cmocka_unit_test_setup(test_rwf_nowait, setup_reset),
		cmocka_unit_test_setup(test_latency_applies_to_uring, setup_reset),
	};

	return cmocka_run_group_tests_name("uring_fifo", tests, NULL, NULL);
}
