/*
 * io_submit on /dev/asyncdev: requests that cannot be served are queued
 * (io_submit does not block), complete when data or room arrives, in arrival
 * order with synchronous callers, and can be cancelled; io_destroy, close,
 * exit and kill -9 with thousands queued return promptly.
 */
#include "guest_aio.h"

#include <pthread.h>
#include <sys/uio.h>

static void submit1(io_context_t ctx, struct iocb *cb)
{
	struct iocb *cbs[1] = { cb };

	assert_int_equal(io_submit(ctx, 1, cbs), 1);
}

static void test_read_queued_on_empty_completes_on_write(void **state)
{
	char buf[64] = { 0 };
	struct iocb cb;
	struct io_event ev;
	io_context_t ctx = ctx_new(8);
	int fd = open_node(FIFO_PATH, O_RDWR);
	uint64_t t0;

	(void)state;
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	t0 = now_ns();
	submit1(ctx, &cb);
	assert_true(now_ns() - t0 < 100000000u);	/* did not block */
	assert_int_equal(get_events(ctx, 0, 1, &ev, 0), 0);
	assert_int_equal(node_stats(fd).in_flight, 1);
	assert_int_equal(write(fd, "async!", 6), 6);
	assert_int_equal(get_events(ctx, 1, 1, &ev, 5000), 1);
	assert_ptr_equal(ev.obj, &cb);
	assert_int_equal((long)ev.res, 6);
	assert_memory_equal(buf, "async!", 6);
	assert_int_equal(node_stats(fd).in_flight, 0);
	io_destroy(ctx);
	close(fd);
}

static void test_read_served_at_once_when_data(void **state)
{
	char buf[100];
	struct iocb cb;
	struct io_event ev;
	io_context_t ctx = ctx_new(8);
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	assert_int_equal(write(fd, "0123456789", 10), 10);
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	submit1(ctx, &cb);
	assert_int_equal(get_events(ctx, 1, 1, &ev, 5000), 1);
	assert_int_equal((long)ev.res, 10);	/* partial, as read(2) */
	assert_memory_equal(buf, "0123456789", 10);
	io_destroy(ctx);
	close(fd);
}

static void test_vectored_read_queued(void **state)
{
	char a[3], b[5];
	struct iovec v[2] = { { a, 3 }, { b, 5 } };
	struct iocb cb;
	struct io_event ev;
	io_context_t ctx = ctx_new(8);
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	io_prep_preadv(&cb, fd, v, 2, 0);
	submit1(ctx, &cb);
	/* The iovec array is gone from the kernel's view once io_submit
	 * returned; overwrite ours to prove the driver kept its own copy. */
	struct iovec saved[2] = { v[0], v[1] };
	v[0].iov_base = NULL;
	v[1].iov_base = NULL;
	assert_int_equal(write(fd, "abcdefgh", 8), 8);
	assert_int_equal(get_events(ctx, 1, 1, &ev, 5000), 1);
	assert_int_equal((long)ev.res, 8);
	assert_memory_equal(saved[0].iov_base, "abc", 3);
	assert_memory_equal(saved[1].iov_base, "defgh", 5);
	io_destroy(ctx);
	close(fd);
}

static void test_write_queued_when_full(void **state)
{
	static char big[FIFO_BYTES];
	char page[4096];
	struct iocb cb;
	struct io_event ev;
	io_context_t ctx = ctx_new(8);
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	write_all(fd, big, sizeof(big));
	memset(page, 'w', sizeof(page));
	io_prep_pwrite(&cb, fd, page, sizeof(page), 0);
	submit1(ctx, &cb);
	assert_int_equal(get_events(ctx, 0, 1, &ev, 100), 0);
	read_all(fd, big, 8192);
	assert_int_equal(get_events(ctx, 1, 1, &ev, 5000), 1);
	assert_int_equal((long)ev.res, sizeof(page));
	read_all(fd, big, FIFO_BYTES - 8192);
	read_all(fd, big, sizeof(page));
	assert_memory_equal(big, page, sizeof(page));
	io_destroy(ctx);
	close(fd);
}

struct sync_reader {
	int fd;
	char buf[16];
	ssize_t n;
};

static void *sync_reader_fn(void *p)
{
	struct sync_reader *r = p;

	r->n = read(r->fd, r->buf, sizeof(r->buf));
	return NULL;
}

