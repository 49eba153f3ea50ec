/*
 * What one user can do to others: concurrent configuration changes do not
 * revert each other, queued requests are bounded per user (not only per
 * open file, which a 0666 node makes meaningless) and charged to the
 * submitter's memory cgroup.
 */
#include "guest.h"

#include <libaio.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/uio.h>

#define SYSFS_FIFO	"/sys/class/misc/asyncdev/"

enum { ROUNDS = 20000 };

static void sysfs_write_u64(int fd, uint64_t v)
{
	char s[32];
	int n = snprintf(s, sizeof(s), "%llu\n", (unsigned long long)v);

	if (pwrite(fd, s, (size_t)n, 0) != n)
		fail_msg("sysfs write %llu: %s", (unsigned long long)v, strerror(errno));
}

static uint64_t sysfs_read_u64(int fd)
{
	char s[32] = { 0 };

	assert_true(pread(fd, s, sizeof(s) - 1, 0) > 0);
	return strtoull(s, NULL, 10);
}

struct writer {
	const char *attr;
	pthread_barrier_t *go;
	int *done;
};

static void *count_up(void *arg)
{
	struct writer *w = arg;
	int fd = open(w->attr, O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	pthread_barrier_wait(w->go);
	for (uint64_t v = 1; v <= ROUNDS; v++)
		sysfs_write_u64(fd, v);
	close(fd);
	__atomic_add_fetch(w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Two writers count two attributes up at once while a reader watches: a
 * store that applied the whole configuration it read before the other's
 * change would take a value back.
 */
static void test_concurrent_sysfs_stores_do_not_revert_each_other(void **state)
{
	struct writer lat = { .attr = SYSFS_FIFO "jitter_ns" };
	struct writer ch = { .attr = SYSFS_FIFO "latency_ns" };
	int lat_fd = open(SYSFS_FIFO "jitter_ns", O_RDONLY | O_CLOEXEC);
	int ch_fd = open(SYSFS_FIFO "latency_ns", O_RDONLY | O_CLOEXEC);
	uint64_t last_lat = 0, last_ch = 0, backwards = 0;
	pthread_barrier_t go;
	pthread_t t1, t2;
	int done = 0;

	(void)state;
	assert_true(lat_fd >= 0 && ch_fd >= 0);
	pthread_barrier_init(&go, NULL, 3);
	lat.go = ch.go = &go;
	lat.done = ch.done = &done;
	assert_int_equal(pthread_create(&t1, NULL, count_up, &lat), 0);
	assert_int_equal(pthread_create(&t2, NULL, count_up, &ch), 0);
	pthread_barrier_wait(&go);
	while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) < 2) {
		uint64_t l = sysfs_read_u64(lat_fd), c = sysfs_read_u64(ch_fd);

		backwards += l < last_lat || c < last_ch;
		last_lat = l > last_lat ? l : last_lat;
		last_ch = c > last_ch ? c : last_ch;
	}
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	printf("# final jitter_ns %llu, latency_ns %llu (both written up to %d)\n",
	       (unsigned long long)sysfs_read_u64(lat_fd),
	       (unsigned long long)sysfs_read_u64(ch_fd), ROUNDS);
	printf("# values seen going backwards: %llu\n", (unsigned long long)backwards);
	assert_int_equal(backwards, 0);
	assert_int_equal(sysfs_read_u64(lat_fd), ROUNDS);
	assert_int_equal(sysfs_read_u64(ch_fd), ROUNDS);
	close(lat_fd);
	close(ch_fd);
}

static unsigned int module_param(const char *name)
{
	char path[128];
	unsigned int v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/asyncdev/parameters/%s", name);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%u", &v), 1);
	fclose(f);
	return v;
}

/*
 * Queue 1-byte reads on the empty FIFO from @nfds files of the calling
 * user until one is refused; returns how many were queued, and the
 * refusal's result in *@err.
 */
static int flood(io_context_t ctx, int nfds, int per_fd, long *err,
		 struct iovec *iov, int iovcnt)
{
	static struct iocb cbs[65536];
	struct io_event ev;
	struct timespec zero = { 0, 0 };
	int queued = 0;

	*err = 0;
	for (int f = 0; f < nfds && !*err; f++) {
		int fd = open_node(FIFO_PATH, O_RDONLY);

		for (int i = 0; i < per_fd && !*err; i++) {
			struct iocb *cb = &cbs[queued];
			int r;

			io_prep_preadv(cb, fd, iov, iovcnt, 0);
			r = io_submit(ctx, 1, &cb);
			if (r != 1) {
				*err = r;
				break;
			}
			/* Refused requests complete at once with their error. */
			if (io_getevents(ctx, 0, 1, &ev, &zero) == 1) {
				*err = (long)ev.res;
				break;
			}
			queued++;
		}
		/* fd stays open: the queued requests hold it anyway. */
	}
	return queued;
}

/*
 * max_user_queued bounds one user's queued requests across all the files it
 * opens; another user can still queue and complete requests.
 */
