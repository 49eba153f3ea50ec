/*
 * Readiness on /dev/asyncdev as a pipe gives it: O_NONBLOCK never sleeps,
 * poll answers by open mode and for the events asked, counts the room a
 * writer has reserved, wakes EPOLLET and multishot pollers on every write,
 * and never loses a wakeup.
 */
#include "guest.h"
#include "guest_uffd.h"

#include <libaio.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/uio.h>

static double ms_since(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e6;
}

/* O_NONBLOCK on an empty FIFO: EAGAIN now, not after the service time. */
static void test_nonblock_read_of_empty_fifo_does_not_sleep(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR | O_NONBLOCK);
	char b[4];
	uint64_t t0;

	(void)state;
	node_config(fd, 500000000, 0, 1, 0);	/* 500 ms */
	t0 = now_ns();
	errno = 0;
	assert_int_equal(read(fd, b, sizeof(b)), -1);
	assert_int_equal(errno, EAGAIN);
	printf("# O_NONBLOCK read, empty FIFO, 500 ms latency: EAGAIN after %.1f ms\n",
	       ms_since(t0));
	assert_true(ms_since(t0) < 250);
	node_config(fd, 0, 0, 1, 0);
	close(fd);
}

/*
 * With data or room there, a non-blocking call moves it at once: poll said
 * the fd was ready, so the call must not block for a channel or the
 * service time either.
 */
static void test_nonblock_calls_never_wait_for_service_time(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR | O_NONBLOCK);
	struct iovec v;
	char b[4];
	uint64_t t0;

	(void)state;
	node_config(fd, 500000000, 0, 1, 0);
	t0 = now_ns();
	assert_int_equal(write(fd, "abc", 3), 3);
	assert_int_equal(read(fd, b, 1), 1);
	v = (struct iovec){ b + 1, 2 };
	assert_int_equal(preadv2(fd, &v, 1, -1, RWF_NOWAIT), 2);
	assert_memory_equal(b, "abc", 3);
	printf("# O_NONBLOCK write + read + RWF_NOWAIT read, 500 ms latency: %.1f ms\n",
	       ms_since(t0));
	assert_true(ms_since(t0) < 250);
	node_config(fd, 0, 0, 1, 0);
	close(fd);
}

static short poll1(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	assert_true(poll(&p, 1, 0) >= 0);
	return p.revents;
}

/* As pipe_poll: POLLIN only for readers, POLLOUT only for writers. */
static void test_poll_reports_by_open_mode(void **state)
{
	int rw = open_node(FIFO_PATH, O_RDWR);
	int rd = open_node(FIFO_PATH, O_RDONLY);
	int wr = open_node(FIFO_PATH, O_WRONLY);

	(void)state;
	assert_int_equal(write(rw, "x", 1), 1);
	assert_int_equal(poll1(rw, POLLIN | POLLOUT), POLLIN | POLLOUT);
	assert_int_equal(poll1(rd, POLLIN | POLLOUT), POLLIN);
	assert_int_equal(poll1(wr, POLLIN | POLLOUT), POLLOUT);
	close(rw);
	close(rd);
	close(wr);
}

/*
 * An aio poll (IOCB_CMD_POLL) accepts a single wait queue: on an O_RDWR fd
 * asking for POLLIN, poll must wait only on the readers' queue.
 */
static void test_aio_poll_on_rdwr_fd(void **state)
{
	struct iocb cb = { 0 }, *pcb = &cb;
	struct io_event ev;
	struct timespec ts = { 5, 0 };
	io_context_t ctx = 0;
	int fd = open_node(FIFO_PATH, O_RDWR);
	int r;

	(void)state;
	assert_int_equal(io_setup(1, &ctx), 0);
	io_prep_poll(&cb, fd, POLLIN);
	r = io_submit(ctx, 1, &pcb);
	if (r != 1)
		fail_msg("io_submit(IOCB_CMD_POLL, POLLIN) on O_RDWR: %d (%s)", r,
			 strerror(-r));
	assert_int_equal(io_getevents(ctx, 0, 1, &ev, &(struct timespec){ 0, 0 }), 0);
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(io_getevents(ctx, 1, 1, &ev, &ts), 1);
	assert_true(ev.res & POLLIN);
	io_destroy(ctx);
	close(fd);
}

struct held_writer {
	int fd;
	char *src;
	ssize_t ret;
};

static void *held_write(void *arg)
{
	struct held_writer *w = arg;

	w->ret = write(w->fd, w->src, 4096);
	return NULL;
}

/*
 * POLLOUT means a 4096-byte write would not block: room that a writer has
 * reserved (it is copying into it) is not room. The writer's copy is held
 * by userfaultfd while poll looks.
 */