/* aio A, then a blocking read(2) B, then aio C: served A, B, C. */
static void test_mixed_sync_async_readers_in_arrival_order(void **state)
{
	char a[16], c[16];
	struct iocb cba, cbc;
	struct io_event ev[2];
	struct sync_reader b;
	pthread_t t;
	io_context_t ctx = ctx_new(8);
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	b.fd = fd;
	io_prep_pread(&cba, fd, a, sizeof(a), 0);
	submit1(ctx, &cba);
	assert_int_equal(pthread_create(&t, NULL, sync_reader_fn, &b), 0);
	sleep_ms(200);			/* B is asleep in the queue */
	io_prep_pread(&cbc, fd, c, sizeof(c), 0);
	submit1(ctx, &cbc);

	assert_int_equal(write(fd, "1", 1), 1);
	assert_int_equal(get_events(ctx, 1, 1, ev, 5000), 1);
	assert_ptr_equal(ev[0].obj, &cba);
	assert_int_equal(a[0], '1');
	assert_int_equal(write(fd, "2", 1), 1);
	pthread_join(t, NULL);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.buf[0], '2');
	assert_int_equal(write(fd, "3", 1), 1);
	assert_int_equal(get_events(ctx, 1, 1, ev, 5000), 1);
	assert_ptr_equal(ev[0].obj, &cbc);
	assert_int_equal(c[0], '3');
	io_destroy(ctx);
	close(fd);
}

static void test_cancel_queued_read(void **state)
{
	char buf[16];
	struct iocb cb;
	struct io_event ev;
	io_context_t ctx = ctx_new(8);
	int fd = open_node(FIFO_PATH, O_RDWR);
	struct asyncdev_stats before = node_stats(fd);

	(void)state;
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	submit1(ctx, &cb);
	/* The event is delivered through the ring: -EINPROGRESS here. */
	assert_int_equal(io_cancel(ctx, &cb, &ev), -EINPROGRESS);
	assert_int_equal(get_events(ctx, 1, 1, &ev, 5000), 1);
	assert_ptr_equal(ev.obj, &cb);
	assert_int_equal((long)ev.res, -ECANCELED);
	assert_int_equal(node_stats(fd).async_cancelled, before.async_cancelled + 1);
	/* A cancelled read consumed nothing and is not served later. */
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(get_events(ctx, 0, 1, &ev, 100), 0);
	assert_int_equal(fifo_level(fd), 1);
	/* Cancelling it again finds nothing. */
	assert_int_equal(io_cancel(ctx, &cb, &ev), -EINVAL);
	io_destroy(ctx);
	close(fd);
}

/* A queued read whose buffer is bad completes with -EFAULT, consuming nothing. */
static void test_queued_read_bad_buffer_efault(void **state)
{
	struct iocb cb;
	struct io_event ev;
	io_context_t ctx = ctx_new(8);
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	io_prep_pread(&cb, fd, bad_ptr(), 16, 0);
	submit1(ctx, &cb);
	assert_int_equal(write(fd, "data", 4), 4);
	assert_int_equal(get_events(ctx, 1, 1, &ev, 5000), 1);
	assert_int_equal((long)ev.res, -EFAULT);
	assert_int_equal(fifo_level(fd), 4);
	io_destroy(ctx);
	close(fd);
}

enum { MANY = 4000 };

static void submit_many_reads(io_context_t ctx, int fd, struct iocb *cbs,
			      char *buf)
{
	static struct iocb *ptrs[MANY];
	int done = 0;

	for (int i = 0; i < MANY; i++) {
		io_prep_pread(&cbs[i], fd, buf, 16, 0);
		ptrs[i] = &cbs[i];
	}
	while (done < MANY) {
		int r = io_submit(ctx, MANY - done, ptrs + done);

		if (r <= 0)
			fail_msg("io_submit: %d", r);
		done += r;
	}
}

static void wait_in_flight_zero(int fd)
{
	for (int i = 0; i < 500 && node_stats(fd).in_flight; i++)
		sleep_ms(10);
	assert_int_equal(node_stats(fd).in_flight, 0);
}

static void test_io_destroy_with_thousands_queued(void **state)
{
	static struct iocb cbs[MANY];
	static char buf[16];
	io_context_t ctx = ctx_new(MANY);
	int fd = open_node(FIFO_PATH, O_RDWR);
	uint64_t t0, dt;

	(void)state;
	submit_many_reads(ctx, fd, cbs, buf);
	assert_int_equal(node_stats(fd).in_flight, MANY);
	t0 = now_ns();
	assert_int_equal(io_destroy(ctx), 0);
	dt = now_ns() - t0;
	printf("# io_destroy with %d queued reads: %.1f ms\n", MANY, dt / 1e6);
	assert_true(dt < 3000000000u);
	wait_in_flight_zero(fd);
	close(fd);
}

