/*
 * Stalls (ASYNCDEV_IOC_SET_STALL): a stalled request moves nothing and does
 * not complete on its own. io_cancel completes an io_submit one with
 * -ECANCELED, closing its file with -EIO; a blocking read(2) returns -EIO on
 * close and EINTR on a signal; O_NONBLOCK and RWF_NOWAIT get EAGAIN;
 * io_uring's cancel reaches one; a process exiting with stalled requests of
 * every kind exits promptly and leaves nothing in flight.
 */
#include "guest_aio.h"
#include "guest_faults.h"

#include <liburing.h>
#include <pthread.h>
#include <sys/uio.h>

static void prep_pread(struct iocb *cb, int fd, void *buf, size_t n,
		       long long off, void *tag)
{
	io_prep_pread(cb, fd, buf, n, off);
	cb->data = tag;
}

static int ev_index(struct io_event *ev, struct iocb *cbs)
{
	return (int)((struct iocb *)ev->obj - cbs);
}

/* Every 2nd read stalls: 2 of 4 complete; cancel one, close for the other. */
static void test_aio_every_second_cancel_and_close(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	io_context_t ctx = ctx_new(8);
	struct iocb cbs[4], *p[4];
	struct io_event ev[4];
	char buf[4][64];
	int r, done[4] = { 0 };

	(void)state;
	set_stall(fd, ASYNCDEV_DIR_READ, 2, 0);
	for (int i = 0; i < 4; i++) {
		prep_pread(&cbs[i], fd, buf[i], sizeof(buf[i]), 0, NULL);
		p[i] = &cbs[i];
	}
	assert_int_equal(io_submit(ctx, 4, p), 4);
	r = get_events(ctx, 2, 4, ev, 1000);
	assert_int_equal(r, 2);
	for (int i = 0; i < r; i++) {
		assert_int_equal(ev[i].res, 64);
		done[ev_index(&ev[i], cbs)] = 1;
	}
	/* The 1st and 3rd completed, the 2nd and 4th stall. */
	assert_int_equal(done[0] + done[2], 2);
	assert_int_equal(get_events(ctx, 1, 4, ev, 300), 0);
	assert_int_equal(node_stats(fd).in_flight, 2);

	r = io_cancel(ctx, &cbs[1], &ev[0]);
	assert_true(r == 0 || r == -EINPROGRESS);
	assert_int_equal(get_events(ctx, 1, 4, ev, 1000), 1);
	assert_ptr_equal(ev[0].obj, &cbs[1]);
	assert_int_equal((long)ev[0].res, -ECANCELED);

	/* Closing the file (.flush) fails the last one with EIO. */
	close(fd);
	assert_int_equal(get_events(ctx, 1, 4, ev, 1000), 1);
	assert_ptr_equal(ev[0].obj, &cbs[3]);
	assert_int_equal((long)ev[0].res, -EIO);
	io_destroy(ctx);
	fd = open_node(MEM_PATH, O_RDWR);
	assert_int_equal(node_stats(fd).in_flight, 0);
	close(fd);
}

/* A stalled FIFO write stores nothing; io_destroy does not wait for it. */
static void test_aio_fifo_write_stall_destroy(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR);
	io_context_t ctx = ctx_new(4);
	struct iocb cb, *p = &cb;
	char msg[100] = "stalled write";
	uint64_t t0;

	(void)state;
	set_stall(fd, ASYNCDEV_DIR_WRITE, 1, 0);
	io_prep_pwrite(&cb, fd, msg, sizeof(msg), 0);
	assert_int_equal(io_submit(ctx, 1, &p), 1);
	sleep_ms(100);
	assert_int_equal(fifo_level(fd), 0);
	assert_int_equal(node_stats(fd).in_flight, 1);
	t0 = now_ns();
	assert_int_equal(io_destroy(ctx), 0);
	assert_true(now_ns() - t0 < 2000000000ull);
	assert_int_equal(node_stats(fd).in_flight, 0);
	/* Reads are not concerned: the FIFO works. */
	set_stall(fd, 0, 0, 0);
	write_all(fd, msg, 10);
	assert_int_equal(read(fd, msg, sizeof(msg)), 10);
	close(fd);
}

