/*
 * Short transfers (ASYNCDEV_IOC_SET_SHORT): a chosen byte count or fraction,
 * every Nth or with a probability, on reads and writes of both nodes and
 * every path (read/write, io_submit, io_uring); the bytes moved are exactly
 * the ones reported; a shortened FIFO write is never interleaved with
 * another writer's.
 */
#include "guest_aio.h"
#include "guest_faults.h"

#include <liburing.h>

static void fill(char *b, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (char)(seed + i * 7);
}

/* bytes=100: a 1000-byte pread returns 100, and moved exactly those. */
static void test_mem_bytes_read_write(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	char in[1000], out[1000];

	(void)state;
	fill(in, sizeof(in), 1);
	assert_int_equal(pwrite(fd, in, sizeof(in), 0), sizeof(in));
	set_short(fd, ASYNCDEV_DIR_BOTH, 1, 0, 100, 0);
	memset(out, 0, sizeof(out));
	assert_int_equal(pread(fd, out, sizeof(out), 0), 100);
	assert_memory_equal(out, in, 100);
	assert_int_equal(out[100], 0);
	/* A request no larger than bytes is whole. */
	assert_int_equal(pread(fd, out, 50, 0), 50);
	/* A short write stores its prefix only. */
	fill(in, sizeof(in), 9);
	assert_int_equal(pwrite(fd, in, sizeof(in), 0), 100);
	set_short(fd, 0, 0, 0, 0, 0);
	assert_int_equal(pread(fd, out, sizeof(out), 0), sizeof(out));
	assert_memory_equal(out, in, 100);
	assert_memory_not_equal(out + 100, in + 100, 900);
	close(fd);
}

/* permille=250 on every 3rd read; the file offset advances by what moved. */
static void test_mem_fraction_every_third(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	char b[400];

	(void)state;
	set_short(fd, ASYNCDEV_DIR_READ, 3, 0, 0, 250);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(read(fd, b, sizeof(b)), 400);
	assert_int_equal(read(fd, b, sizeof(b)), 400);
	assert_int_equal(read(fd, b, sizeof(b)), 100);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 900);
	/* Writes are not concerned. */
	assert_int_equal(write(fd, b, sizeof(b)), 400);
	assert_int_equal(read(fd, b, sizeof(b)), 400);
	close(fd);
}

/* io_submit and io_uring report the short count, with and without latency. */
static void test_async_paths_short(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	io_context_t ctx = ctx_new(4);
	struct iocb cb, *p = &cb;
	struct io_event ev;
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	char b[512];

	(void)state;
	set_short(fd, ASYNCDEV_DIR_BOTH, 1, 0, 0, 500);
	for (int lat = 0; lat < 2; lat++) {
		if (lat)
			node_config(fd, 1000000, 0, 4, 0);
		io_prep_pread(&cb, fd, b, sizeof(b), 0);
		assert_int_equal(io_submit(ctx, 1, &p), 1);
		assert_int_equal(get_events(ctx, 1, 1, &ev, 2000), 1);
		assert_int_equal(ev.res, 256);
		io_prep_pwrite(&cb, fd, b, sizeof(b), 0);
		assert_int_equal(io_submit(ctx, 1, &p), 1);
		assert_int_equal(get_events(ctx, 1, 1, &ev, 2000), 1);
		assert_int_equal(ev.res, 256);

		assert_int_equal(io_uring_queue_init(4, &ring, 0), 0);
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_read(sqe, fd, b, sizeof(b), 0);
		io_uring_sqe_set_data64(sqe, 0);
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_write(sqe, fd, b, 300, 0);
		io_uring_sqe_set_data64(sqe, 1);
		sqe->flags |= IOSQE_ASYNC;	/* the io-wq path too */
		assert_int_equal(io_uring_submit(&ring), 2);
		for (int i = 0; i < 2; i++) {
			assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
			assert_int_equal(cqe->res,
					 cqe->user_data ? 150 : 256);
			io_uring_cqe_seen(&ring, cqe);
		}
		io_uring_queue_exit(&ring);
	}
	io_destroy(ctx);
	close(fd);
}

/* The FIFO: short reads and writes, sync and io_submit; data in order. */
static void test_fifo_short(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR);
	io_context_t ctx = ctx_new(4);
	struct iocb cb, *p = &cb;
	struct io_event ev;
	char in[3000], out[3000];

	(void)state;
	fill(in, sizeof(in), 3);
	set_short(fd, ASYNCDEV_DIR_WRITE, 2, 0, 1000, 0);
	assert_int_equal(write(fd, in, 1500), 1500);		/* 1st: whole */
	assert_int_equal(write(fd, in + 1500, 1500), 1000);	/* 2nd: short */
	assert_int_equal(fifo_level(fd), 2500);
	set_short(fd, ASYNCDEV_DIR_READ, 1, 0, 0, 100);
	assert_int_equal(read(fd, out, 2500), 250);
	io_prep_pread(&cb, fd, out + 250, 2000, 0);
	assert_int_equal(io_submit(ctx, 1, &p), 1);
	assert_int_equal(get_events(ctx, 1, 1, &ev, 2000), 1);
	assert_int_equal(ev.res, 200);
	set_short(fd, 0, 0, 0, 0, 0);
	assert_int_equal(read(fd, out + 450, sizeof(out) - 450), 2050);
	assert_memory_equal(out, in, 2500);
	io_destroy(ctx);
	close(fd);
}

/*
 * Two writers of 4000-byte records of their own letter, every write cut to
 * 1000 bytes: each piece is stored whole, so every run of one letter in the
 * FIFO is a multiple of 1000 bytes.
 */
static void test_fifo_short_writes_never_interleave(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR);
	static char out[FIFO_BYTES];
	size_t got = 0, expect = 0;
	int pipes[2];
	pid_t pid[2];

	(void)state;
	set_seed(fd, 7);
	set_short(fd, ASYNCDEV_DIR_WRITE, 1, 0, 1000, 0);
	assert_int_equal(pipe(pipes), 0);
	for (int w = 0; w < 2; w++) {
		pid[w] = fork();
		assert_true(pid[w] >= 0);
		if (pid[w] == 0) {
			char rec[4000];
			size_t total = 0;

			memset(rec, 'A' + w, sizeof(rec));
			for (int i = 0; i < 12; i++) {
				ssize_t r = write(fd, rec, sizeof(rec));

				if (r != 1000)
					_exit(10);
				total += (size_t)r;
			}
			(void)!write(pipes[1], &total, sizeof(total));
			_exit(0);
		}
	}
	for (int w = 0; w < 2; w++) {
		size_t t;

		wait_child_ok(pid[w]);
		assert_int_equal(read(pipes[0], &t, sizeof(t)), sizeof(t));
		expect += t;
	}
	set_short(fd, 0, 0, 0, 0, 0);
	while (got < expect) {
		ssize_t r = read(fd, out + got, sizeof(out) - got);

		assert_true(r > 0);
		got += (size_t)r;
	}
	for (size_t i = 0; i < got;) {
		size_t j = i;

		while (j < got && out[j] == out[i])
			j++;
		if ((j - i) % 1000)
			fail_msg("run of %zu '%c' at %zu: interleaved", j - i,
				 out[i], i);
		i = j;
	}
	close(pipes[0]);
	close(pipes[1]);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mem_bytes_read_write,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_mem_fraction_every_third,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_async_paths_short,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_fifo_short,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_fifo_short_writes_never_interleave,
						setup_reset, teardown_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
