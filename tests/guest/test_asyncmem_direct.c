/*
 * O_DIRECT on /dev/asyncmem: it opens (and F_SETFL can turn it on), and
 * requests follow a block device's alignment rules: the offset, every
 * buffer address and every segment length a multiple of 512 bytes, EINVAL
 * otherwise with nothing moved. Aligned io_submit requests on a node with
 * latency complete asynchronously (io_submit returns before the service
 * time, the completion comes after it).
 */
#include "guest.h"

#include <libaio.h>
#include <liburing.h>
#include <sys/uio.h>

#define MEM_BYTES	(16u << 20)
#define SECTOR		512
#define BUF_BYTES	(64u << 10)

static unsigned char *buf;	/* BUF_BYTES, page aligned */
static unsigned char *ref;	/* BUF_BYTES, the expected contents */

static void fill(unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 131 + i * 13 + (i >> 9));
}

static int open_direct(void)
{
	int fd = open(MEM_PATH, O_RDWR | O_DIRECT | O_CLOEXEC);

	if (fd < 0)
		fail_msg("open %s O_DIRECT: %s", MEM_PATH, strerror(errno));
	return fd;
}

/* Put @n bytes of pattern @seed at @off through a buffered descriptor. */
static void put_plain(off_t off, size_t n, unsigned int seed)
{
	int fd = open_node(MEM_PATH, O_RDWR);

	fill(ref, n, seed);
	assert_int_equal(pwrite(fd, ref, n, off), (ssize_t)n);
	close(fd);
}

/* Assert the device holds @ref's first @n bytes at @off. */
static void check_plain(off_t off, size_t n)
{
	unsigned char *got = malloc(n);
	int fd = open_node(MEM_PATH, O_RDWR);

	assert_non_null(got);
	assert_int_equal(pread(fd, got, n, off), (ssize_t)n);
	assert_memory_equal(ref, got, n);
	free(got);
	close(fd);
}

static int setup(void **state)
{
	(void)state;
	device_reset();
	memset(buf, 0, BUF_BYTES);
	return 0;
}

static void test_open_o_direct(void **state)
{
	int fd;

	(void)state;
	fd = open(MEM_PATH, O_RDWR | O_DIRECT);
	if (fd < 0)
		fail_msg("open(O_RDWR|O_DIRECT): %s", strerror(errno));
	assert_true(fcntl(fd, F_GETFL) & O_DIRECT);
	close(fd);
	fd = open(MEM_PATH, O_RDONLY | O_DIRECT);
	assert_true(fd >= 0);
	close(fd);
}

static void test_fcntl_setfl_o_direct(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	int fl = fcntl(fd, F_GETFL);

	(void)state;
	assert_false(fl & O_DIRECT);
	if (fcntl(fd, F_SETFL, fl | O_DIRECT))
		fail_msg("F_SETFL O_DIRECT: %s", strerror(errno));
	assert_true(fcntl(fd, F_GETFL) & O_DIRECT);
	/* Now direct: a misaligned offset is refused. */
	errno = 0;
	assert_int_equal(pread(fd, buf, SECTOR, 1), -1);
	assert_int_equal(errno, EINVAL);
	/* And off again: buffered rules. */
	assert_int_equal(fcntl(fd, F_SETFL, fl), 0);
	assert_int_equal(pread(fd, buf, 3, 1), 3);
	close(fd);
}

static void test_aligned_pwrite_pread(void **state)
{
	static const off_t offs[] = { 0, SECTOR, 4096, 12345 * SECTOR,
				      MEM_BYTES - 8192 };
	int fd = open_direct();

	(void)state;
	for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		fill(ref, 8192, (unsigned int)k + 1);
		memcpy(buf, ref, 8192);
		assert_int_equal(pwrite(fd, buf, 8192, offs[k]), 8192);
		check_plain(offs[k], 8192);
		memset(buf, 0, 8192);
		assert_int_equal(pread(fd, buf, 8192, offs[k]), 8192);
		assert_memory_equal(ref, buf, 8192);
	}
	/* One sector, at a sector-aligned (not page-aligned) buffer. */
	fill(ref, SECTOR, 99);
	memcpy(buf + SECTOR, ref, SECTOR);
	assert_int_equal(pwrite(fd, buf + SECTOR, SECTOR, 7 * SECTOR), SECTOR);
	check_plain(7 * SECTOR, SECTOR);
	/* read(2)/write(2) advance the position by whole sectors. */
	assert_int_equal(lseek(fd, 3 * SECTOR, SEEK_SET), 3 * SECTOR);
	assert_int_equal(read(fd, buf, 2 * SECTOR), 2 * SECTOR);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 5 * SECTOR);
	close(fd);
}

/* The end of the device: short, then 0 / ENOSPC, as in buffered mode. */
static void test_aligned_at_end(void **state)
{
	int fd = open_direct();

	(void)state;
	assert_int_equal(pread(fd, buf, 4096, MEM_BYTES - SECTOR), SECTOR);
	assert_int_equal(pread(fd, buf, 4096, MEM_BYTES), 0);
	errno = 0;
	assert_int_equal(pwrite(fd, buf, SECTOR, MEM_BYTES), -1);
	assert_int_equal(errno, ENOSPC);
	close(fd);
}

