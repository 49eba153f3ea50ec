/*
 * Bad ranges of /dev/asyncmem (ASYNCDEV_IOC_BADBLOCKS, sysfs badblocks and
 * bad_writes): reads touching a bad byte fail with EIO and move nothing,
 * on every path; writes pass, fail or clear; ranges merge and split; the
 * list is bounded; the FIFO has none.
 */
#include "guest_aio.h"
#include "guest_faults.h"

#include <liburing.h>

static unsigned int list_ranges(int fd, uint64_t *r, unsigned int max,
				uint32_t *writes)
{
	struct asyncdev_badblocks_list l;

	memset(&l, 0, sizeof(l));
	l.ranges = (uintptr_t)r;
	l.max = max;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_BADBLOCKS, &l), 0);
	if (writes)
		*writes = l.writes;
	return l.count;
}

static void test_read_fails_in_range_only(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	char b[100];
	uint64_t r[4];

	(void)state;
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_ADD, 0, 1000, 1099), 0);
	assert_int_equal(list_ranges(fd, r, 2, NULL), 1);
	assert_int_equal(r[0], 1000);
	assert_int_equal(r[1], 1099);
	/* Ends just before, starts just after: fine. */
	assert_int_equal(pread(fd, b, 100, 900), 100);
	assert_int_equal(pread(fd, b, 100, 1100), 100);
	/* Touching one byte: EIO, nothing copied. */
	memset(b, 'x', sizeof(b));
	errno = 0;
	assert_int_equal(pread(fd, b, 100, 901), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(b[0], 'x');
	errno = 0;
	assert_int_equal(pread(fd, b, 1, 1099), -1);
	assert_int_equal(errno, EIO);
	/* Writes pass by default and the range stays bad. */
	assert_int_equal(pwrite(fd, b, 100, 1000), 100);
	assert_int_equal(pread(fd, b, 1, 1050), -1);
	/* Cleared, it reads again. */
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_CLEAR, 0, 1000, 1099), 0);
	assert_int_equal(list_ranges(fd, r, 2, NULL), 0);
	assert_int_equal(pread(fd, b, 100, 1000), 100);
	close(fd);
}

static void test_async_paths_eio(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	io_context_t ctx = ctx_new(2);
	struct iocb cb, *p = &cb;
	struct io_event ev;
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	char b[64];

	(void)state;
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_ADD, 0, 4096, 4096), 0);
	for (int lat = 0; lat < 2; lat++) {
		if (lat)
			node_config(fd, 500000, 0, 1, 0);
		io_prep_pread(&cb, fd, b, sizeof(b), 4090);
		assert_int_equal(io_submit(ctx, 1, &p), 1);
		assert_int_equal(get_events(ctx, 1, 1, &ev, 2000), 1);
		assert_int_equal((long)ev.res, -EIO);
		assert_int_equal(io_uring_queue_init(2, &ring, 0), 0);
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_read(sqe, fd, b, sizeof(b), 4096);
		assert_int_equal(io_uring_submit(&ring), 1);
		assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
		assert_int_equal(cqe->res, -EIO);
		io_uring_cqe_seen(&ring, cqe);
		io_uring_queue_exit(&ring);
	}
	io_destroy(ctx);
	close(fd);
}

static void test_writes_fail_or_clear(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	char b[10] = "123456789", out[10];
	uint64_t r[6];
	uint32_t writes;

	(void)state;
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_ADD, 0, 100, 199), 0);
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_SET_WRITES,
				ASYNCDEV_BAD_WRITES_FAIL, 0, 0), 0);
	list_ranges(fd, r, 0, &writes);
	assert_int_equal(writes, ASYNCDEV_BAD_WRITES_FAIL);
	errno = 0;
	assert_int_equal(pwrite(fd, b, 10, 95), -1);
	assert_int_equal(errno, EIO);

	/* A write clears what it wrote: the middle of a range splits it. */
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_SET_WRITES,
				ASYNCDEV_BAD_WRITES_CLEAR, 0, 0), 0);
	assert_int_equal(pwrite(fd, b, 10, 150), 10);
	assert_int_equal(list_ranges(fd, r, 3, NULL), 2);
	assert_int_equal(r[0], 100);
	assert_int_equal(r[1], 149);
	assert_int_equal(r[2], 160);
	assert_int_equal(r[3], 199);
	assert_int_equal(pread(fd, out, 10, 150), 10);
	assert_memory_equal(out, b, 10);
	/* Over the start of the second one. */
	assert_int_equal(pwrite(fd, b, 10, 155), 10);
	assert_int_equal(list_ranges(fd, r, 3, NULL), 2);
	assert_int_equal(r[2], 165);
	close(fd);
}

