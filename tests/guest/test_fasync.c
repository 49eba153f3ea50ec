/* SIGIO from /dev/asyncdev: content, one per I/O, owners, none after close. */
#include "guest.h"

#include <poll.h>
#include <pthread.h>
#include <sys/syscall.h>

#define RTSIG	(SIGRTMIN + 1)

static void block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, RTSIG);
	sigaddset(&set, SIGIO);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
}

/* Wait up to @ms for @sig; returns 1 and fills @si, or 0 on timeout. */
static int wait_sig(int sig, siginfo_t *si, int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	sigset_t set;
	int r;

	sigemptyset(&set);
	sigaddset(&set, sig);
	do {
		r = sigtimedwait(&set, si, &ts);
	} while (r < 0 && errno == EINTR);
	return r == sig;
}

static void drain_signals(void)
{
	siginfo_t si;

	while (wait_sig(RTSIG, &si, 0) || wait_sig(SIGIO, &si, 0))
		;
}

static int open_async_mode(int owner, int sig, int mode)
{
	int fd = open_node(FIFO_PATH, mode | O_NONBLOCK);

	assert_int_equal(fcntl(fd, F_SETOWN, owner), 0);
	if (sig)
		assert_int_equal(fcntl(fd, F_SETSIG, sig), 0);
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC), 0);
	return fd;
}

static int open_async(int owner, int sig)
{
	return open_async_mode(owner, sig, O_RDWR);
}

static int setup(void **state)
{
	setup_reset(state);
	block_signals();
	drain_signals();
	return 0;
}

static void test_poll_in_signal_content(void **state)
{
	siginfo_t si;
	int fd = open_async(getpid(), RTSIG);

	(void)state;
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(wait_sig(RTSIG, &si, 2000), 1);
	assert_int_equal(si.si_signo, RTSIG);
	assert_int_equal(si.si_fd, fd);
	assert_int_equal(si.si_code, POLL_IN);
	assert_true(si.si_band & POLLIN);
	assert_true(si.si_band & POLLRDNORM);
	close(fd);
}

/*
 * As a pipe since 5.15 (and the globalfifo driver of the tutorials): every
 * write that stores data raises POLL_IN, even while the FIFO stays
 * non-empty, so a handler that reads one record per signal keeps up.
 */
static void test_poll_in_on_every_write(void **state)
{
	siginfo_t si;
	char b[8];
	int fd = open_async(getpid(), RTSIG);
	uint64_t sent;

	(void)state;
	assert_int_equal(write(fd, "a", 1), 1);
	assert_int_equal(wait_sig(RTSIG, &si, 2000), 1);
	sent = node_stats(fd).signals_sent;
	assert_int_equal(write(fd, "b", 1), 1);
	assert_int_equal(wait_sig(RTSIG, &si, 2000), 1);
	assert_int_equal(si.si_code, POLL_IN);
	assert_int_equal(si.si_fd, fd);
	/* The read that frees room raises POLL_OUT (O_RDWR: both lists). */
	assert_int_equal(node_stats(fd).signals_sent, sent + 1);
	assert_int_equal(read(fd, b, 1), 1);
	assert_int_equal(wait_sig(RTSIG, &si, 2000), 1);
	assert_int_equal(si.si_code, POLL_OUT);
	assert_int_equal(read(fd, b, sizeof(b)), 1);
	assert_int_equal(wait_sig(RTSIG, &si, 2000), 1);
	assert_int_equal(si.si_code, POLL_OUT);
	assert_int_equal(wait_sig(RTSIG, &si, 100), 0);
	close(fd);
}

/* The tutorials' globalfifo test: one signal per echo into the device. */
static void test_one_signal_per_write_of_a_writer(void **state)
{
	int rd = open_async_mode(getpid(), RTSIG, O_RDONLY);
	int wr = open_node(FIFO_PATH, O_WRONLY);
	siginfo_t si;
	int n = 0;

	(void)state;
	for (int i = 0; i < 5; i++)
		assert_int_equal(write(wr, "hello\n", 6), 6);
	while (wait_sig(RTSIG, &si, 500)) {
		assert_int_equal(si.si_code, POLL_IN);
		assert_int_equal(si.si_fd, rd);
		n++;
	}
	assert_int_equal(n, 5);
	close(rd);
	close(wr);
}

static void test_poll_out_when_full_gets_room(void **state)
{
	static char big[FIFO_BYTES];
	siginfo_t si;
	int fd = open_async(getpid(), RTSIG);

	(void)state;
	assert_int_equal(write(fd, big, sizeof(big)), sizeof(big));
	drain_signals();
	assert_int_equal(read(fd, big, 8192), 8192);
	assert_int_equal(wait_sig(RTSIG, &si, 2000), 1);
	assert_int_equal(si.si_code, POLL_OUT);
	assert_int_equal(si.si_fd, fd);
	assert_true(si.si_band & POLLOUT);
	assert_true(si.si_band & POLLWRNORM);
	close(fd);
}

/*
 * As with a pipe, POLL_IN goes only to fds open for reading and POLL_OUT
 * only to fds open for writing: a read-only consumer is not woken when the
 * FIFO gets room, a write-only producer not when data arrives.
 */