/* Every misaligned request fails with EINVAL and moves nothing. */
static void test_misaligned_einval(void **state)
{
	struct {
		off_t off;
		size_t shift;	/* buffer address offset from aligned */
		size_t len;
	} bad[] = {
		{ 1, 0, SECTOR },		/* offset */
		{ 4096 + 100, 0, 4096 },	/* offset */
		{ 4096, 0, 100 },		/* length */
		{ 4096, 0, 4096 + 1 },		/* length */
		{ 4096, 1, 4096 },		/* buffer */
		{ 4096, 8, SECTOR },		/* buffer */
		{ 4096, 256, SECTOR },		/* buffer */
	};
	struct asyncdev_stats s0, s1;
	int fd = open_direct();

	(void)state;
	put_plain(0, 16384, 7);
	s0 = node_stats(fd);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		memset(buf, 0xee, BUF_BYTES);
		errno = 0;
		if (pread(fd, buf + bad[k].shift, bad[k].len, bad[k].off) != -1 ||
		    errno != EINVAL)
			fail_msg("pread case %zu: not EINVAL (%s)", k,
				 strerror(errno));
		errno = 0;
		if (pwrite(fd, buf + bad[k].shift, bad[k].len, bad[k].off) != -1 ||
		    errno != EINVAL)
			fail_msg("pwrite case %zu: not EINVAL (%s)", k,
				 strerror(errno));
	}
	/* The position does not move on a refused read(2). */
	assert_int_equal(lseek(fd, 100, SEEK_SET), 100);
	errno = 0;
	assert_int_equal(read(fd, buf, SECTOR), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 100);
	s1 = node_stats(fd);
	assert_int_equal(s1.bytes_written, s0.bytes_written);
	assert_int_equal(s1.bytes_read, s0.bytes_read);
	check_plain(0, 16384);
	close(fd);
}