struct reader {
	int fd;
	int fifo;
	ssize_t ret;
	int err;
	int done;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;
	char b[16];

	r->ret = r->fifo ? read(r->fd, b, sizeof(b)) :
			   pread(r->fd, b, sizeof(b), 0);
	r->err = errno;
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int wait_done(struct reader *r, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
			return 1;
		sleep_ms(10);
	}
	return __atomic_load_n(&r->done, __ATOMIC_ACQUIRE);
}

/* A blocking read stalls until the file is closed: then EIO. */
static void test_sync_read_stalls_until_close(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	int fd2 = dup(fd);
	struct reader r = { .fd = fd2 };
	pthread_t t;

	(void)state;
	set_stall(fd, ASYNCDEV_DIR_READ, 1, 0);
	assert_int_equal(pthread_create(&t, NULL, reader_fn, &r), 0);
	assert_false(wait_done(&r, 300));
	/* Any close of the file releases it (fd2 stays valid in the read). */
	close(fd);
	assert_true(wait_done(&r, 2000));
	pthread_join(t, NULL);
	assert_int_equal(r.ret, -1);
	assert_int_equal(r.err, EIO);
	close(fd2);
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* A signal (no SA_RESTART) interrupts a stalled read: EINTR. */
static void test_sync_read_stall_signal(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR);
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct reader r = { .fd = fd, .fifo = 1 };
	pthread_t t;

	(void)state;
	sigaction(SIGUSR1, &sa, NULL);
	set_stall(fd, ASYNCDEV_DIR_READ, 1, 0);
	write_all(fd, "data", 4);	/* data is there: it still stalls */
	assert_int_equal(pthread_create(&t, NULL, reader_fn, &r), 0);
	assert_false(wait_done(&r, 300));
	pthread_kill(t, SIGUSR1);
	assert_true(wait_done(&r, 2000));
	pthread_join(t, NULL);
	assert_int_equal(r.ret, -1);
	assert_int_equal(r.err, EINTR);
	assert_int_equal(fifo_level(fd), 4);
	close(fd);
}

