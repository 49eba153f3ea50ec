/*
 * Service time distributions (ASYNCDEV_IOC_SET_LATENCY), per direction:
 * fixed, uniform, exponential, a tail; completions reorder; the 10 s cap.
 * Times are measured around synchronous preads of /dev/asyncmem, so each
 * sample is the service time plus the syscall's own cost and whatever the
 * emulator's host adds: lower bounds are exact (a service time is never
 * short), upper bounds are loose (SLACK times what is expected).
 */
#include "guest_aio.h"
#include "guest_faults.h"

#define MS 1000000ull
#define SLACK 4

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* @n sorted samples of a 1-byte pread (@write: pwrite) in ns. */
static void sample(int fd, int write, uint64_t *t, int n)
{
	char b = 0;

	for (int i = 0; i < n; i++) {
		uint64_t t0 = now_ns();

		if (write)
			assert_int_equal(pwrite(fd, &b, 1, 0), 1);
		else
			assert_int_equal(pread(fd, &b, 1, 0), 1);
		t[i] = now_ns() - t0;
	}
	qsort(t, (size_t)n, sizeof(*t), cmp_u64);
}

static uint64_t mean(const uint64_t *t, int n)
{
	uint64_t s = 0;

	for (int i = 0; i < n; i++)
		s += t[i];
	return s / (uint64_t)n;
}

/* Reads fixed at 2 ms, writes free: the directions are separate. */
static void test_fixed_per_direction(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	uint64_t r[20], w[20];

	(void)state;
	assert_int_equal(set_latency(fd, ASYNCDEV_DIR_READ, ASYNCDEV_LAT_FIXED,
				     2 * MS, 0, 0, 0), 0);
	sample(fd, 0, r, 20);
	sample(fd, 1, w, 20);
	assert_true(r[0] >= 2 * MS);
	assert_true(w[10] < 2 * MS);
	close(fd);
}

/* Uniform in [1 ms, 3 ms]: never below, mean near 2 ms. */
static void test_uniform(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	uint64_t t[100];

	(void)state;
	assert_int_equal(set_latency(fd, ASYNCDEV_DIR_READ,
				     ASYNCDEV_LAT_UNIFORM, MS, 2 * MS, 0, 0), 0);
	sample(fd, 0, t, 100);
	assert_true(t[0] >= MS);
	print_message("uniform 1..3 ms: min %llu us, mean %llu us, max %llu us\n",
		      (unsigned long long)t[0] / 1000,
		      (unsigned long long)mean(t, 100) / 1000,
		      (unsigned long long)t[99] / 1000);
	assert_true(mean(t, 100) > 1500000 && mean(t, 100) < SLACK * 2 * MS);
	close(fd);
}

/*
 * Exponential, mean 1 ms: the mean is near 1 ms and some samples are
 * beyond 2.5 ms (8 % each).
 */
static void test_exponential(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	uint64_t t[300];

	(void)state;
	assert_int_equal(set_latency(fd, ASYNCDEV_DIR_READ, ASYNCDEV_LAT_EXP,
				     0, MS, 0, 0), 0);
	sample(fd, 0, t, 300);
	print_message("exp mean 1 ms: p50 %llu us, mean %llu us, p99 %llu us\n",
		      (unsigned long long)t[150] / 1000,
		      (unsigned long long)mean(t, 300) / 1000,
		      (unsigned long long)t[297] / 1000);
	assert_true(mean(t, 300) > 600000 && mean(t, 300) < SLACK * MS);
	assert_true(t[299] > 2500000);
	close(fd);
}

/* A tail: 10 % of requests take 20 times 500 us. p50 and p99 differ. */
static void test_tail(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	uint64_t t[200];
	int slow = 0;

	(void)state;
	assert_int_equal(set_latency(fd, ASYNCDEV_DIR_READ, ASYNCDEV_LAT_FIXED,
				     MS / 2, 0, 100000, 20), 0);
	sample(fd, 0, t, 200);
	for (int i = 0; i < 200; i++)
		slow += t[i] >= 10 * MS;
	print_message("tail 10%% x20: p50 %llu us, p99 %llu us, %d of 200 slow\n",
		      (unsigned long long)t[100] / 1000,
		      (unsigned long long)t[198] / 1000, slow);
	assert_true(t[100] < 5 * MS);
	assert_true(t[198] >= 10 * MS);
	/* Binomial(200, 0.1): outside [5, 45] has probability < 1e-5. */
	assert_true(slow >= 5 && slow <= 45);
	close(fd);
}

/* With channels to spare, exponential service times reorder completions. */
static void test_completions_reorder(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	io_context_t ctx = ctx_new(16);
	struct iocb cbs[16], *p[16];
	struct io_event ev[16];
	static char b[16][8];
	int got = 0, inversions = 0;
	long last = -1;

	(void)state;
	node_config(fd, 0, 0, 16, 0);
	assert_int_equal(set_latency(fd, ASYNCDEV_DIR_READ, ASYNCDEV_LAT_EXP,
				     0, 5 * MS, 0, 0), 0);
	for (int i = 0; i < 16; i++) {
		io_prep_pread(&cbs[i], fd, b[i], 8, 0);
		p[i] = &cbs[i];
	}
	assert_int_equal(io_submit(ctx, 16, p), 16);
	while (got < 16) {
		int r = get_events(ctx, 1, 16 - got, ev, 5000);

		assert_true(r > 0);
		for (int i = 0; i < r; i++) {
			long idx = (struct iocb *)ev[i].obj - cbs;

			inversions += idx < last;
			last = idx;
		}
		got += r;
	}
	assert_true(inversions > 0);
	io_destroy(ctx);
	close(fd);
}

/* 10 s is the most a service time can be, tail included. */
static void test_cap_10s(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	io_context_t ctx = ctx_new(1);
	struct iocb cb, *p = &cb;
	struct io_event ev;
	char b[8];
	uint64_t t0, dt;

	(void)state;
	assert_int_equal(set_latency(fd, ASYNCDEV_DIR_WRITE, ASYNCDEV_LAT_FIXED,
				     ASYNCDEV_MAX_SERVICE_NS, 0, 0, 0), 0);
	errno = 0;
	assert_int_equal(set_latency(fd, ASYNCDEV_DIR_WRITE, ASYNCDEV_LAT_FIXED,
				     ASYNCDEV_MAX_SERVICE_NS + 1, 0, 0, 0), -1);
	assert_int_equal(errno, EINVAL);
	/* 100 ms x 1000 always: capped to 10 s. */
	assert_int_equal(set_latency(fd, ASYNCDEV_DIR_READ, ASYNCDEV_LAT_FIXED,
				     100 * MS, 0, ASYNCDEV_PPM, 1000), 0);
	io_prep_pread(&cb, fd, b, sizeof(b), 0);
	t0 = now_ns();
	assert_int_equal(io_submit(ctx, 1, &p), 1);
	assert_int_equal(get_events(ctx, 1, 1, &ev, 15000), 1);
	dt = now_ns() - t0;
	assert_int_equal(ev.res, 8);
	assert_true(dt >= 10000 * MS && dt < 12000 * MS);
	io_destroy(ctx);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fixed_per_direction,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_uniform,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_exponential,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_tail,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_completions_reorder,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_cap_10s,
						setup_reset, teardown_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