static void test_one_user_cannot_queue_past_its_limit_with_more_files(void **state)
{
	unsigned int per_file = module_param("max_queued");
	unsigned int per_user = module_param("max_user_queued");
	int sync_pipe[2];
	pid_t pid;
	char c;

	(void)state;
	printf("# max_queued %u per file, max_user_queued %u per user\n",
	       per_file, per_user);
	assert_true(per_user < 65536 - 1);
	assert_int_equal(pipe(sync_pipe), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static char b;
		struct iovec iov = { &b, 1 };
		io_context_t ctx = 0;
		int nfds = (int)(per_user / per_file) + 2;
		long err;
		int n;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		if (io_setup((int)per_user + 8, &ctx))
			_exit(11);
		n = flood(ctx, nfds, (int)per_file, &err, &iov, 1);
		printf("# user 65534 queued %d requests from up to %d files, then %ld\n",
		       n, nfds, err);
		if (n != (int)per_user || err != -EAGAIN)
			_exit(12);
		if (write(sync_pipe[1], "F", 1) != 1)
			_exit(13);
		pause();	/* killed by the parent, requests still queued */
		_exit(0);
	}
	close(sync_pipe[1]);
	if (read(sync_pipe[0], &c, 1) != 1) {
		int st;

		waitpid(pid, &st, 0);
		fail_msg("flooding child failed (status 0x%x)", st);
	}
	/* Another user (root here) still queues and completes a read. */
	{
		int fd = open_node(FIFO_PATH, O_RDWR);
		struct iocb cb, *pcb = &cb;
		struct io_event ev;
		struct timespec ts = { 5, 0 };
		io_context_t ctx = 0;
		char b[1];

		assert_int_equal(io_setup(1, &ctx), 0);
		io_prep_pread(&cb, fd, b, 1, 0);
		assert_int_equal(io_submit(ctx, 1, &pcb), 1);
		assert_int_equal(io_cancel(ctx, &cb, &ev), -EINPROGRESS);
		assert_int_equal(io_getevents(ctx, 1, 1, &ev, &ts), 1);
		assert_int_equal((long)ev.res, -ECANCELED);
		io_destroy(ctx);
		close(fd);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(sync_pipe[0]);
}

static uint64_t read_u64_file(const char *path)
{
	char s[64] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_true(read(fd, s, sizeof(s) - 1) > 0);
	close(fd);
	return strtoull(s, NULL, 10);
}

static void write_str_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		fail_msg("write %s to %s: %s", s, path, strerror(errno));
	close(fd);
}

#define CG	"/sys/fs/cgroup"
#define CGT	CG "/asyncdev-flood"

/*
 * Queued requests and their iovec copies are charged to the submitter's
 * memory cgroup: queueing N requests of 1024 segments each (16 KiB of
 * iovec to copy apiece) raises the group's memory.current accordingly, and
 * under memory.max a flood ends in ENOMEM or EAGAIN, not in the host's
 * memory.
 */
static void test_queued_requests_are_charged_to_the_memory_cgroup(void **state)
{
	enum { SEGS = 1024, N = 256 };
	int to_parent[2], to_child[2];
	uint64_t before, after;
	pid_t pid;
	char c;

	(void)state;
	mkdir(CG, 0755);
	if (mount("cgroup2", CG, "cgroup2", 0, NULL) && errno != EBUSY)
		fail_msg("mount cgroup2: %s", strerror(errno));
	write_str_file(CG "/cgroup.subtree_control", "+memory");
	if (mkdir(CGT, 0755) && errno != EEXIST)
		fail_msg("mkdir %s: %s", CGT, strerror(errno));
	write_str_file(CGT "/memory.max", "64M");
	assert_int_equal(pipe(to_parent), 0);
	assert_int_equal(pipe(to_child), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static char b;
		static struct iovec iov[SEGS];
		io_context_t ctx = 0;
		char me[16];
		long err;
		int n;

		snprintf(me, sizeof(me), "%d", getpid());
		write_str_file(CGT "/cgroup.procs", me);
		for (int i = 0; i < SEGS; i++)
			iov[i] = (struct iovec){ &b, 1 };
		if (io_setup(N + 8, &ctx))
			_exit(11);
		if (write(to_parent[1], "S", 1) != 1)	/* in the group */
			_exit(12);
		if (read(to_child[0], &c, 1) != 1)	/* go */
			_exit(13);
		n = flood(ctx, 1, N, &err, iov, SEGS);
		if (n != N)
			_exit(14);
		if (write(to_parent[1], "F", 1) != 1)
			_exit(15);
		pause();
		_exit(0);
	}
	assert_int_equal(read(to_parent[0], &c, 1), 1);
	before = read_u64_file(CGT "/memory.current");
	assert_int_equal(write(to_child[1], "G", 1), 1);
	if (read(to_parent[0], &c, 1) != 1) {
		int st;

		waitpid(pid, &st, 0);
		fail_msg("flooding child failed (status 0x%x)", st);
	}
	assert_int_equal(c, 'F');
	after = read_u64_file(CGT "/memory.current");
	printf("# %d queued reads of %d segments: memory.current %llu -> %llu "
	       "(+%llu bytes, %llu per request)\n", N, SEGS,
	       (unsigned long long)before, (unsigned long long)after,
	       (unsigned long long)(after - before),
	       (unsigned long long)((after - before) / N));
	/* Each request holds a 16 KiB iovec copy: at least 90% of it charged. */
	assert_true(after - before >= (uint64_t)N * SEGS * sizeof(struct iovec) * 9 / 10);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(to_parent[0]);
	close(to_parent[1]);
	close(to_child[0]);
	close(to_child[1]);
	rmdir(CGT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_concurrent_sysfs_stores_do_not_revert_each_other, setup_reset),
		cmocka_unit_test_setup(test_one_user_cannot_queue_past_its_limit_with_more_files, setup_reset),
		cmocka_unit_test_setup(test_queued_requests_are_charged_to_the_memory_cgroup, setup_reset),
	};

	return cmocka_run_group_tests_name("limits", tests, NULL, teardown_reset);
}
