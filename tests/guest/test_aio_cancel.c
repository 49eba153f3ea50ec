/*
 * io_submit requests against the lifecycle: cancellable wherever they wait
 * (a FIFO list, an engine channel), io_cancel's answers, and a submitter
 * that exits while the work item is copying into its memory.
 *
 * Race windows are held open deterministically: a userfaultfd-registered
 * buffer stops the work item's copy until the test lets it go, and one
 * engine channel with a long latency keeps requests waiting for it.
 */
#include "guest_aio.h"
#include "guest_uffd.h"

static double ms_since(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e6;
}

/*
 * With one channel and a long latency, FIFO reads that were served at once
 * (there was data) wait for the channel in the engine. Each must be
 * cancellable there: io_cancel completes it now with its real result, and
 * io_destroy does not wait out the queue.
 */
static void test_fifo_reads_waiting_for_a_channel_are_cancellable(void **state)
{
	enum { N = 6, LAT_MS = 500 };
	struct iocb cbs[N], *pcb[N];
	struct io_event ev[N], dummy;
	char bufs[N][1];
	io_context_t ctx = ctx_new(N);
	int fd = open_node(FIFO_PATH, O_RDWR);
	uint64_t t0;
	int r;

	(void)state;
	write_all(fd, "abcdef", N);
	node_config(fd, LAT_MS * 1000000ull, 0, 1, 0);
	for (int i = 0; i < N; i++) {
		io_prep_pread(&cbs[i], fd, bufs[i], 1, 0);
		pcb[i] = &cbs[i];
	}
	assert_int_equal(io_submit(ctx, N, pcb), N);
	assert_int_equal(fifo_level(fd), 0);	/* all served at once */

	/* The last one waits for the channel: cancelled, it completes now. */
	t0 = now_ns();
	r = io_cancel(ctx, &cbs[N - 1], &dummy);
	if (r != -EINPROGRESS)
		fail_msg("io_cancel of a request waiting for a channel: %d (%s), "
			 "expected -EINPROGRESS", r, strerror(-r));
	assert_int_equal(get_events(ctx, 1, 1, ev, 5000), 1);
	assert_ptr_equal(ev[0].obj, &cbs[N - 1]);
	assert_int_equal((long)ev[0].res, 1);		/* its data moved */
	assert_int_equal(bufs[N - 1][0], 'f');
	printf("# cancelled request waiting for the channel: event after %.0f ms "
	       "(uncancelled: %d ms)\n", ms_since(t0), N * LAT_MS);
	assert_true(ms_since(t0) < (N - 1) * LAT_MS);

	/* io_destroy cancels the rest: one service time, not N - 1. */
	t0 = now_ns();
	assert_int_equal(io_destroy(ctx), 0);
	printf("# io_destroy with %d requests, %d ms latency, 1 channel: %.0f ms\n",
	       N - 1, LAT_MS, ms_since(t0));
	assert_true(ms_since(t0) < 3 * LAT_MS);
	node_config(fd, 0, 0, 1, 0);
	close(fd);
}

/*
 * io_cancel's answer says what happens: 0 (-EINPROGRESS from io_cancel)
 * when the request will complete early through the ring, -EAGAIN when it
 * is in service and completes on its own, as fs/aio expects.
 */
static void test_io_cancel_of_a_request_in_service_is_eagain(void **state)
{
	struct iocb cb, *pcb = &cb;
	struct io_event ev, dummy;
	io_context_t ctx = ctx_new(1);
	int fd = open_node(MEM_PATH, O_RDWR);
	char buf[16];
	int r;

	(void)state;
	node_config(fd, 300000000, 0, 1, 0);
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	assert_int_equal(io_submit(ctx, 1, &pcb), 1);
	r = io_cancel(ctx, &cb, &dummy);
	if (r != -EAGAIN)
		fail_msg("io_cancel of a request in service: %d (%s), expected -EAGAIN",
			 r, strerror(-r));
	assert_int_equal(get_events(ctx, 1, 1, &ev, 5000), 1);
	assert_int_equal((long)ev.res, sizeof(buf));
	io_destroy(ctx);
	node_config(fd, 0, 0, 1, 0);
	close(fd);
}

/* Block until a page fault arrives on @uffd; returns its address. */
static unsigned long uffd_wait_fault(int uffd)
{
	struct uffd_msg msg;
	ssize_t n;

	do {
		n = read(uffd, &msg, sizeof(msg));
	} while (n < 0 && errno == EINTR);
	if (n != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT)
		_exit(3);
	return (unsigned long)msg.arg.pagefault.address;
}

/*
 * A queued FIFO read is being served: the work item is copying into the
 * submitter's buffer (held by userfaultfd) when the submitter exits. The
 * work item's reference on the mm is then the last one, and dropping it
 * runs exit_aio(), which waits for the very request the work item serves.
 * The device must go on serving: a later request on the FIFO completes.
 */
static void test_submitter_exits_while_the_work_item_copies(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR);
	int sync_pipe[2];
	struct iocb cb, *pcb = &cb;
	struct io_event ev;
	io_context_t ctx;
	char c, buf[8];
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(sync_pipe), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		io_context_t cctx = 0;
		struct iocb ccb, *cpcb = &ccb;
		int uffd;
		char *page = uffd_pages(&uffd, 1);

		if (io_setup(1, &cctx))
			_exit(1);
		io_prep_pread(&ccb, fd, page, 16, 0);
		if (io_submit(cctx, 1, &cpcb) != 1)
			_exit(2);
		if (write(sync_pipe[1], "Q", 1) != 1)	/* queued */
			_exit(4);
		uffd_wait_fault(uffd);			/* the work item copies */
		if (write(sync_pipe[1], "F", 1) != 1)
			_exit(5);
		_exit(0);	/* with the copy held and the request active */
	}
	close(sync_pipe[1]);
	assert_int_equal(read(sync_pipe[0], &c, 1), 1);
	assert_int_equal(c, 'Q');
	write_all(fd, "0123456789abcdef", 16);
	assert_int_equal(read(sync_pipe[0], &c, 1), 1);
	assert_int_equal(c, 'F');
	wait_child_ok(pid);
	close(sync_pipe[0]);

	/* The work item must be free to serve the next queued read. */
	ctx = ctx_new(1);
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	assert_int_equal(io_submit(ctx, 1, &pcb), 1);
	write_all(fd, "next", 4);
	if (get_events(ctx, 1, 1, &ev, 10000) != 1)
		fail_msg("a queued FIFO read did not complete after its submitter "
			 "exited during the copy of an earlier one: work item stuck "
			 "(see the kernel log for a hung kworker)");
	assert_int_equal((long)ev.res, 4);
	assert_memory_equal(buf, "next", 4);
	assert_int_equal(io_destroy(ctx), 0);
	for (int i = 0; i < 200 && node_stats(fd).in_flight; i++)
		sleep_ms(10);
	assert_int_equal(node_stats(fd).in_flight, 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_fifo_reads_waiting_for_a_channel_are_cancellable, setup_reset),
		cmocka_unit_test_setup(test_io_cancel_of_a_request_in_service_is_eagain, setup_reset),
		cmocka_unit_test_setup(test_submitter_exits_while_the_work_item_copies, setup_reset),
	};

	return cmocka_run_group_tests_name("aio_cancel", tests, NULL, teardown_reset);
}
