/*
 * /dev/asyncmem: seekable memory of 16 MiB. Positioned and vectored I/O,
 * lseek, the end of the device, bad pointers, io_submit, io_uring and
 * RWF_NOWAIT.
 */
#include "guest.h"

#include <libaio.h>
#include <liburing.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>

#define MEM_BYTES	(16u << 20)

static void fill(unsigned char *buf, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)(seed * 31 + i * 7 + (i >> 8));
}

static void test_node_is_misc_char_device_0666(void **state)
{
	struct asyncdev_info info;
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(stat(MEM_PATH, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(major(st.st_rdev), 10);	/* misc */
	assert_int_equal(st.st_mode & 0777, 0666);
	fd = open_node(MEM_PATH, O_RDWR);
	memset(&info, 0xff, sizeof(info));
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_INFO, &info), 0);
	assert_int_equal(info.abi_version, ASYNCDEV_ABI_VERSION);
	assert_int_equal(info.node, ASYNCDEV_NODE_MEM);
	assert_int_equal(info.capacity, MEM_BYTES);
	assert_int_equal(info.record_size, sizeof(struct asyncdev_record));
	close(fd);
}

static void test_pread_pwrite_round_trip_at_offsets(void **state)
{
	static const off_t offs[] = { 0, 1, 4095, 4096, 12345, 1 << 20,
				      MEM_BYTES - 8192, MEM_BYTES - 300 };
	unsigned char in[300], out[300];
	int fd = open_node(MEM_PATH, O_RDWR);

	(void)state;
	for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		fill(in, sizeof(in), (unsigned int)k + 1);
		assert_int_equal(pwrite(fd, in, sizeof(in), offs[k]), sizeof(in));
	}
	/* Read back after all writes: no write clobbered another. */
	for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		if (k + 1 < sizeof(offs) / sizeof(offs[0]) &&
		    offs[k] + (off_t)sizeof(in) > offs[k + 1])
			continue;	/* overlapped by the next one */
		fill(in, sizeof(in), (unsigned int)k + 1);
		memset(out, 0, sizeof(out));
		assert_int_equal(pread(fd, out, sizeof(out), offs[k]), sizeof(out));
		assert_memory_equal(in, out, sizeof(in));
	}
	/* pread/pwrite do not move the file position. */
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 0);
	close(fd);
}

static void test_overlapping_write_visible(void **state)
{
	unsigned char a[64], out[64];
	int fd = open_node(MEM_PATH, O_RDWR);

	(void)state;
	memset(a, 'A', sizeof(a));
	assert_int_equal(pwrite(fd, a, sizeof(a), 5000), sizeof(a));
	assert_int_equal(pwrite(fd, "xyz", 3, 5010), 3);
	assert_int_equal(pread(fd, out, sizeof(out), 5000), sizeof(out));
	assert_memory_equal(out, a, 10);
	assert_memory_equal(out + 10, "xyz", 3);
	assert_memory_equal(out + 13, a, sizeof(a) - 13);
	close(fd);
}

static void test_read_write_advance_position(void **state)
{
	unsigned char in[100], out[100];
	int fd = open_node(MEM_PATH, O_RDWR);

	(void)state;
	fill(in, sizeof(in), 9);
	assert_int_equal(lseek(fd, 7000, SEEK_SET), 7000);
	assert_int_equal(write(fd, in, 40), 40);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 7040);
	assert_int_equal(write(fd, in + 40, 60), 60);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 7100);
	assert_int_equal(lseek(fd, -100, SEEK_CUR), 7000);
	assert_int_equal(read(fd, out, sizeof(out)), sizeof(out));
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 7100);
	close(fd);
}