static void test_close_with_thousands_queued(void **state)
{
	static struct iocb cbs[MANY];
	static char buf[16];
	io_context_t ctx = ctx_new(MANY);
	int fd = open_node(FIFO_PATH, O_RDWR);
	int mon = open_node(FIFO_PATH, O_RDONLY);
	uint64_t t0;

	(void)state;
	submit_many_reads(ctx, fd, cbs, buf);
	t0 = now_ns();
	assert_int_equal(close(fd), 0);
	assert_true(now_ns() - t0 < 1000000000u);
	/* The requests keep the file alive until io_destroy cancels them. */
	assert_int_equal(node_stats(mon).in_flight, MANY);
	assert_int_equal(io_destroy(ctx), 0);
	wait_in_flight_zero(mon);
	close(mon);
}

static void exit_with_thousands_queued(int kill9)
{
	static struct iocb cbs[MANY];
	static char buf[16];
	int mon = open_node(FIFO_PATH, O_RDONLY);
	int ready[2];
	uint64_t t0;
	pid_t pid;
	char c;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		io_context_t ctx = 0;
		int fd = open(FIFO_PATH, O_RDWR);

		if (fd < 0 || io_setup(MANY, &ctx))
			_exit(1);
		submit_many_reads(ctx, fd, cbs, buf);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		if (kill9)
			pause();
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	t0 = now_ns();
	if (kill9)
		assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	printf("# exit%s with %d queued reads: %.1f ms\n", kill9 ? " (kill -9)" : "",
	       MANY, (now_ns() - t0) / 1e6);
	assert_true(now_ns() - t0 < 5000000000u);
	wait_in_flight_zero(mon);
	close(ready[0]);
	close(ready[1]);
	close(mon);
}

static void test_exit_with_thousands_queued(void **state)
{
	(void)state;
	exit_with_thousands_queued(0);
}

static void test_kill9_with_thousands_queued(void **state)
{
	(void)state;
	exit_with_thousands_queued(1);
}

/* One file may queue max_queued requests; the next one fails with EAGAIN. */
static void test_per_file_queue_limit(void **state)
{
	static struct iocb cbs[8193];
	static struct iocb *ptrs[8193];
	static char buf[16];
	FILE *f = fopen("/sys/module/asyncdev/parameters/max_queued", "r");
	unsigned int limit = 0;
	struct io_event ev;
	io_context_t ctx;
	int fd, n = 0;

	(void)state;
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%u", &limit), 1);
	fclose(f);
	assert_true(limit < 8193);
	ctx = ctx_new((int)limit + 1);
	fd = open_node(FIFO_PATH, O_RDWR);
	for (unsigned int i = 0; i <= limit; i++) {
		io_prep_pread(&cbs[i], fd, buf, 16, 0);
		ptrs[i] = &cbs[i];
	}
	while (n < (int)limit + 1) {
		int r = io_submit(ctx, (int)limit + 1 - n, ptrs + n);

		assert_true(r > 0);
		n += r;
	}
	/* The one over the limit completed at once with -EAGAIN. */
	assert_int_equal(get_events(ctx, 1, 1, &ev, 1000), 1);
	assert_ptr_equal(ev.obj, &cbs[limit]);
	assert_int_equal((long)ev.res, -EAGAIN);
	assert_int_equal(io_destroy(ctx), 0);
	wait_in_flight_zero(fd);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_read_queued_on_empty_completes_on_write, setup_reset),
		cmocka_unit_test_setup(test_read_served_at_once_when_data, setup_reset),
		cmocka_unit_test_setup(test_vectored_read_queued, setup_reset),
		cmocka_unit_test_setup(test_write_queued_when_full, setup_reset),
		cmocka_unit_test_setup(test_mixed_sync_async_readers_in_arrival_order, setup_reset),
		cmocka_unit_test_setup(test_cancel_queued_read, setup_reset),
		cmocka_unit_test_setup(test_queued_read_bad_buffer_efault, setup_reset),
		cmocka_unit_test_setup(test_io_destroy_with_thousands_queued, setup_reset),
		cmocka_unit_test_setup(test_close_with_thousands_queued, setup_reset),
		cmocka_unit_test_setup(test_exit_with_thousands_queued, setup_reset),
		cmocka_unit_test_setup(test_kill9_with_thousands_queued, setup_reset),
		cmocka_unit_test_setup(test_per_file_queue_limit, setup_reset),
	};

	return cmocka_run_group_tests_name("aio_fifo", tests, NULL, NULL);
}
