/*
 * Fault injection (ASYNCDEV_IOC_SET_FAULT / GET_FAULT): NEXT fails the next
 * count requests, EVERY every count-th one; a failed request moves no data;
 * the faults_injected counter; async completions carry the error; argument
 * validation.
 */
#include "guest.h"

#include <libaio.h>
#include <liburing.h>

static void set_fault(int fd, uint32_t mode, uint32_t error, uint64_t count)
{
	struct asyncdev_fault f = { .mode = mode, .error = error, .count = count };

	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_FAULT, &f), 0);
}

static struct asyncdev_fault get_fault(int fd)
{
	struct asyncdev_fault f;

	memset(&f, 0xff, sizeof(f));
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_FAULT, &f), 0);
	assert_int_equal(f.reserved[0], 0);
	assert_int_equal(f.reserved[1], 0);
	return f;
}

static void test_default_is_off(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	struct asyncdev_fault f = get_fault(fd);
	char b[8];

	(void)state;
	assert_int_equal(f.mode, ASYNCDEV_FAULT_OFF);
	assert_int_equal(pread(fd, b, sizeof(b), 0), sizeof(b));
	close(fd);
}

static void test_next_fails_count_requests(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	struct asyncdev_stats s0, s1;
	struct asyncdev_fault f;
	char in[32] = "fault injection test data......", out[32];

	(void)state;
	assert_int_equal(pwrite(fd, in, sizeof(in), 4096), sizeof(in));
	s0 = node_stats(fd);
	set_fault(fd, ASYNCDEV_FAULT_NEXT, EIO, 2);
	f = get_fault(fd);
	assert_int_equal(f.mode, ASYNCDEV_FAULT_NEXT);
	assert_int_equal(f.error, EIO);
	assert_int_equal(f.count, 2);

	errno = 0;
	memset(out, 0, sizeof(out));
	assert_int_equal(pread(fd, out, sizeof(out), 4096), -1);
	assert_int_equal(errno, EIO);
	f = get_fault(fd);
	assert_int_equal(f.mode, ASYNCDEV_FAULT_NEXT);
	assert_int_equal(f.count, 1);
	errno = 0;
	assert_int_equal(pread(fd, out, sizeof(out), 4096), -1);
	assert_int_equal(errno, EIO);
	/* Nothing was copied by the failed reads. */
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0);
	/* Used up: off again. */
	f = get_fault(fd);
	assert_int_equal(f.mode, ASYNCDEV_FAULT_OFF);
	assert_int_equal(f.count, 0);
	assert_int_equal(pread(fd, out, sizeof(out), 4096), sizeof(out));
	assert_memory_equal(in, out, sizeof(in));

	s1 = node_stats(fd);
	assert_int_equal(s1.faults_injected - s0.faults_injected, 2);
	assert_int_equal(s1.reads - s0.reads, 1);
	assert_int_equal(s1.bytes_read - s0.bytes_read, sizeof(out));
	close(fd);
}

static void test_next_failed_write_stores_nothing(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	char old[16] = "old old old old", new[16] = "NEW NEW NEW NEW", out[16];

	(void)state;
	assert_int_equal(pwrite(fd, old, sizeof(old), 100), sizeof(old));
	set_fault(fd, ASYNCDEV_FAULT_NEXT, EROFS, 1);
	errno = 0;
	assert_int_equal(pwrite(fd, new, sizeof(new), 100), -1);
	assert_int_equal(errno, EROFS);
	assert_int_equal(pread(fd, out, sizeof(out), 100), sizeof(out));
	assert_memory_equal(out, old, sizeof(old));
	close(fd);
}

static void test_every_nth_fifo_write_fails_enospc(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR | O_NONBLOCK);
	struct asyncdev_stats s0, s1;
	char b[10] = "0123456789", out[64];
	size_t level = 0;

	(void)state;
	s0 = node_stats(fd);
	set_fault(fd, ASYNCDEV_FAULT_EVERY, ENOSPC, 3);
	for (int i = 1; i <= 9; i++) {
		if (i % 3 == 0) {
			errno = 0;
			assert_int_equal(write(fd, b, sizeof(b)), -1);
			assert_int_equal(errno, ENOSPC);
		} else {
			assert_int_equal(write(fd, b, sizeof(b)), sizeof(b));
			level += sizeof(b);
		}
		assert_int_equal(fifo_level(fd), level);
	}
	s1 = node_stats(fd);
	assert_int_equal(s1.faults_injected - s0.faults_injected, 3);
	assert_int_equal(s1.bytes_written - s0.bytes_written, 60);
	assert_int_equal(s1.writes - s0.writes, 6);
	/* EVERY does not wear off. */
	assert_int_equal(get_fault(fd).mode, ASYNCDEV_FAULT_EVERY);
	/* Turned off, the FIFO holds exactly the successful writes. */
	set_fault(fd, ASYNCDEV_FAULT_OFF, 0, 0);
	assert_int_equal(read(fd, out, sizeof(out)), 60);
	for (int i = 0; i < 6; i++)
		assert_memory_equal(out + 10 * i, b, sizeof(b));
	close(fd);
}