static void test_preadv_pwritev_round_trip(void **state)
{
	unsigned char a[10], b[4096], c[777], o1[1000], o2[3000], o3[883];
	struct iovec wv[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	struct iovec rv[3] = { { o1, sizeof(o1) }, { o2, sizeof(o2) }, { o3, sizeof(o3) } };
	unsigned char all[sizeof(a) + sizeof(b) + sizeof(c)];
	unsigned char got[sizeof(all)];
	const off_t off = 3 * 4096 + 17;
	int fd = open_node(MEM_PATH, O_RDWR);

	(void)state;
	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	fill(c, sizeof(c), 3);
	memcpy(all, a, sizeof(a));
	memcpy(all + sizeof(a), b, sizeof(b));
	memcpy(all + sizeof(a) + sizeof(b), c, sizeof(c));
	assert_int_equal(sizeof(o1) + sizeof(o2) + sizeof(o3), sizeof(all));

	assert_int_equal(pwritev(fd, wv, 3, off), sizeof(all));
	assert_int_equal(preadv(fd, rv, 3, off), sizeof(all));
	memcpy(got, o1, sizeof(o1));
	memcpy(got + sizeof(o1), o2, sizeof(o2));
	memcpy(got + sizeof(o1) + sizeof(o2), o3, sizeof(o3));
	assert_memory_equal(all, got, sizeof(all));
	/* And a plain pread sees the same bytes. */
	memset(got, 0, sizeof(got));
	assert_int_equal(pread(fd, got, sizeof(got), off), sizeof(got));
	assert_memory_equal(all, got, sizeof(all));
	close(fd);
}

static void test_lseek_whence(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);

	(void)state;
	assert_int_equal(lseek(fd, 100, SEEK_SET), 100);
	assert_int_equal(lseek(fd, 50, SEEK_CUR), 150);
	assert_int_equal(lseek(fd, -150, SEEK_CUR), 0);
	assert_int_equal(lseek(fd, 0, SEEK_END), MEM_BYTES);
	assert_int_equal(lseek(fd, -10, SEEK_END), MEM_BYTES - 10);
	assert_int_equal(lseek(fd, 10, SEEK_END), MEM_BYTES + 10);
	/* Negative results are refused and leave the position alone. */
	assert_int_equal(lseek(fd, 4096, SEEK_SET), 4096);
	errno = 0;
	assert_int_equal(lseek(fd, -1, SEEK_SET), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(lseek(fd, -4097, SEEK_CUR), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(lseek(fd, -(off_t)MEM_BYTES - 1, SEEK_END), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 4096);
	close(fd);
}

static void test_read_at_or_past_end_returns_0(void **state)
{
	char buf[64];
	int fd = open_node(MEM_PATH, O_RDWR);

	(void)state;
	assert_int_equal(pread(fd, buf, sizeof(buf), MEM_BYTES), 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), MEM_BYTES + 1), 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), (off_t)1 << 40), 0);
	assert_int_equal(lseek(fd, 0, SEEK_END), MEM_BYTES);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), MEM_BYTES);
	close(fd);
}

static void test_read_crossing_end_is_short(void **state)
{
	unsigned char in[10], out[100];
	int fd = open_node(MEM_PATH, O_RDWR);

	(void)state;
	fill(in, sizeof(in), 5);
	assert_int_equal(pwrite(fd, in, sizeof(in), MEM_BYTES - 10), 10);
	memset(out, 0, sizeof(out));
	assert_int_equal(pread(fd, out, sizeof(out), MEM_BYTES - 10), 10);
	assert_memory_equal(in, out, sizeof(in));
	/* Through the file position: short read, then 0 at the end. */
	assert_int_equal(lseek(fd, MEM_BYTES - 10, SEEK_SET), MEM_BYTES - 10);
	assert_int_equal(read(fd, out, sizeof(out)), 10);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), MEM_BYTES);
	assert_int_equal(read(fd, out, sizeof(out)), 0);
	close(fd);
}

static void test_write_at_or_past_end_enospc(void **state)
{
	char buf[16] = "0123456789abcdef";
	int fd = open_node(MEM_PATH, O_RDWR);

	(void)state;
	errno = 0;
	assert_int_equal(pwrite(fd, buf, sizeof(buf), MEM_BYTES), -1);
	assert_int_equal(errno, ENOSPC);
	errno = 0;
	assert_int_equal(pwrite(fd, buf, sizeof(buf), MEM_BYTES + 4096), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(lseek(fd, 0, SEEK_END), MEM_BYTES);
	errno = 0;
	assert_int_equal(write(fd, buf, 1), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), MEM_BYTES);
	close(fd);
}