static void test_pollout_counts_reserved_room(void **state)
{
	static char fill[FIFO_BYTES - 4096];
	int fd = open_node(FIFO_PATH, O_RDWR);
	struct held_writer w = { .fd = fd };
	struct uffdio_zeropage zp;
	struct uffd_msg msg;
	pthread_t t;
	short held;
	int uffd;

	(void)state;
	w.src = uffd_pages(&uffd, 2);
	write_all(fd, fill, sizeof(fill));
	assert_int_equal(poll1(fd, POLLOUT), POLLOUT);	/* exactly 4096 left */
	assert_int_equal(pthread_create(&t, NULL, held_write, &w), 0);
	assert_int_equal(read(uffd, &msg, sizeof(msg)), sizeof(msg));
	/* The writer holds a reservation of all the room and is copying. */
	held = poll1(fd, POLLOUT);
	zp.range.start = (unsigned long)w.src;
	zp.range.len = 2 * (unsigned long)sysconf(_SC_PAGESIZE);
	zp.mode = 0;
	assert_int_equal(ioctl(uffd, UFFDIO_ZEROPAGE, &zp), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(held, 0);
	assert_int_equal(w.ret, 4096);
	assert_int_equal(fifo_level(fd), FIFO_BYTES);
	close(uffd);
	close(fd);
}

/* EPOLLET: one event per write, even when the reader has not read yet. */
static void test_epollet_gets_an_event_per_write(void **state)
{
	int rd = open_node(FIFO_PATH, O_RDONLY | O_NONBLOCK);
	int wr = open_node(FIFO_PATH, O_WRONLY);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	(void)state;
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, rd, &ev), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(write(wr, "x", 1), 1);
		assert_int_equal(epoll_wait(ep, &ev, 1, 2000), 1);
		assert_true(ev.events & EPOLLIN);
		assert_int_equal(epoll_wait(ep, &ev, 1, 0), 0);
	}
	assert_int_equal(fifo_level(rd), 3);
	close(ep);
	close(rd);
	close(wr);
}

/* io_uring multishot poll (liburing's multicqes_drain): a CQE per write. */
static void test_uring_multishot_poll_gets_a_cqe_per_write(void **state)
{
	int rd = open_node(FIFO_PATH, O_RDONLY | O_NONBLOCK);
	int wr = open_node(FIFO_PATH, O_WRONLY);
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct __kernel_timespec ts = { 2, 0 };

	(void)state;
	assert_int_equal(io_uring_queue_init(8, &ring, 0), 0);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_poll_multishot(sqe, rd, POLLIN);
	assert_int_equal(io_uring_submit(&ring), 1);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(write(wr, "y", 1), 1);
		if (io_uring_wait_cqe_timeout(&ring, &cqe, &ts))
			fail_msg("no CQE for write %d of 4 (%zu bytes in the FIFO)",
				 i + 1, fifo_level(rd));
		assert_true(cqe->res & POLLIN);
		assert_true(cqe->flags & IORING_CQE_F_MORE);
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	close(rd);
	close(wr);
}

/*
 * A lost wakeup hangs this: an EPOLLET reader that drains until EAGAIN and
 * a writer that blocks when the FIFO is full can only both finish if every
 * wakeup arrives. 4-KiB-sized writes keep the FIFO crossing full and empty.
 */
static void test_epollet_stress_never_loses_a_wakeup(void **state)
{
	enum { TOTAL = 8 << 20 };
	int rd = open_node(FIFO_PATH, O_RDONLY | O_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	int ep = epoll_create1(EPOLL_CLOEXEC);
	static char buf[16384];
	size_t got = 0;
	uint64_t t0;
	pid_t pid;
	int rc;

	(void)state;
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, rd, &ev), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int wr = open_node(FIFO_PATH, O_WRONLY);
		static char out[4093];

		for (size_t sent = 0; sent < TOTAL;) {
			size_t n = sent + sizeof(out) > TOTAL ? TOTAL - sent : sizeof(out);

			if (write(wr, out, n) != (ssize_t)n)
				_exit(1);
			sent += n;
		}
		_exit(0);
	}
	while (got < TOTAL) {
		ssize_t n = read(rd, buf, sizeof(buf));

		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN)
			fail_msg("read after %zu of %d bytes: %zd, %s", got, TOTAL,
				 n, strerror(errno));
		if (n == 0)
			fail_msg("read after %zu of %d bytes returned 0 (EOF)",
				 got, TOTAL);
		t0 = now_ns();
		rc = epoll_wait(ep, &ev, 1, 10000);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc != 1) {
			int e = errno, status = 0;
			pid_t w = waitpid(pid, &status, WNOHANG);

			fail_msg("EPOLLET reader: epoll_wait returned %d (%s) after "
				 "%.1f ms with %zu of %d bytes read, %zu in the FIFO; "
				 "writer %s (status %#x): lost wakeup", rc,
				 rc < 0 ? strerror(e) : "timeout",
				 (double)(now_ns() - t0) / 1e6, got, TOTAL,
				 fifo_level(rd), w == pid ? "exited" : "running",
				 status);
		}
	}
	wait_child_ok(pid);
	close(ep);
	close(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_nonblock_read_of_empty_fifo_does_not_sleep, setup_reset),
		cmocka_unit_test_setup(test_nonblock_calls_never_wait_for_service_time, setup_reset),
		cmocka_unit_test_setup(test_poll_reports_by_open_mode, setup_reset),
		cmocka_unit_test_setup(test_aio_poll_on_rdwr_fd, setup_reset),
		cmocka_unit_test_setup(test_pollout_counts_reserved_room, setup_reset),
		cmocka_unit_test_setup(test_epollet_gets_an_event_per_write, setup_reset),
		cmocka_unit_test_setup(test_uring_multishot_poll_gets_a_cqe_per_write, setup_reset),
		cmocka_unit_test_setup(test_epollet_stress_never_loses_a_wakeup, setup_reset),
	};

	return cmocka_run_group_tests_name("fifo_readiness", tests, NULL, teardown_reset);
}