static void test_every_counts_reads_and_writes(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	char b[4];

	(void)state;
	set_fault(fd, ASYNCDEV_FAULT_EVERY, EIO, 2);
	assert_int_equal(pwrite(fd, b, sizeof(b), 0), sizeof(b));	/* 1 */
	errno = 0;
	assert_int_equal(pread(fd, b, sizeof(b), 0), -1);		/* 2 */
	assert_int_equal(errno, EIO);
	assert_int_equal(pread(fd, b, sizeof(b), 0), sizeof(b));	/* 3 */
	errno = 0;
	assert_int_equal(pwrite(fd, b, sizeof(b), 0), -1);		/* 4 */
	assert_int_equal(errno, EIO);
	/* Zero-length requests are not requests. */
	assert_int_equal(pread(fd, b, 0, 0), 0);
	assert_int_equal(pread(fd, b, sizeof(b), 0), sizeof(b));	/* 5 */
	close(fd);
}

static void test_set_fault_resets_every_phase(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	char b[4];

	(void)state;
	set_fault(fd, ASYNCDEV_FAULT_EVERY, EIO, 3);
	assert_int_equal(pread(fd, b, sizeof(b), 0), sizeof(b));
	assert_int_equal(pread(fd, b, sizeof(b), 0), sizeof(b));
	/* Setting it again starts counting over. */
	set_fault(fd, ASYNCDEV_FAULT_EVERY, EIO, 3);
	assert_int_equal(pread(fd, b, sizeof(b), 0), sizeof(b));
	assert_int_equal(pread(fd, b, sizeof(b), 0), sizeof(b));
	errno = 0;
	assert_int_equal(pread(fd, b, sizeof(b), 0), -1);
	assert_int_equal(errno, EIO);
	close(fd);
}

static void test_faults_are_per_node(void **state)
{
	int mem = open_node(MEM_PATH, O_RDWR);
	int fifo = open_node(FIFO_PATH, O_RDWR);
	char b[4];

	(void)state;
	set_fault(mem, ASYNCDEV_FAULT_NEXT, EIO, 1);
	assert_int_equal(get_fault(fifo).mode, ASYNCDEV_FAULT_OFF);
	assert_int_equal(write(fifo, "abcd", 4), 4);
	assert_int_equal(read(fifo, b, 4), 4);
	errno = 0;
	assert_int_equal(pread(mem, b, sizeof(b), 0), -1);
	assert_int_equal(errno, EIO);
	close(fifo);
	close(mem);
}

static void libaio_read_fails(uint64_t latency_ns)
{
	struct iocb cb, *pcb[1] = { &cb };
	struct io_event ev;
	struct timespec ts = { 5, 0 };
	io_context_t ctx = 0;
	char buf[512];
	int fd = open_node(MEM_PATH, O_RDWR);
	struct asyncdev_stats s0, s1;

	node_config(fd, latency_ns, 0, 1, 0);
	assert_int_equal(io_setup(4, &ctx), 0);
	s0 = node_stats(fd);
	set_fault(fd, ASYNCDEV_FAULT_NEXT, EIO, 1);
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	assert_int_equal(io_submit(ctx, 1, pcb), 1);
	assert_int_equal(io_getevents(ctx, 1, 1, &ev, &ts), 1);
	assert_ptr_equal(ev.obj, &cb);
	assert_int_equal((long)ev.res, -EIO);
	/* The next one succeeds. */
	assert_int_equal(io_submit(ctx, 1, pcb), 1);
	assert_int_equal(io_getevents(ctx, 1, 1, &ev, &ts), 1);
	assert_int_equal((long)ev.res, sizeof(buf));
	s1 = node_stats(fd);
	assert_int_equal(s1.faults_injected - s0.faults_injected, 1);
	assert_int_equal(s1.in_flight, 0);
	io_destroy(ctx);
	device_reset();
	close(fd);
}

static void test_libaio_read_completes_with_error(void **state)
{
	(void)state;
	libaio_read_fails(0);
}

static void test_libaio_read_completes_with_error_with_latency(void **state)
{
	(void)state;
	libaio_read_fails(1000000);
}

static void test_io_uring_write_completes_with_error(void **state)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	char buf[64] = "io_uring";
	int fd = open_node(MEM_PATH, O_RDWR);

	(void)state;
	assert_int_equal(io_uring_queue_init(4, &ring, 0), 0);
	set_fault(fd, ASYNCDEV_FAULT_NEXT, EIO, 1);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write(sqe, fd, buf, sizeof(buf), 0);
	assert_int_equal(io_uring_submit(&ring), 1);
	assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
	assert_int_equal(cqe->res, -EIO);
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	close(fd);
}

static void test_async_fifo_write_fault(void **state)
{
	struct iocb cb, *pcb[1] = { &cb };
	struct io_event ev;
	struct timespec ts = { 5, 0 };
	io_context_t ctx = 0;
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	assert_int_equal(io_setup(4, &ctx), 0);
	set_fault(fd, ASYNCDEV_FAULT_NEXT, ENOSPC, 1);
	io_prep_pwrite(&cb, fd, "abc", 3, 0);
	assert_int_equal(io_submit(ctx, 1, pcb), 1);
	assert_int_equal(io_getevents(ctx, 1, 1, &ev, &ts), 1);
	assert_int_equal((long)ev.res, -ENOSPC);
	assert_int_equal(fifo_level(fd), 0);
	io_destroy(ctx);
	close(fd);
}