static void test_write_crossing_end_is_short(void **state)
{
	unsigned char in[100], out[100];
	int fd = open_node(MEM_PATH, O_RDWR);

	(void)state;
	fill(in, sizeof(in), 77);
	assert_int_equal(pwrite(fd, in, sizeof(in), MEM_BYTES - 30), 30);
	memset(out, 0, sizeof(out));
	assert_int_equal(pread(fd, out, sizeof(out), MEM_BYTES - 30), 30);
	assert_memory_equal(in, out, 30);
	/* Through the file position. */
	assert_int_equal(lseek(fd, MEM_BYTES - 7, SEEK_SET), MEM_BYTES - 7);
	assert_int_equal(write(fd, in, sizeof(in)), 7);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), MEM_BYTES);
	close(fd);
}

static void test_bad_pointer_efault(void **state)
{
	unsigned char in[64], out[64];
	int fd = open_node(MEM_PATH, O_RDWR);

	(void)state;
	fill(in, sizeof(in), 3);
	assert_int_equal(pwrite(fd, in, sizeof(in), 8192), sizeof(in));
	errno = 0;
	assert_int_equal(pread(fd, bad_ptr(), 64, 8192), -1);
	assert_int_equal(errno, EFAULT);
	errno = 0;
	assert_int_equal(pwrite(fd, bad_ptr(), 64, 8192), -1);
	assert_int_equal(errno, EFAULT);
	/* The failed write changed nothing. */
	assert_int_equal(pread(fd, out, sizeof(out), 8192), sizeof(out));
	assert_memory_equal(in, out, sizeof(in));
	/* Nor did it move the file position. */
	errno = 0;
	assert_int_equal(read(fd, bad_ptr(), 64), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 0);
	close(fd);
}

static void test_zero_length_read_write_return_0(void **state)
{
	char b = 0;
	int fd = open_node(MEM_PATH, O_RDWR);
	struct asyncdev_stats s0, s1;

	(void)state;
	s0 = node_stats(fd);
	assert_int_equal(pread(fd, &b, 0, 100), 0);
	assert_int_equal(pwrite(fd, &b, 0, 100), 0);
	/* Even at the end, where a 1-byte write would be ENOSPC. */
	assert_int_equal(pwrite(fd, &b, 0, MEM_BYTES), 0);
	assert_int_equal(read(fd, &b, 0), 0);
	s1 = node_stats(fd);
	assert_int_equal(s1.reads, s0.reads);
	assert_int_equal(s1.writes, s0.writes);
	close(fd);
}

static void test_stats_count_bytes(void **state)
{
	unsigned char buf[1000];
	int fd = open_node(MEM_PATH, O_RDWR);
	struct asyncdev_stats s0, s1;

	(void)state;
	fill(buf, sizeof(buf), 1);
	s0 = node_stats(fd);
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), sizeof(buf));
	assert_int_equal(pread(fd, buf, 300, 0), 300);
	assert_int_equal(pread(fd, buf, 300, MEM_BYTES - 100), 100);
	s1 = node_stats(fd);
	assert_int_equal(s1.bytes_written - s0.bytes_written, 1000);
	assert_int_equal(s1.bytes_read - s0.bytes_read, 400);
	assert_int_equal(s1.writes - s0.writes, 1);
	assert_int_equal(s1.reads - s0.reads, 2);
	assert_int_equal(s1.fifo_level, 0);
	close(fd);
}