/* Calls that must not block never stall: EAGAIN. */
static void test_nonblocking_stall_eagain(void **state)
{
	int ffd = open_node(FIFO_PATH, O_RDWR | O_NONBLOCK);
	int mfd = open_node(MEM_PATH, O_RDWR);
	char b[8] = "abcdefg";
	struct iovec iov = { b, sizeof(b) };

	(void)state;
	set_stall(ffd, ASYNCDEV_DIR_BOTH, 1, 0);
	set_stall(mfd, ASYNCDEV_DIR_BOTH, 1, 0);
	errno = 0;
	assert_int_equal(write(ffd, b, sizeof(b)), -1);
	assert_int_equal(errno, EAGAIN);
	errno = 0;
	assert_int_equal(preadv2(mfd, &iov, 1, 0, RWF_NOWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	close(ffd);
	close(mfd);
}

/* io_uring: a stalled read waits in io-wq; IORING_OP_ASYNC_CANCEL ends it. */
static void test_uring_stall_cancel(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { 0, 300000000 };
	char b[32];
	int got_read = 0, got_cancel = 0;

	(void)state;
	set_stall(fd, ASYNCDEV_DIR_READ, 1, 0);
	assert_int_equal(io_uring_queue_init(4, &ring, 0), 0);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, fd, b, sizeof(b), 0);
	io_uring_sqe_set_data64(sqe, 1);
	assert_int_equal(io_uring_submit(&ring), 1);
	assert_int_equal(io_uring_wait_cqe_timeout(&ring, &cqe, &ts), -ETIME);

	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_cancel64(sqe, 1, 0);
	io_uring_sqe_set_data64(sqe, 2);
	assert_int_equal(io_uring_submit(&ring), 1);
	for (int i = 0; i < 2; i++) {
		ts.tv_sec = 2;
		ts.tv_nsec = 0;
		assert_int_equal(io_uring_wait_cqe_timeout(&ring, &cqe, &ts), 0);
		if (cqe->user_data == 1) {
			assert_true(cqe->res == -EINTR || cqe->res == -ECANCELED);
			got_read = 1;
		} else {
			got_cancel = 1;
		}
		io_uring_cqe_seen(&ring, cqe);
	}
	assert_true(got_read && got_cancel);
	io_uring_queue_exit(&ring);
	assert_int_equal(node_stats(fd).in_flight, 0);
	close(fd);
}

static void *block_read(void *arg)
{
	char b[8];

	(void)!pread(*(int *)arg, b, sizeof(b), 0);
	return NULL;
}

/*
 * A process exiting with stalled requests of every kind (io_submit,
 * io_uring, a blocking read in a thread) on both nodes exits promptly, and
 * nothing stays in flight.
 */
static void test_exit_with_stalled_requests(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	int ffd = open_node(FIFO_PATH, O_RDWR);
	uint64_t t0;
	pid_t pid;
	int st;

	(void)state;
	set_stall(fd, ASYNCDEV_DIR_BOTH, 1, 0);
	set_stall(ffd, ASYNCDEV_DIR_BOTH, 1, 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static char b[4][16];
		io_context_t ctx = 0;
		struct iocb cb[2], *p[2] = { &cb[0], &cb[1] };
		struct io_uring ring;
		struct io_uring_sqe *sqe;
		pthread_t t;

		if (io_setup(4, &ctx))
			_exit(2);
		io_prep_pread(&cb[0], fd, b[0], 16, 0);
		io_prep_pwrite(&cb[1], ffd, b[1], 16, 0);
		if (io_submit(ctx, 2, p) != 2)
			_exit(3);
		if (io_uring_queue_init(4, &ring, 0))
			_exit(4);
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_read(sqe, ffd, b[2], 16, 0);
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_write(sqe, fd, b[3], 16, 0);
		if (io_uring_submit(&ring) != 2)
			_exit(5);
		pthread_create(&t, NULL, block_read, &fd);
		sleep_ms(300);
		_exit(0);
	}
	t0 = now_ns();
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_true(now_ns() - t0 < 5000000000ull);
	/* Completions run from timers and io_uring's exit work: settle. */
	for (int i = 0; i < 100 && (node_stats(fd).in_flight ||
				    node_stats(ffd).in_flight); i++)
		sleep_ms(20);
	assert_int_equal(node_stats(fd).in_flight, 0);
	assert_int_equal(node_stats(ffd).in_flight, 0);
	close(fd);
	close(ffd);
}

/* Probability mode: about ppm of requests stall (p = 0.5, 64 requests). */
static void test_ppm_stalls_some(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	io_context_t ctx = ctx_new(64);
	struct iocb cbs[64], *p[64];
	struct io_event ev[64];
	static char buf[64][8];
	int r;

	(void)state;
	set_seed(fd, 42);
	set_stall(fd, ASYNCDEV_DIR_READ, 0, 500000);
	for (int i = 0; i < 64; i++) {
		prep_pread(&cbs[i], fd, buf[i], 8, 0, NULL);
		p[i] = &cbs[i];
	}
	assert_int_equal(io_submit(ctx, 64, p), 64);
	r = get_events(ctx, 1, 64, ev, 500);
	/* Binomial(64, 0.5): outside [12, 52] has probability < 1e-6. */
	assert_true(r >= 12 && r <= 52);
	assert_int_equal(node_stats(fd).in_flight, 64 - r);
	io_destroy(ctx);
	assert_int_equal(node_stats(fd).in_flight, 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_aio_every_second_cancel_and_close,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_aio_fifo_write_stall_destroy,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_sync_read_stalls_until_close,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_sync_read_stall_signal,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_nonblocking_stall_eagain,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_uring_stall_cancel,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_exit_with_stalled_requests,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_ppm_stalls_some,
						setup_reset, teardown_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