/* Vectored: every segment's address and length must be aligned. */
static void test_iovec_segments(void **state)
{
	struct iovec ok[3] = {
		{ buf, SECTOR }, { buf + 8192, 2 * SECTOR }, { buf + 3 * SECTOR, SECTOR },
	};
	struct iovec bad_addr[2] = { { buf, SECTOR }, { buf + 8192 + 4, SECTOR } };
	struct iovec bad_len[2] = { { buf, 256 }, { buf + 8192, 256 } };
	int fd = open_direct();

	(void)state;
	fill(ref, 4 * SECTOR, 3);
	memcpy(buf, ref, SECTOR);
	memcpy(buf + 8192, ref + SECTOR, 2 * SECTOR);
	memcpy(buf + 3 * SECTOR, ref + 3 * SECTOR, SECTOR);
	assert_int_equal(pwritev(fd, ok, 3, 64 * SECTOR), 4 * SECTOR);
	check_plain(64 * SECTOR, 4 * SECTOR);
	memset(buf, 0, BUF_BYTES);
	assert_int_equal(preadv(fd, ok, 3, 64 * SECTOR), 4 * SECTOR);
	assert_memory_equal(buf, ref, SECTOR);
	assert_memory_equal(buf + 8192, ref + SECTOR, 2 * SECTOR);
	assert_memory_equal(buf + 3 * SECTOR, ref + 3 * SECTOR, SECTOR);

	/* A misaligned second segment, or two half sectors (total 512). */
	errno = 0;
	assert_int_equal(preadv(fd, bad_addr, 2, 0), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(pwritev(fd, bad_addr, 2, 0), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(preadv(fd, bad_len, 2, 0), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(pwritev(fd, bad_len, 2, 0), -1);
	assert_int_equal(errno, EINVAL);
	check_plain(64 * SECTOR, 4 * SECTOR);
	close(fd);
}

static void get_events(io_context_t ctx, int n, struct io_event *ev)
{
	struct timespec ts = { 10, 0 };
	int got = 0;

	while (got < n) {
		int r = io_getevents(ctx, 1, n - got, ev + got, &ts);

		if (r == -EINTR)
			continue;
		if (r <= 0)
			fail_msg("io_getevents: %d after %d of %d", r, got, n);
		got += r;
	}
}

/*
 * io_submit with O_DIRECT on a node with 300 ms latency and 4 channels:
 * io_submit returns long before the service time, no event is there right
 * after it, and all four complete together after about one service time.
 */
static void test_io_submit_async_with_latency(void **state)
{
	enum { N = 4, SZ = 4096, LAT_MS = 300 };
	struct iocb cbs[N], *pcb[N];
	struct io_event ev[N];
	struct timespec zero = { 0, 0 };
	struct asyncdev_stats s0, s1;
	io_context_t ctx = 0;
	uint64_t t0, t_submit, t_done;
	int fd = open_direct();

	(void)state;
	node_config(fd, LAT_MS * 1000000ull, 0, N, 0);
	assert_int_equal(io_setup(N, &ctx), 0);
	fill(ref, N * SZ, 11);
	memcpy(buf, ref, N * SZ);
	for (int i = 0; i < N; i++) {
		io_prep_pwrite(&cbs[i], fd, buf + i * SZ, SZ, (long long)(i + 1) * 65536);
		pcb[i] = &cbs[i];
	}
	s0 = node_stats(fd);
	t0 = now_ns();
	assert_int_equal(io_submit(ctx, N, pcb), N);
	t_submit = now_ns() - t0;
	assert_int_equal(io_getevents(ctx, 0, N, ev, &zero), 0);
	get_events(ctx, N, ev);
	t_done = now_ns() - t0;
	print_message("# O_DIRECT io_submit: submit %.1f ms, complete %.1f ms\n",
		      t_submit / 1e6, t_done / 1e6);
	assert_true(t_submit < LAT_MS * 1000000ull / 2);
	assert_true(t_done >= (LAT_MS - 5) * 1000000ull);
	for (int i = 0; i < N; i++)
		assert_int_equal((long)ev[i].res, SZ);
	s1 = node_stats(fd);
	assert_int_equal(s1.async_queued - s0.async_queued, N);

	/* And read back the same way into a cleared buffer. */
	memset(buf, 0, N * SZ);
	for (int i = 0; i < N; i++)
		io_prep_pread(&cbs[i], fd, buf + i * SZ, SZ, (long long)(i + 1) * 65536);
	t0 = now_ns();
	assert_int_equal(io_submit(ctx, N, pcb), N);
	assert_true(now_ns() - t0 < LAT_MS * 1000000ull / 2);
	assert_int_equal(io_getevents(ctx, 0, N, ev, &zero), 0);
	get_events(ctx, N, ev);
	for (int i = 0; i < N; i++)
		assert_int_equal((long)ev[i].res, SZ);
	assert_memory_equal(ref, buf, N * SZ);
	assert_int_equal(node_stats(fd).in_flight, 0);
	io_destroy(ctx);
	device_reset();
	close(fd);
}

/* io_submit of a misaligned request completes at once with -EINVAL. */
static void test_io_submit_misaligned_einval(void **state)
{
	struct iocb cbs[3], *pcb[3] = { &cbs[0], &cbs[1], &cbs[2] };
	struct io_event ev[3];
	io_context_t ctx = 0;
	int fd = open_direct();

	(void)state;
	node_config(fd, 1000000, 0, 1, 0);
	put_plain(0, 8192, 5);
	assert_int_equal(io_setup(4, &ctx), 0);
	io_prep_pread(&cbs[0], fd, buf, SECTOR, 3);		/* offset */
	io_prep_pwrite(&cbs[1], fd, buf, 100, SECTOR);		/* length */
	io_prep_pwrite(&cbs[2], fd, buf + 1, SECTOR, 0);	/* buffer */
	assert_int_equal(io_submit(ctx, 3, pcb), 3);
	get_events(ctx, 3, ev);
	for (int i = 0; i < 3; i++)
		assert_int_equal((long)ev[i].res, -EINVAL);
	check_plain(0, 8192);
	assert_int_equal(node_stats(fd).in_flight, 0);
	io_destroy(ctx);
	device_reset();
	close(fd);
}

/* io_uring on an O_DIRECT descriptor follows the same rules. */
static void test_io_uring_direct(void **state)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int res[2] = { 1, 1 };
	int fd = open_direct();

	(void)state;
	node_config(fd, 1000000, 0, 2, 0);
	assert_int_equal(io_uring_queue_init(4, &ring, 0), 0);
	fill(ref, 4096, 21);
	memcpy(buf, ref, 4096);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write(sqe, fd, buf, 4096, 1 << 20);
	sqe->user_data = 0;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write(sqe, fd, buf + 1, 4096, 2 << 20);
	sqe->user_data = 1;
	assert_int_equal(io_uring_submit(&ring), 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
		res[cqe->user_data] = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	assert_int_equal(res[0], 4096);
	assert_int_equal(res[1], -EINVAL);
	check_plain(1 << 20, 4096);
	io_uring_queue_exit(&ring);
	device_reset();
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_open_o_direct, setup),
		cmocka_unit_test_setup(test_fcntl_setfl_o_direct, setup),
		cmocka_unit_test_setup(test_aligned_pwrite_pread, setup),
		cmocka_unit_test_setup(test_aligned_at_end, setup),
		cmocka_unit_test_setup(test_misaligned_einval, setup),
		cmocka_unit_test_setup(test_iovec_segments, setup),
		cmocka_unit_test_setup(test_io_submit_async_with_latency, setup),
		cmocka_unit_test_setup(test_io_submit_misaligned_einval, setup),
		cmocka_unit_test_setup(test_io_uring_direct, setup),
	};
	int ret;

	buf = aligned_alloc(4096, BUF_BYTES);
	ref = aligned_alloc(4096, BUF_BYTES);
	if (!buf || !ref)
		return 1;
	ret = cmocka_run_group_tests_name("asyncmem_direct", tests, NULL,
					  teardown_reset);
	free(buf);
	free(ref);
	return ret;
}