static void test_bad_arguments_einval(void **state)
{
	const struct asyncdev_fault bad[] = {
		{ .mode = 7, .error = EIO, .count = 1 },
		{ .mode = 3, .error = EIO, .count = 1 },
		{ .mode = ASYNCDEV_FAULT_NEXT, .error = 0, .count = 1 },
		{ .mode = ASYNCDEV_FAULT_EVERY, .error = 0, .count = 1 },
		{ .mode = ASYNCDEV_FAULT_NEXT, .error = EIO, .count = 0 },
		{ .mode = ASYNCDEV_FAULT_EVERY, .error = EIO, .count = 0 },
		{ .mode = ASYNCDEV_FAULT_NEXT, .error = 511, .count = 1,
		  .reserved = { 1, 0 } },
		{ .mode = ASYNCDEV_FAULT_OFF, .reserved = { 0, 1 } },
		{ .mode = ASYNCDEV_FAULT_NEXT, .error = 4096, .count = 1 },
		/* Kernel-internal: must never reach userspace or fs code. */
		{ .mode = ASYNCDEV_FAULT_NEXT, .error = 512, .count = 1 },	/* ERESTARTSYS */
		{ .mode = ASYNCDEV_FAULT_EVERY, .error = 513, .count = 1 },	/* ERESTARTNOINTR */
		{ .mode = ASYNCDEV_FAULT_NEXT, .error = 529, .count = 1 },	/* EIOCBQUEUED */
		{ .mode = ASYNCDEV_FAULT_NEXT, .error = 4095, .count = 1 },
		{ .mode = ASYNCDEV_FAULT_NEXT, .error = (uint32_t)-EIO, .count = 1 },
	};
	int fd = open_node(MEM_PATH, O_RDWR);

	(void)state;
	set_fault(fd, ASYNCDEV_FAULT_EVERY, EAGAIN, 5);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct asyncdev_fault f = bad[i];

		errno = 0;
		if (ioctl(fd, ASYNCDEV_IOC_SET_FAULT, &f) != -1 || errno != EINVAL)
			fail_msg("bad fault #%zu (mode %u error %u count %llu): "
				 "not EINVAL (%s)", i, f.mode, f.error,
				 (unsigned long long)f.count, strerror(errno));
		/* The previous setting is kept. */
		f = get_fault(fd);
		assert_int_equal(f.mode, ASYNCDEV_FAULT_EVERY);
		assert_int_equal(f.error, EAGAIN);
		assert_int_equal(f.count, 5);
	}
	/* OFF ignores error and count. */
	set_fault(fd, ASYNCDEV_FAULT_OFF, 0, 0);
	set_fault(fd, ASYNCDEV_FAULT_OFF, EIO, 3);
	close(fd);
}

/* The uapi documents @error as 1..511: both ends are accepted. */
static void test_error_range_ends_accepted(void **state)
{
	struct asyncdev_fault f = { .mode = ASYNCDEV_FAULT_NEXT, .error = 1,
				    .count = 2 };
	int fd = open_node(MEM_PATH, O_RDWR);
	char b[4];

	(void)state;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_FAULT, &f), 0);
	errno = 0;
	assert_int_equal(pread(fd, b, sizeof(b), 0), -1);
	assert_int_equal(errno, 1);
	f.error = 511;
	errno = 0;
	if (ioctl(fd, ASYNCDEV_IOC_SET_FAULT, &f))
		fail_msg("SET_FAULT error=511 (documented range 1..511): %s",
			 strerror(errno));
	errno = 0;
	assert_int_equal(pread(fd, b, sizeof(b), 0), -1);
	assert_int_equal(errno, 511);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_default_is_off, setup_reset),
		cmocka_unit_test_setup(test_next_fails_count_requests, setup_reset),
		cmocka_unit_test_setup(test_next_failed_write_stores_nothing, setup_reset),
		cmocka_unit_test_setup(test_every_nth_fifo_write_fails_enospc, setup_reset),
		cmocka_unit_test_setup(test_every_counts_reads_and_writes, setup_reset),
		cmocka_unit_test_setup(test_set_fault_resets_every_phase, setup_reset),
		cmocka_unit_test_setup(test_faults_are_per_node, setup_reset),
		cmocka_unit_test_setup(test_libaio_read_completes_with_error, setup_reset),
		cmocka_unit_test_setup(test_libaio_read_completes_with_error_with_latency, setup_reset),
		cmocka_unit_test_setup(test_io_uring_write_completes_with_error, setup_reset),
		cmocka_unit_test_setup(test_async_fifo_write_fault, setup_reset),
		cmocka_unit_test_setup(test_bad_arguments_einval, setup_reset),
		cmocka_unit_test_setup(test_error_range_ends_accepted, setup_reset),
	};

	return cmocka_run_group_tests_name("fault_injection", tests, NULL, teardown_reset);
}
