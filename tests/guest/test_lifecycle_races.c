/*
 * Races between completion and the ways a request or a subscription ends:
 * io_cancel against a writer completing the same reads, O_ASYNC toggled
 * while signals are being raised, an owner that has exited, and close while
 * another thread waits in read().
 */
#include "guest.h"

#include <libaio.h>
#include <pthread.h>

enum { N = 512 };

struct feeder {
	int fd;
	int count;
};

static void *feed(void *p)
{
	struct feeder *f = p;

	for (int i = 0; i < f->count; i++) {
		if (write(f->fd, "x", 1) != 1)
			break;
		if (i % 16 == 0)
			sched_yield();
	}
	return NULL;
}

/* Every request completes exactly once: with 1 byte or -ECANCELED. */
static void test_cancel_races_completion(void **state)
{
	static struct iocb cbs[N];
	static char bufs[N][1];
	struct iocb *ptrs[N];
	struct io_event ev[N];
	struct feeder f;
	io_context_t ctx = 0;
	pthread_t t;
	int fd = open_node(FIFO_PATH, O_RDWR);
	int got = 0, data = 0, cancelled = 0;

	(void)state;
	assert_int_equal(io_setup(N, &ctx), 0);
	for (int i = 0; i < N; i++) {
		io_prep_pread(&cbs[i], fd, bufs[i], 1, 0);
		ptrs[i] = &cbs[i];
	}
	assert_int_equal(io_submit(ctx, N, ptrs), N);
	f = (struct feeder){ .fd = fd, .count = N / 2 };
	assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
	for (int i = N - 1; i >= 0; i--) {
		struct io_event tmp;
		int r = io_cancel(ctx, &cbs[i], &tmp);

		assert_true(r == -EINPROGRESS || r == -EINVAL || r == -EAGAIN);
	}
	pthread_join(t, NULL);
	while (got < N) {
		struct timespec ts = { 5, 0 };
		int r = io_getevents(ctx, 1, N - got, ev, &ts);

		assert_true(r > 0);
		for (int i = 0; i < r; i++) {
			long res = (long)ev[i].res;

			assert_true(res == 1 || res == -ECANCELED);
			data += res == 1;
			cancelled += res == -ECANCELED;
		}
		got += r;
	}
	printf("# %d reads: %d completed with data, %d cancelled, %zu bytes left\n",
	       N, data, cancelled, fifo_level(fd));
	/* No byte is lost or served twice. */
	assert_int_equal((size_t)data + fifo_level(fd), N / 2);
	assert_int_equal(io_destroy(ctx), 0);
	assert_int_equal(node_stats(fd).in_flight, 0);
	close(fd);
}

struct toggler {
	int fd;
	volatile int stop;
};

static void *toggle_async(void *p)
{
	struct toggler *t = p;
	int fl = fcntl(t->fd, F_GETFL);

	while (!t->stop) {
		fcntl(t->fd, F_SETFL, fl | O_ASYNC);
		fcntl(t->fd, F_SETFL, fl & ~O_ASYNC);
	}
	return NULL;
}

static void test_fasync_toggle_races_signals(void **state)
{
	struct toggler tg;
	pthread_t t;
	sigset_t set;
	siginfo_t si;
	struct timespec zero = { 0, 0 };
	char b[64];
	int fd = open_node(FIFO_PATH, O_RDWR | O_NONBLOCK);

	(void)state;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	assert_int_equal(fcntl(fd, F_SETOWN, getpid()), 0);
	assert_int_equal(fcntl(fd, F_SETSIG, SIGRTMIN + 2), 0);
	tg = (struct toggler){ .fd = fd };
	assert_int_equal(pthread_create(&t, NULL, toggle_async, &tg), 0);
	for (int i = 0; i < 20000; i++) {
		assert_int_equal(write(fd, "y", 1), 1);
		assert_int_equal(read(fd, b, sizeof(b)), 1);
		while (sigtimedwait(&set, &si, &zero) > 0)
			assert_int_equal(si.si_fd, fd);
	}
	tg.stop = 1;
	pthread_join(t, NULL);
	close(fd);
	while (sigtimedwait(&set, &si, &zero) > 0)
		;
}

/* The owner has exited: raising SIGIO must neither crash nor signal us. */
static void test_owner_exited(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR | O_NONBLOCK);
	int go[2];
	char b[8];
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid)
		_exit(read(go[0], b, 1) == 1 ? 0 : 1);
	assert_int_equal(fcntl(fd, F_SETOWN, pid), 0);
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC), 0);
	assert_int_equal(write(go[1], "x", 1), 1);
	wait_child_ok(pid);	/* the owner is gone and reaped */
	for (int i = 0; i < 100; i++) {
		assert_int_equal(write(fd, "z", 1), 1);
		assert_int_equal(read(fd, b, sizeof(b)), 1);
	}
	close(go[0]);
	close(go[1]);
	close(fd);
}

struct blocked {
	int fd;
	ssize_t r;
	int err;
};

static void *blocked_read(void *p)
{
	struct blocked *b = p;
	char c;

	b->r = read(b->fd, &c, 1);
	b->err = errno;
	return NULL;
}

/* close() while another thread sleeps in read(): the reader still gets data. */
static void test_close_while_reader_sleeps(void **state)
{
	struct blocked b = { .fd = open_node(FIFO_PATH, O_RDWR) };
	int w = open_node(FIFO_PATH, O_RDWR);
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, blocked_read, &b), 0);
	sleep_ms(100);
	assert_int_equal(close(b.fd), 0);	/* the sleeping read holds the file */
	assert_int_equal(write(w, "q", 1), 1);
	pthread_join(t, NULL);
	assert_int_equal(b.r, 1);
	close(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cancel_races_completion, setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_fasync_toggle_races_signals, setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_owner_exited, setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_close_while_reader_sleeps, setup_reset, teardown_reset),
	};

	return cmocka_run_group_tests_name("lifecycle_races", tests, NULL, NULL);
}
