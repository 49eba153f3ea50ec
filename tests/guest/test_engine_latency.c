/*
 * The simulated device engine on /dev/asyncmem: a service time per request,
 * a number of channels serving requests at once, async requests completing
 * concurrently (io_submit, io_uring), and cancellation of requests waiting
 * for a channel. Timing is loose (QEMU software emulation); the measured
 * figures are printed as "# ..." lines.
 */
#include "guest.h"

#include <libaio.h>
#include <liburing.h>

#define LAT_NS		2000000ull	/* 2 ms */
#define NREQ		16
#define SZ		4096

static unsigned char bufs[64][SZ];

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void get_all(io_context_t ctx, int n, struct io_event *ev, int timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000 };
	int got = 0;

	while (got < n) {
		int r = io_getevents(ctx, 1, n - got, ev + got, &ts);

		if (r == -EINTR)
			continue;
		if (r <= 0)
			fail_msg("io_getevents: %d after %d of %d events", r, got, n);
		got += r;
	}
}

/* Fill the first @n pages of the device with a known pattern. */
static void prefill(int fd, int n)
{
	for (int i = 0; i < n; i++) {
		memset(bufs[i], 'a' + i % 26, SZ);
		assert_int_equal(pwrite(fd, bufs[i], SZ, (off_t)i * SZ), SZ);
	}
}

static uint64_t sync_reads(int fd, int n)
{
	uint64_t t0 = now_ns();

	for (int i = 0; i < n; i++)
		assert_int_equal(pread(fd, bufs[i], SZ, (off_t)i * SZ), SZ);
	return now_ns() - t0;
}

/* Submit @n reads at once with io_submit; the time until all completed. */
static uint64_t aio_reads(int fd, int n)
{
	struct iocb cbs[64], *pcb[64];
	struct io_event ev[64];
	io_context_t ctx = 0;
	uint64_t t0, dt;

	assert_true(n <= 64);
	assert_int_equal(io_setup(n, &ctx), 0);
	for (int i = 0; i < n; i++) {
		memset(bufs[i], 0, SZ);
		io_prep_pread(&cbs[i], fd, bufs[i], SZ, (long long)i * SZ);
		pcb[i] = &cbs[i];
	}
	t0 = now_ns();
	assert_int_equal(io_submit(ctx, n, pcb), n);
	get_all(ctx, n, ev, 10000);
	dt = now_ns() - t0;
	for (int i = 0; i < n; i++)
		assert_int_equal((long)ev[i].res, SZ);
	for (int i = 0; i < n; i++)
		assert_int_equal(bufs[i][SZ - 1], 'a' + i % 26);
	io_destroy(ctx);
	return dt;
}

static void test_sync_read_takes_latency(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	uint64_t dt0, dt;

	(void)state;
	prefill(fd, 1);
	dt0 = sync_reads(fd, 1);
	node_config(fd, LAT_NS, 0, 1, 0);
	dt = sync_reads(fd, 1);
	printf("# sync pread: %.3f ms without latency, %.3f ms with 2 ms\n",
	       ms(dt0), ms(dt));
	assert_true(dt >= LAT_NS);
	assert_int_equal(bufs[0][0], 'a');
	close(fd);
}

static void test_aio_reads_concurrent_with_channels(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	uint64_t seq, conc;

	(void)state;
	prefill(fd, NREQ);
	node_config(fd, LAT_NS, 0, 32, 0);
	seq = sync_reads(fd, NREQ);
	/* Warm-up: the first io_submit after boot took 15 ms on a debug kernel. */
	aio_reads(fd, NREQ);
	conc = aio_reads(fd, NREQ);
	printf("# 16 reads, 2 ms latency, 32 channels: sequential pread %.3f ms, "
	       "io_submit %.3f ms (%.1fx)\n", ms(seq), ms(conc),
	       (double)seq / (double)conc);
	assert_true(seq >= NREQ * LAT_NS);
	/*
	 * One request at a time cannot take less than NREQ latencies (line
	 * above): less proves they overlapped, however slow the host is.
	 */
	assert_true(conc < NREQ * LAT_NS);
	assert_true(conc >= LAT_NS);
	assert_int_equal(node_stats(fd).in_flight, 0);
	close(fd);
}

static void test_aio_reads_serialised_on_one_channel(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	uint64_t dt;

	(void)state;
	prefill(fd, NREQ);
	node_config(fd, LAT_NS, 0, 1, 0);
	dt = aio_reads(fd, NREQ);
	printf("# 16 io_submit reads, 2 ms latency, 1 channel: %.3f ms\n", ms(dt));
	assert_true(dt >= NREQ * LAT_NS);
	assert_int_equal(node_stats(fd).in_flight, 0);
	close(fd);
}