static void test_merge_split_and_limits(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	struct asyncdev_info info;
	static uint64_t r[2 * ASYNCDEV_BAD_MAX_RANGES];

	(void)state;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_INFO, &info), 0);
	/* Adjacent and overlapping ranges merge. */
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_ADD, 0, 10, 19), 0);
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_ADD, 0, 30, 39), 0);
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_ADD, 0, 20, 29), 0);
	assert_int_equal(list_ranges(fd, r, 4, NULL), 1);
	assert_int_equal(r[0], 10);
	assert_int_equal(r[1], 39);
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_ADD, 0, 5, 50), 0);
	assert_int_equal(list_ranges(fd, r, 4, NULL), 1);
	assert_int_equal(r[0], 5);
	assert_int_equal(r[1], 50);
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_CLEAR, 0, 20, 29), 0);
	assert_int_equal(list_ranges(fd, r, 4, NULL), 2);
	assert_int_equal(r[1], 19);
	assert_int_equal(r[2], 30);
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_CLEAR_ALL, 0, 0, 0), 0);
	assert_int_equal(list_ranges(fd, r, 4, NULL), 0);

	/* At most ASYNCDEV_BAD_MAX_RANGES ranges: ENOSPC beyond. */
	for (unsigned int i = 0; i < ASYNCDEV_BAD_MAX_RANGES; i++)
		assert_int_equal(bad_op(fd, ASYNCDEV_BAD_ADD, 0, 2 * i, 2 * i), 0);
	errno = 0;
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_ADD, 0, 10000, 10000), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(list_ranges(fd, r, ASYNCDEV_BAD_MAX_RANGES, NULL),
			 ASYNCDEV_BAD_MAX_RANGES);
	assert_int_equal(r[2 * 1023], 2046);
	/* A clear that would split a range when full: ENOSPC too. */
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_ADD, 0, 0, 2), 0);
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_ADD, 0, 10000, 10000), 0);
	errno = 0;
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_CLEAR, 0, 1, 1), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_CLEAR_ALL, 0, 0, 0), 0);

	/* Validation. */
	errno = 0;
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_ADD, 0, 10, 9), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_ADD, 0, 0, info.capacity), -1);
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_ADD, 0, 0, UINT64_MAX), -1);
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_ADD, 1, 0, 1), -1);
	assert_int_equal(bad_op(fd, 0, 0, 0, 0), -1);
	assert_int_equal(bad_op(fd, 99, 0, 0, 0), -1);
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_SET_WRITES, 3, 0, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_ADD, 0, info.capacity - 1,
				info.capacity - 1), 0);
	close(fd);
}

static void test_sysfs_badblocks(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	char buf[256], b[8];

	(void)state;
	assert_int_equal(sysfs_put("asyncmem", "badblocks", "+512-1023"), 0);
	assert_int_equal(sysfs_put("asyncmem", "badblocks", "+2048-2048\n"), 0);
	sysfs_get("asyncmem", "badblocks", buf, sizeof(buf));
	assert_string_equal(buf, "512-1023\n2048-2048\n");
	errno = 0;
	assert_int_equal(pread(fd, b, 8, 1020), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(sysfs_put("asyncmem", "badblocks", "-512-1023"), 0);
	sysfs_get("asyncmem", "badblocks", buf, sizeof(buf));
	assert_string_equal(buf, "2048-2048\n");
	assert_int_equal(sysfs_put("asyncmem", "bad_writes", "clear"), 0);
	sysfs_get("asyncmem", "bad_writes", buf, sizeof(buf));
	assert_string_equal(buf, "clear\n");
	assert_int_equal(pwrite(fd, b, 1, 2048), 1);
	sysfs_get("asyncmem", "badblocks", buf, sizeof(buf));
	assert_string_equal(buf, "");
	/* Malformed, out of range, huge: EINVAL. */
	assert_int_equal(sysfs_put("asyncmem", "badblocks", "512-1023"), -EINVAL);
	assert_int_equal(sysfs_put("asyncmem", "badblocks", "+10-5"), -EINVAL);
	assert_int_equal(sysfs_put("asyncmem", "badblocks", "+1"), -EINVAL);
	assert_int_equal(sysfs_put("asyncmem", "badblocks",
				   "+0-99999999999999999999999"), -EINVAL);
	assert_int_equal(sysfs_put("asyncmem", "badblocks",
				   "+0-18446744073709551615"), -EINVAL);
	assert_int_equal(sysfs_put("asyncmem", "badblocks", "+1-2 +3-4"), -EINVAL);
	assert_int_equal(sysfs_put("asyncmem", "bad_writes", "maybe"), -EINVAL);
	assert_int_equal(sysfs_put("asyncmem", "badblocks", "clear"), 0);
	close(fd);
}

static void test_fifo_has_no_bad_ranges(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR);
	uint64_t r[2];
	struct asyncdev_badblocks_list l;

	(void)state;
	errno = 0;
	assert_int_equal(bad_op(fd, ASYNCDEV_BAD_ADD, 0, 0, 1), -1);
	assert_int_equal(errno, ENOTTY);
	memset(&l, 0, sizeof(l));
	l.ranges = (uintptr_t)r;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_BADBLOCKS, &l), -1);
	assert_int_equal(errno, ENOTTY);
	assert_int_equal(access("/sys/class/misc/asyncdev/badblocks", F_OK), -1);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_fails_in_range_only,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_async_paths_eio,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_writes_fail_or_clear,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_merge_split_and_limits,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_sysfs_badblocks,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_fifo_has_no_bad_ranges,
						setup_reset, teardown_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