static void test_bands_follow_open_mode(void **state)
{
	static char big[FIFO_BYTES];
	int rd = open_async_mode(getpid(), RTSIG, O_RDONLY);
	int wr = open_async_mode(getpid(), RTSIG, O_WRONLY);
	siginfo_t si;

	(void)state;
	assert_int_equal(write(wr, "x", 1), 1);
	assert_int_equal(wait_sig(RTSIG, &si, 2000), 1);
	assert_int_equal(si.si_code, POLL_IN);
	assert_int_equal(si.si_fd, rd);
	assert_int_equal(wait_sig(RTSIG, &si, 200), 0);

	assert_int_equal(write(wr, big, sizeof(big) - 1), sizeof(big) - 1);
	drain_signals();
	assert_int_equal(read(rd, big, 8192), 8192);
	assert_int_equal(wait_sig(RTSIG, &si, 2000), 1);
	assert_int_equal(si.si_code, POLL_OUT);
	assert_int_equal(si.si_fd, wr);
	assert_int_equal(wait_sig(RTSIG, &si, 200), 0);
	close(rd);
	close(wr);
}

/* Without F_SETSIG the owner gets plain SIGIO. */
static void test_plain_sigio(void **state)
{
	siginfo_t si;
	int fd = open_async(getpid(), 0);

	(void)state;
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(wait_sig(SIGIO, &si, 2000), 1);
	close(fd);
}

struct thread_arg {
	pid_t tid;
	int got;
	int code;
	pthread_barrier_t ready;
};

static void *sig_thread(void *p)
{
	struct thread_arg *a = p;
	siginfo_t si;

	a->tid = (pid_t)syscall(SYS_gettid);
	pthread_barrier_wait(&a->ready);
	a->got = wait_sig(RTSIG, &si, 3000);
	a->code = si.si_code;
	return NULL;
}

/* F_SETOWN_EX with F_OWNER_TID: the signal goes to that thread only. */
static void test_setown_ex_targets_thread(void **state)
{
	struct thread_arg a = { 0 };
	struct f_owner_ex owner;
	pthread_t t;
	sigset_t pending;
	int fd = open_node(FIFO_PATH, O_RDWR | O_NONBLOCK);

	(void)state;
	pthread_barrier_init(&a.ready, NULL, 2);
	assert_int_equal(pthread_create(&t, NULL, sig_thread, &a), 0);
	pthread_barrier_wait(&a.ready);
	owner.type = F_OWNER_TID;
	owner.pid = a.tid;
	assert_int_equal(fcntl(fd, F_SETOWN_EX, &owner), 0);
	assert_int_equal(fcntl(fd, F_SETSIG, RTSIG), 0);
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC), 0);
	assert_int_equal(write(fd, "x", 1), 1);
	pthread_join(t, NULL);
	assert_int_equal(a.got, 1);
	assert_int_equal(a.code, POLL_IN);
	/* Nothing is pending for the main thread or the process. */
	sigpending(&pending);
	assert_false(sigismember(&pending, RTSIG));
	pthread_barrier_destroy(&a.ready);
	close(fd);
}

/* F_SETOWN with a negative pid: every process of the group is signalled. */
static void test_setown_process_group(void **state)
{
	int sync_pipe[2];
	pid_t leader;
	char c;
	int fd;

	(void)state;
	assert_int_equal(pipe(sync_pipe), 0);
	leader = fork();
	assert_true(leader >= 0);
	if (!leader) {
		siginfo_t si;
		pid_t member;
		int got, st;

		setpgid(0, 0);
		member = fork();
		if (!member)
			_exit(wait_sig(RTSIG, &si, 3000) ? 0 : 1);
		if (write(sync_pipe[1], "r", 1) != 1)
			_exit(1);
		got = wait_sig(RTSIG, &si, 3000);
		if (waitpid(member, &st, 0) != member)
			_exit(1);
		_exit(got && WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : 1);
	}
	assert_int_equal(read(sync_pipe[0], &c, 1), 1);
	sleep_ms(50);
	fd = open_async(-leader, RTSIG);
	assert_int_equal(write(fd, "x", 1), 1);
	wait_child_ok(leader);
	close(fd);
	close(sync_pipe[0]);
	close(sync_pipe[1]);
}

static void test_no_signal_after_close(void **state)
{
	siginfo_t si;
	int fd = open_async(getpid(), RTSIG);
	int other = open_node(FIFO_PATH, O_RDWR);
	uint64_t sent;

	(void)state;
	close(fd);
	sent = node_stats(other).signals_sent;
	assert_int_equal(write(other, "x", 1), 1);
	assert_int_equal(wait_sig(RTSIG, &si, 300), 0);
	assert_int_equal(node_stats(other).signals_sent, sent);
	close(other);
}

/* Turning O_ASYNC off stops signals too. */
static void test_no_signal_after_fasync_off(void **state)
{
	siginfo_t si;
	int fd = open_async(getpid(), RTSIG);

	(void)state;
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_ASYNC), 0);
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(wait_sig(RTSIG, &si, 300), 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_poll_in_signal_content, setup),
		cmocka_unit_test_setup(test_poll_in_on_every_write, setup),
		cmocka_unit_test_setup(test_one_signal_per_write_of_a_writer, setup),
		cmocka_unit_test_setup(test_poll_out_when_full_gets_room, setup),
		cmocka_unit_test_setup(test_bands_follow_open_mode, setup),
		cmocka_unit_test_setup(test_plain_sigio, setup),
		cmocka_unit_test_setup(test_setown_ex_targets_thread, setup),
		cmocka_unit_test_setup(test_setown_process_group, setup),
		cmocka_unit_test_setup(test_no_signal_after_close, setup),
		cmocka_unit_test_setup(test_no_signal_after_fasync_off, setup),
	};

	return cmocka_run_group_tests_name("fasync", tests, NULL, NULL);
}