static void test_io_uring_reads_concurrent(void **state)
{
	struct io_uring ring;
	int fd = open_node(MEM_PATH, O_RDWR);
	uint64_t t0, dt;

	(void)state;
	prefill(fd, NREQ);
	node_config(fd, LAT_NS, 0, 32, 0);
	assert_int_equal(io_uring_queue_init(NREQ, &ring, 0), 0);
	/* Warm up: the ring's first use sets things up. */
	for (int i = 0; i < NREQ; i++)
		io_uring_prep_read(io_uring_get_sqe(&ring), fd, bufs[i], SZ,
				   (uint64_t)i * SZ);
	assert_int_equal(io_uring_submit_and_wait(&ring, NREQ), NREQ);
	for (int i = 0; i < NREQ; i++) {
		struct io_uring_cqe *cqe;

		assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
		assert_int_equal(cqe->res, SZ);
		io_uring_cqe_seen(&ring, cqe);
	}
	for (int i = 0; i < NREQ; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		memset(bufs[i], 0, SZ);
		io_uring_prep_read(sqe, fd, bufs[i], SZ, (uint64_t)i * SZ);
		sqe->user_data = (uint64_t)i;
	}
	t0 = now_ns();
	assert_int_equal(io_uring_submit(&ring), NREQ);
	for (int i = 0; i < NREQ; i++) {
		struct io_uring_cqe *cqe;

		assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
		assert_int_equal(cqe->res, SZ);
		assert_true(cqe->user_data < NREQ);
		assert_int_equal(bufs[cqe->user_data][0], 'a' + cqe->user_data % 26);
		io_uring_cqe_seen(&ring, cqe);
	}
	dt = now_ns() - t0;
	printf("# 16 io_uring reads, 2 ms latency, 32 channels: %.3f ms\n", ms(dt));
	assert_true(dt < NREQ * LAT_NS);	/* overlapped, as above */
	assert_true(dt >= LAT_NS);
	assert_int_equal(node_stats(fd).in_flight, 0);
	io_uring_queue_exit(&ring);
	close(fd);
}

static void test_in_flight_counts_queued_requests(void **state)
{
	struct iocb cbs[4], *pcb[4];
	struct io_event ev[4];
	io_context_t ctx = 0;
	int fd = open_node(MEM_PATH, O_RDWR);

	(void)state;
	node_config(fd, 200000000, 0, 2, 0);	/* 200 ms, 2 channels */
	assert_int_equal(io_setup(4, &ctx), 0);
	for (int i = 0; i < 4; i++) {
		io_prep_pread(&cbs[i], fd, bufs[i], SZ, (long long)i * SZ);
		pcb[i] = &cbs[i];
	}
	assert_int_equal(io_submit(ctx, 4, pcb), 4);
	assert_int_equal(node_stats(fd).in_flight, 4);
	get_all(ctx, 4, ev, 5000);
	assert_int_equal(node_stats(fd).in_flight, 0);
	io_destroy(ctx);
	close(fd);
}

static void test_io_cancel_completes_waiting_requests_early(void **state)
{
	enum { N = 8 };
	struct iocb cbs[N], *pcb[N];
	struct io_event ev[N], dummy;
	struct asyncdev_stats s0, s1;
	io_context_t ctx = 0;
	int fd = open_node(MEM_PATH, O_RDWR);
	uint64_t t0, dt;
	int r;

	(void)state;
	prefill(fd, N);
	node_config(fd, 100000000, 0, 1, 0);	/* 100 ms, 1 channel */
	assert_int_equal(io_setup(N, &ctx), 0);
	for (int i = 0; i < N; i++) {
		memset(bufs[i], 0, SZ);
		io_prep_pread(&cbs[i], fd, bufs[i], SZ, (long long)i * SZ);
		pcb[i] = &cbs[i];
	}
	s0 = node_stats(fd);
	t0 = now_ns();
	assert_int_equal(io_submit(ctx, N, pcb), N);
	/* The data moved at submission. */
	for (int i = 0; i < N; i++)
		assert_int_equal(bufs[i][0], 'a' + i);
	/* Requests 1..N-1 wait for the channel: cancelled, they complete now. */
	for (int i = N - 1; i >= 1; i--)
		assert_int_equal(io_cancel(ctx, &cbs[i], &dummy), -EINPROGRESS);
	/* Request 0 is in service; it finishes on its own: -EAGAIN. */
	r = io_cancel(ctx, &cbs[0], &dummy);
	assert_int_equal(r, -EAGAIN);
	get_all(ctx, N, ev, 5000);
	dt = now_ns() - t0;
	printf("# 8 reads, 100 ms latency, 1 channel, all cancelled: events in %.1f ms "
	       "(uncancelled: >= 800 ms)\n", ms(dt));
	for (int i = 0; i < N; i++)
		assert_int_equal((long)ev[i].res, SZ);	/* the real result */
	assert_true(dt < 400000000u);
	s1 = node_stats(fd);
	assert_int_equal(s1.in_flight, 0);
	assert_int_equal(s1.async_completed - s0.async_completed, N);
	printf("# async_cancelled delta after cancelling %d waiting mem requests: %llu\n",
	       N - 1, (unsigned long long)(s1.async_cancelled - s0.async_cancelled));
	io_destroy(ctx);
	close(fd);
}