/* io_submit, with and without a device latency. */
static void aio_round_trip(uint64_t latency_ns)
{
	enum { N = 8, SZ = 4096 + 123 };
	static unsigned char in[N][SZ], out[N][SZ];
	struct iocb cbs[N], *pcb[N];
	struct io_event ev[N];
	struct timespec ts = { 5, 0 };
	io_context_t ctx = 0;
	int fd = open_node(MEM_PATH, O_RDWR);
	int got = 0;

	node_config(fd, latency_ns, 0, 4, 0);
	assert_int_equal(io_setup(N, &ctx), 0);
	for (int i = 0; i < N; i++) {
		fill(in[i], SZ, 100 + i);
		io_prep_pwrite(&cbs[i], fd, in[i], SZ, (long long)i * 65536 + 11);
		pcb[i] = &cbs[i];
	}
	assert_int_equal(io_submit(ctx, N, pcb), N);
	while (got < N) {
		int r = io_getevents(ctx, 1, N - got, ev + got, &ts);

		assert_true(r > 0);
		got += r;
	}
	for (int i = 0; i < N; i++)
		assert_int_equal((long)ev[i].res, SZ);

	for (int i = 0; i < N; i++) {
		memset(out[i], 0, SZ);
		io_prep_pread(&cbs[i], fd, out[i], SZ, (long long)i * 65536 + 11);
	}
	assert_int_equal(io_submit(ctx, N, pcb), N);
	for (got = 0; got < N;) {
		int r = io_getevents(ctx, 1, N - got, ev + got, &ts);

		assert_true(r > 0);
		got += r;
	}
	for (int i = 0; i < N; i++) {
		struct iocb *cb = ev[i].obj;
		int k = (int)(cb - cbs);

		assert_true(k >= 0 && k < N);
		assert_int_equal((long)ev[i].res, SZ);
		assert_memory_equal(in[k], out[k], SZ);
	}

	/* At and across the end. */
	io_prep_pread(&cbs[0], fd, out[0], SZ, MEM_BYTES - 100);
	io_prep_pwrite(&cbs[1], fd, in[1], SZ, MEM_BYTES);
	io_prep_pread(&cbs[2], fd, out[2], SZ, MEM_BYTES);
	assert_int_equal(io_submit(ctx, 3, pcb), 3);
	for (got = 0; got < 3;) {
		int r = io_getevents(ctx, 1, 3 - got, ev + got, &ts);

		assert_true(r > 0);
		got += r;
	}
	for (int i = 0; i < 3; i++) {
		long want[3] = { 100, -ENOSPC, 0 };

		assert_int_equal((long)ev[i].res,
				 want[(struct iocb *)ev[i].obj - cbs]);
	}
	assert_int_equal(node_stats(fd).in_flight, 0);
	io_destroy(ctx);
	close(fd);
}

static void test_libaio_round_trip(void **state)
{
	(void)state;
	aio_round_trip(0);
}

static void test_libaio_round_trip_with_latency(void **state)
{
	(void)state;
	aio_round_trip(1000000);
	device_reset();
}

static void uring_wait(struct io_uring *ring, int n, int *res, uint64_t *ud)
{
	for (int i = 0; i < n; i++) {
		struct io_uring_cqe *cqe;

		assert_int_equal(io_uring_wait_cqe(ring, &cqe), 0);
		res[i] = cqe->res;
		ud[i] = cqe->user_data;
		io_uring_cqe_seen(ring, cqe);
	}
}

static void uring_round_trip(uint64_t latency_ns)
{
	enum { SZ = 5000 };
	static unsigned char in[4][SZ], out[4][SZ];
	struct iovec wv[2] = { { in[2], 100 }, { in[2] + 100, SZ - 100 } };
	struct iovec rv[3] = { { out[2], 1 }, { out[2] + 1, 4096 },
			       { out[2] + 4097, SZ - 4097 } };
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	int res[4];
	uint64_t ud[4];
	int fd = open_node(MEM_PATH, O_RDWR);

	node_config(fd, latency_ns, 0, 4, 0);
	assert_int_equal(io_uring_queue_init(8, &ring, 0), 0);
	for (int i = 0; i < 4; i++) {
		fill(in[i], SZ, 200 + i);
		memset(out[i], 0, SZ);
	}
	/* write, write, writev */
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write(sqe, fd, in[0], SZ, 1 << 20);
	sqe->user_data = 0;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_write(sqe, fd, in[1], SZ, (1 << 20) + 3 * SZ);
	sqe->user_data = 1;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_writev(sqe, fd, wv, 2, (2 << 20) + 1);
	sqe->user_data = 2;
	assert_int_equal(io_uring_submit(&ring), 3);
	uring_wait(&ring, 3, res, ud);
	for (int i = 0; i < 3; i++)
		assert_int_equal(res[i], SZ);

	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, fd, out[0], SZ, 1 << 20);
	sqe->user_data = 0;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, fd, out[1], SZ, (1 << 20) + 3 * SZ);
	sqe->user_data = 1;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_readv(sqe, fd, rv, 3, (2 << 20) + 1);
	sqe->user_data = 2;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, fd, out[3], SZ, MEM_BYTES - 10);
	sqe->user_data = 3;
	assert_int_equal(io_uring_submit(&ring), 4);
	uring_wait(&ring, 4, res, ud);
	for (int i = 0; i < 4; i++)
		assert_int_equal(res[i], ud[i] == 3 ? 10 : SZ);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(in[i], out[i], SZ);
	assert_int_equal(node_stats(fd).in_flight, 0);
	io_uring_queue_exit(&ring);
	close(fd);
}

