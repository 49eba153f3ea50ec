/*
 * Unload with stalled requests: while a process holds stalled requests
 * (io_submit, io_uring, a blocking read), rmmod is refused at once, never
 * left hanging; once the process is gone (its requests completed by
 * cancellation and .flush) rmmod succeeds, and the module is loaded again
 * with the parameters it had for the tests after this one. The debug
 * kernel's kmemleak scan after the suite covers what the unload freed.
 */
#include "guest_aio.h"
#include "guest_faults.h"

#include <liburing.h>
#include <pthread.h>

static void *block_read(void *arg)
{
	char b[8];

	(void)!pread(*(int *)arg, b, sizeof(b), 0);
	return NULL;
}

/* The holder: stalls requests of every kind, reports, then waits. */
static void holder(int ready)
{
	static char b[4][16];
	int fd = open(MEM_PATH, O_RDWR), ffd = open(FIFO_PATH, O_RDWR);
	io_context_t ctx = 0;
	struct iocb cb[2], *p[2] = { &cb[0], &cb[1] };
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	pthread_t t;

	if (fd < 0 || ffd < 0 || io_setup(4, &ctx))
		_exit(2);
	io_prep_pread(&cb[0], fd, b[0], 16, 0);
	io_prep_pwrite(&cb[1], ffd, b[1], 16, 0);
	if (io_submit(ctx, 2, p) != 2 || io_uring_queue_init(4, &ring, 0))
		_exit(3);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, fd, b[2], 16, 0);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, ffd, b[3], 16, 0);
	if (io_uring_submit(&ring) != 2)
		_exit(4);
	pthread_create(&t, NULL, block_read, &fd);
	sleep_ms(200);
	(void)!write(ready, "x", 1);
	for (;;)
		pause();
}

static void read_param(const char *name, char *out, size_t size)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/asyncdev/parameters/%s", name);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, (int)size, f));
	out[strcspn(out, "\n")] = 0;
	fclose(f);
}

static void test_rmmod_refused_then_clean(void **state)
{
	const char *params[] = { "fifo_bytes", "mem_bytes", "max_queued",
				 "max_user_queued", "seed" };
	const char *ko = getenv("ASYNCDEV_KO");
	char cmd[512], val[64];
	int fd, pipes[2], st;
	uint64_t t0;
	pid_t pid;
	char c;

	(void)state;
	assert_non_null(ko);
	snprintf(cmd, sizeof(cmd), "insmod %s", ko);
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		read_param(params[i], val, sizeof(val));
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd),
			 " %s=%s", params[i], val);
	}

	fd = open_node(MEM_PATH, O_RDWR);
	set_stall(fd, ASYNCDEV_DIR_BOTH, 1, 0);
	close(fd);
	fd = open_node(FIFO_PATH, O_RDWR);
	set_stall(fd, ASYNCDEV_DIR_BOTH, 1, 0);
	close(fd);

	assert_int_equal(pipe(pipes), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipes[0]);
		holder(pipes[1]);
	}
	close(pipes[1]);
	assert_int_equal(read(pipes[0], &c, 1), 1);

	t0 = now_ns();
	st = system("rmmod asyncdev 2>/dev/null");
	assert_true(now_ns() - t0 < 5000000000ull);
	assert_int_not_equal(st, 0);
	assert_int_equal(access("/dev/asyncmem", F_OK), 0);

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	/* Completions finish from timers and io_uring's exit work. */
	for (int i = 0; i < 100; i++) {
		st = system("rmmod asyncdev 2>/dev/null");
		if (!st)
			break;
		sleep_ms(50);
	}
	assert_int_equal(st, 0);
	assert_int_equal(access("/dev/asyncmem", F_OK), -1);
	assert_int_equal(system(cmd), 0);
	fd = open_node(MEM_PATH, O_RDWR);
	assert_int_equal(node_stats(fd).in_flight, 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rmmod_refused_then_clean,
						setup_reset, teardown_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