static void test_io_destroy_with_queued_requests_is_prompt(void **state)
{
	enum { N = 64 };
	struct iocb cbs[N], *pcb[N];
	io_context_t ctx = 0;
	int fd = open_node(MEM_PATH, O_RDWR);
	uint64_t t0, dt;

	(void)state;
	node_config(fd, 100000000, 0, 1, 0);	/* 100 ms, 1 channel */
	assert_int_equal(io_setup(N, &ctx), 0);
	for (int i = 0; i < N; i++) {
		io_prep_pread(&cbs[i], fd, bufs[i], SZ, (long long)i * SZ);
		pcb[i] = &cbs[i];
	}
	assert_int_equal(io_submit(ctx, N, pcb), N);
	assert_int_equal(node_stats(fd).in_flight, N);
	t0 = now_ns();
	assert_int_equal(io_destroy(ctx), 0);
	dt = now_ns() - t0;
	printf("# io_destroy with 64 queued (100 ms, 1 channel): %.1f ms "
	       "(uncancelled: 6.4 s)\n", ms(dt));
	assert_true(dt < 500000000u);
	assert_int_equal(node_stats(fd).in_flight, 0);
	close(fd);
}

/*
 * The engine completes requests in the order of their deadlines, not of
 * their submission: a 1 ms read submitted after a 400 ms one (two
 * channels; a request keeps the service time drawn when it was submitted)
 * completes first and long before the other, which still takes its 400 ms.
 */
static void test_short_request_overtakes_long_one(void **state)
{
	struct iocb cb[2], *pcb[2] = { &cb[0], &cb[1] };
	struct io_event ev[2];
	io_context_t ctx = 0;
	int fd = open_node(MEM_PATH, O_RDWR);
	uint64_t t_long, t_short, dt_short, dt_long;

	(void)state;
	prefill(fd, 2);
	assert_int_equal(io_setup(2, &ctx), 0);
	io_prep_pread(&cb[0], fd, bufs[0], SZ, 0);
	io_prep_pread(&cb[1], fd, bufs[1], SZ, SZ);
	node_config(fd, 400000000, 0, 2, 0);	/* 400 ms */
	t_long = now_ns();
	assert_int_equal(io_submit(ctx, 1, &pcb[0]), 1);
	node_config(fd, 1000000, 0, 2, 0);	/* 1 ms */
	t_short = now_ns();
	assert_int_equal(io_submit(ctx, 1, &pcb[1]), 1);
	get_all(ctx, 1, ev, 10000);
	dt_short = now_ns() - t_short;
	assert_ptr_equal(ev[0].obj, &cb[1]);
	assert_int_equal((long)ev[0].res, SZ);
	get_all(ctx, 1, ev + 1, 10000);
	dt_long = now_ns() - t_long;
	assert_ptr_equal(ev[1].obj, &cb[0]);
	assert_int_equal((long)ev[1].res, SZ);
	printf("# 1 ms read after a 400 ms one: %.3f ms; the 400 ms read: %.3f ms\n",
	       ms(dt_short), ms(dt_long));
	assert_true(dt_short >= 1000000u);
	assert_true(dt_short < 200000000u);
	assert_true(dt_long >= 400000000u);
	io_destroy(ctx);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_sync_read_takes_latency, setup_reset),
		cmocka_unit_test_setup(test_aio_reads_concurrent_with_channels, setup_reset),
		cmocka_unit_test_setup(test_aio_reads_serialised_on_one_channel, setup_reset),
		cmocka_unit_test_setup(test_io_uring_reads_concurrent, setup_reset),
		cmocka_unit_test_setup(test_in_flight_counts_queued_requests, setup_reset),
		cmocka_unit_test_setup(test_io_cancel_completes_waiting_requests_early, setup_reset),
		cmocka_unit_test_setup(test_io_destroy_with_queued_requests_is_prompt, setup_reset),
		cmocka_unit_test_setup(test_short_request_overtakes_long_one, setup_reset),
	};

	return cmocka_run_group_tests_name("engine_latency", tests, NULL, teardown_reset);
}