static void test_io_uring_round_trip(void **state)
{
	(void)state;
	uring_round_trip(0);
}

static void test_io_uring_round_trip_with_latency(void **state)
{
	(void)state;
	uring_round_trip(1000000);
	device_reset();
}

static void test_rwf_nowait(void **state)
{
	unsigned char in[64], out[64];
	struct iovec iov = { out, sizeof(out) };
	int fd = open_node(MEM_PATH, O_RDWR);

	(void)state;
	fill(in, sizeof(in), 42);
	assert_int_equal(pwrite(fd, in, sizeof(in), 9999), sizeof(in));
	/* No latency: served at once. */
	assert_int_equal(preadv2(fd, &iov, 1, 9999, RWF_NOWAIT), sizeof(out));
	assert_memory_equal(in, out, sizeof(in));
	/* With a latency it would have to sleep: -EAGAIN, nothing moved. */
	node_config(fd, 1000000, 0, 1, 0);
	memset(out, 0, sizeof(out));
	errno = 0;
	assert_int_equal(preadv2(fd, &iov, 1, 9999, RWF_NOWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	iov.iov_base = in;
	errno = 0;
	assert_int_equal(pwritev2(fd, &iov, 1, 9999, RWF_NOWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	/* Without the flag the same read works. */
	iov.iov_base = out;
	assert_int_equal(preadv2(fd, &iov, 1, 9999, 0), sizeof(out));
	assert_memory_equal(in, out, sizeof(in));
	device_reset();
	close(fd);
}

static void test_flush_enotty(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);

	(void)state;
	errno = 0;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_FLUSH), -1);
	assert_int_equal(errno, ENOTTY);
	close(fd);
}

static void test_produce_hz_einval(void **state)
{
	struct asyncdev_config c = { .channels = 1, .produce_hz = 10 };
	struct asyncdev_config got;
	int fd = open_node(MEM_PATH, O_RDWR);

	(void)state;
	errno = 0;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_CONFIG, &c), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_CONFIG, &got), 0);
	assert_int_equal(got.produce_hz, 0);
	assert_int_equal(got.channels, 1);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_node_is_misc_char_device_0666, setup_reset),
		cmocka_unit_test_setup(test_pread_pwrite_round_trip_at_offsets, setup_reset),
		cmocka_unit_test_setup(test_overlapping_write_visible, setup_reset),
		cmocka_unit_test_setup(test_read_write_advance_position, setup_reset),
		cmocka_unit_test_setup(test_preadv_pwritev_round_trip, setup_reset),
		cmocka_unit_test_setup(test_lseek_whence, setup_reset),
		cmocka_unit_test_setup(test_read_at_or_past_end_returns_0, setup_reset),
		cmocka_unit_test_setup(test_read_crossing_end_is_short, setup_reset),
		cmocka_unit_test_setup(test_write_at_or_past_end_enospc, setup_reset),
		cmocka_unit_test_setup(test_write_crossing_end_is_short, setup_reset),
		cmocka_unit_test_setup(test_bad_pointer_efault, setup_reset),
		cmocka_unit_test_setup(test_zero_length_read_write_return_0, setup_reset),
		cmocka_unit_test_setup(test_stats_count_bytes, setup_reset),
		cmocka_unit_test_setup(test_libaio_round_trip, setup_reset),
		cmocka_unit_test_setup(test_libaio_round_trip_with_latency, setup_reset),
		cmocka_unit_test_setup(test_io_uring_round_trip, setup_reset),
		cmocka_unit_test_setup(test_io_uring_round_trip_with_latency, setup_reset),
		cmocka_unit_test_setup(test_rwf_nowait, setup_reset),
		cmocka_unit_test_setup(test_flush_enotty, setup_reset),
		cmocka_unit_test_setup(test_produce_hz_einval, setup_reset),
	};

	return cmocka_run_group_tests_name("asyncmem", tests, NULL, teardown_reset);
}
