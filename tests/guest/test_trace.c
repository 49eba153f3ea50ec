/*
 * The asyncdev tracepoints and the debugfs listing of requests.
 *
 * Each scenario runs with every asyncdev event enabled in tracefs, then
 * reads the trace back and checks that the events of its requests arrived
 * with the right fields and in the right order. The listing tests read
 * /sys/kernel/debug/asyncdev/<node>/requests while requests wait.
 */
#include "guest_aio.h"

#include <liburing.h>
#include <pthread.h>
#include <sys/mount.h>

#define TRACEFS		"/sys/kernel/tracing"
#define DEBUGFS_DIR	"/sys/kernel/debug/asyncdev"
#define MAX_EVENTS	8192

struct tev {
	char name[32];
	int pid;
	char fields[240];
};

static struct tev *evs;
static int nevs;

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		fail_msg("write %s to %s: %s", s, path, strerror(errno));
	close(fd);
}

/* The whole of a (pseudo) file, NUL-terminated; the caller frees it. */
static char *read_file(const char *path)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	assert_non_null(buf);
	while ((r = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)r;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
	}
	assert_true(r == 0);
	close(fd);
	buf[len] = 0;
	return buf;
}

/* Clear the trace and enable every asyncdev event. */
static void trace_start(void)
{
	struct stat st;

	if (stat(TRACEFS "/trace", &st))
		mount("tracefs", TRACEFS, "tracefs", 0, NULL);
	write_file(TRACEFS "/tracing_on", "0");
	write_file(TRACEFS "/buffer_size_kb", "4096");
	write_file(TRACEFS "/trace", "");
	write_file(TRACEFS "/events/asyncdev/enable", "1");
	write_file(TRACEFS "/tracing_on", "1");
}

/*
 * Stop, read the trace, parse its lines: "comm-pid [cpu] flags ts: name:
 * fields".
 */
static void trace_stop(void)
{
	char *text, *line, *save = NULL;

	write_file(TRACEFS "/tracing_on", "0");
	write_file(TRACEFS "/events/asyncdev/enable", "0");
	text = read_file(TRACEFS "/trace");
	write_file(TRACEFS "/tracing_on", "1");	/* as it was at boot */
	nevs = 0;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *name = strstr(line, ": asyncdev_"), *f, *dash, *br;
		struct tev *e;

		if (line[0] == '#' || !name || nevs == MAX_EVENTS)
			continue;
		e = &evs[nevs++];
		name += 2;
		f = strchr(name, ':');
		assert_non_null(f);
		snprintf(e->name, sizeof(e->name), "%.*s", (int)(f - name), name);
		snprintf(e->fields, sizeof(e->fields), " %s ", f + 2);
		br = strchr(line, '[');
		*br = 0;
		dash = strrchr(line, '-');
		e->pid = dash ? atoi(dash + 1) : -1;
	}
	free(text);
	if (nevs == MAX_EVENTS)
		fail_msg("more than %d asyncdev events", MAX_EVENTS);
}

/* The value of field @key of @e ("" when absent). */
static const char *field(const struct tev *e, const char *key)
{
	static char val[64];
	char pat[40];
	const char *p;

	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(e->fields, pat);
	if (!p)
		return "";
	p += strlen(pat);
	snprintf(val, sizeof(val), "%.*s", (int)strcspn(p, " "), p);
	return val;
}

static long long ifield(const struct tev *e, const char *key)
{
	const char *v = field(e, key);

	if (!*v)
		fail_msg("event %s has no field %s:%s", e->name, key, e->fields);
	return strtoll(v, NULL, 0);
}

static void dump_trace(void)
{
	for (int i = 0; i < nevs; i++)
		printf("#   %5d %-24s%s\n", evs[i].pid, evs[i].name, evs[i].fields);
}

/*
 * The first event @name at or after index @from whose field @key is @val
 * (any when @key is NULL); fails the test when there is none.
 */
static int find_ev(int from, const char *name, const char *key, long long val)
{
	for (int i = from; i < nevs; i++)
		if (!strcmp(evs[i].name, name) &&
		    (!key || (*field(&evs[i], key) &&
			      strtoll(field(&evs[i], key), NULL, 0) == val)))
			return i;
	dump_trace();
	fail_msg("no %s with %s=%lld after event %d", name, key ? key : "-",
		 val, from);
	return -1;
}

static int count_ev(const char *name)
{
	int n = 0;

	for (int i = 0; i < nevs; i++)
		n += !strcmp(evs[i].name, name);
	return n;
}

static void assert_field(const struct tev *e, const char *key, const char *val)
{
	if (strcmp(field(e, key), val))
		fail_msg("%s: %s=%s, expected %s (%s)", e->name, key,
			 field(e, key), val, e->fields);
}

/* A synchronous read with a service time: one channel, then the data. */
static void test_sync_read(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR);
	char buf[5];
	int s, i;

	(void)state;
	write_all(fd, "hello", 5);
	node_config(fd, 2000000, 0, 1, 0);
	trace_start();
	read_all(fd, buf, 5);
	trace_stop();

	s = find_ev(0, "asyncdev_submit", "bytes", 5);
	assert_field(&evs[s], "node", "fifo");
	assert_field(&evs[s], "path", "sync");
	assert_true(strstr(evs[s].fields, " read "));
	assert_int_equal(evs[s].pid, gettid());
	i = find_ev(s, "asyncdev_engine", "id", 0);
	assert_int_equal(ifield(&evs[i], "busy"), 0);
	i = find_ev(i, "asyncdev_service_start", "id", 0);
	assert_int_equal(ifield(&evs[i], "service_ns"), 2000000);
	i = find_ev(i, "asyncdev_service_end", "id", 0);
	assert_int_equal(ifield(&evs[i], "res"), 0);
	i = find_ev(i, "asyncdev_done", "id", ifield(&evs[s], "id"));
	assert_int_equal(ifield(&evs[i], "res"), 5);
	assert_true(ifield(&evs[i], "latency_ns") >= 2000000);
	assert_int_equal(count_ev("asyncdev_chan_wait"), 0);
	close(fd);
}

/* io_submit on an empty FIFO: queued, then served once data arrives. */
static void test_io_submit_queued_then_served(void **state)
{
	io_context_t ctx = ctx_new(1);
	int fd = open_node(FIFO_PATH, O_RDWR);
	struct iocb cb, *pcb = &cb;
	struct io_event ev;
	char buf[8];
	long long id;
	int s, i;

	(void)state;
	node_config(fd, 1000000, 0, 1, 0);
	trace_start();
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	assert_int_equal(io_submit(ctx, 1, &pcb), 1);
	write_all(fd, "12345678", 8);
	assert_int_equal(get_events(ctx, 1, 1, &ev, 5000), 1);
	assert_int_equal((long)ev.res, 8);
	trace_stop();

	s = find_ev(0, "asyncdev_submit", "bytes", 8);
	assert_field(&evs[s], "path", "io_submit");
	id = ifield(&evs[s], "id");
	assert_true(id > 0);
	i = find_ev(s, "asyncdev_fifo_queue", "id", id);
	assert_int_equal(ifield(&evs[i], "head"), 1);
	assert_int_equal(ifield(&evs[i], "level"), 0);
	i = find_ev(i, "asyncdev_fifo_head", "id", id);
	assert_int_equal(ifield(&evs[i], "level"), 8);
	i = find_ev(i, "asyncdev_engine", "id", id);
	assert_int_equal(ifield(&evs[i], "res"), 8);
	assert_int_equal(ifield(&evs[i], "now"), 0);
	i = find_ev(i, "asyncdev_service_start", "id", id);
	assert_true(ifield(&evs[i], "service_ns") <= 1000000);
	i = find_ev(i, "asyncdev_service_end", "id", id);
	assert_int_equal(ifield(&evs[i], "in_service"), 1);
	i = find_ev(i, "asyncdev_complete", "id", id);
	assert_int_equal(ifield(&evs[i], "res"), 8);
	assert_int_equal(ifield(&evs[i], "cancelled"), 0);
	assert_field(&evs[i], "path", "io_submit");
	assert_true(ifield(&evs[i], "latency_ns") >= 1000000);
	io_destroy(ctx);
	close(fd);
}

/* io_uring on /dev/asyncmem: inline (IOCB_NOWAIT), then the engine. */
static void test_io_uring_read(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	static char buf[4096];
	long long id;
	int s, i;

	(void)state;
	assert_int_equal(io_uring_queue_init(4, &ring, 0), 0);
	node_config(fd, 1000000, 0, 1, 0);
	trace_start();
	io_uring_prep_read(io_uring_get_sqe(&ring), fd, buf, sizeof(buf), 8192);
	assert_int_equal(io_uring_submit(&ring), 1);
	assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
	assert_int_equal(cqe->res, 4096);
	io_uring_cqe_seen(&ring, cqe);
	trace_stop();

	s = find_ev(0, "asyncdev_submit", "pos", 8192);
	assert_field(&evs[s], "node", "mem");
	assert_field(&evs[s], "path", "io_uring");
	assert_field(&evs[s], "nowait", "1");
	id = ifield(&evs[s], "id");
	i = find_ev(s, "asyncdev_engine", "id", id);
	i = find_ev(i, "asyncdev_service_start", "id", id);
	i = find_ev(i, "asyncdev_service_end", "id", id);
	i = find_ev(i, "asyncdev_complete", "id", id);
	assert_field(&evs[i], "path", "io_uring");
	assert_int_equal(ifield(&evs[i], "res"), 4096);
	io_uring_queue_exit(&ring);
	close(fd);
}

/* io_cancel of a queued FIFO read: who, in which state, then -ECANCELED. */
static void test_cancel_queued(void **state)
{
	io_context_t ctx = ctx_new(1);
	int fd = open_node(FIFO_PATH, O_RDWR);
	struct iocb cb, *pcb = &cb;
	struct io_event ev, dummy;
	char buf[8];
	long long id;
	int s, i;

	(void)state;
	trace_start();
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	assert_int_equal(io_submit(ctx, 1, &pcb), 1);
	assert_int_equal(io_cancel(ctx, &cb, &dummy), -EINPROGRESS);
	assert_int_equal(get_events(ctx, 1, 1, &ev, 5000), 1);
	assert_int_equal((long)ev.res, -ECANCELED);
	trace_stop();

	s = find_ev(0, "asyncdev_submit", "bytes", 8);
	id = ifield(&evs[s], "id");
	i = find_ev(s, "asyncdev_fifo_queue", "id", id);
	i = find_ev(i, "asyncdev_cancel", "id", id);
	assert_field(&evs[i], "state", "queued");
	assert_int_equal(ifield(&evs[i], "by_pid"), gettid());
	assert_int_equal(ifield(&evs[i], "exiting"), 0);
	i = find_ev(i, "asyncdev_service_end", "id", id);
	assert_int_equal(ifield(&evs[i], "in_service"), 0);
	i = find_ev(i, "asyncdev_complete", "id", id);
	assert_int_equal(ifield(&evs[i], "cancelled"), 1);
	assert_int_equal(ifield(&evs[i], "res"), -ECANCELED);
	io_destroy(ctx);
	close(fd);
}

static pid_t reader_tid;

static void *sleeping_reader(void *arg)
{
	struct asyncdev_record rec;

	reader_tid = gettid();
	read_all(*(int *)arg, &rec, sizeof(rec));
	return NULL;
}

static void on_sigio(int sig)
{
	(void)sig;
}

/*
 * A reader sleeps on the empty FIFO; the producer's first record wakes it;
 * a SIGIO subscriber gets POLL_IN. Then, with nobody reading, the producer
 * fills the FIFO and overruns: one event per record and per overrun, as
 * many as the statistics count.
 */
static void test_producer_and_sleeping_reader(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR);
	int sfd = open_node(FIFO_PATH, O_RDONLY);
	struct asyncdev_stats st0, st1;
	pthread_t th;
	int s, p, i;

	(void)state;
	signal(SIGIO, on_sigio);
	assert_int_equal(fcntl(sfd, F_SETOWN, getpid()), 0);
	assert_int_equal(fcntl(sfd, F_SETFL, O_ASYNC), 0);
	trace_start();
	assert_int_equal(pthread_create(&th, NULL, sleeping_reader, &fd), 0);
	sleep_ms(100);
	st0 = node_stats(fd);
	node_config(fd, 0, 0, 1, 100);
	assert_int_equal(pthread_join(th, NULL), 0);
	node_config(fd, 0, 0, 1, 0);
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_FLUSH), 0);
	trace_stop();

	s = find_ev(0, "asyncdev_submit", "bytes", sizeof(struct asyncdev_record));
	assert_int_equal(evs[s].pid, reader_tid);
	assert_field(&evs[s], "path", "sync");
	p = find_ev(s, "asyncdev_produce", "seq", 0);
	i = find_ev(p, "asyncdev_sigio", NULL, 0);
	assert_field(&evs[i], "band", "POLL_IN");
	assert_int_equal(ifield(&evs[i], "subscribers"), 1);	/* sfd */
	i = find_ev(p, "asyncdev_done", "id", ifield(&evs[s], "id"));
	assert_int_equal(ifield(&evs[i], "res"), sizeof(struct asyncdev_record));
	assert_int_equal(evs[i].pid, reader_tid);

	/* Overrun: nobody reads; 64 KiB of records, then drops. */
	fcntl(sfd, F_SETFL, 0);
	st0 = node_stats(fd);
	trace_start();
	node_config(fd, 0, 0, 1, 20000);
	for (int t = 0; t < 500 &&
	     node_stats(fd).producer_overruns == st0.producer_overruns; t++)
		sleep_ms(10);
	node_config(fd, 0, 0, 1, 0);
	trace_stop();
	st1 = node_stats(fd);
	assert_true(st1.producer_overruns > st0.producer_overruns);
	assert_int_equal(count_ev("asyncdev_produce"),
			 st1.producer_records - st0.producer_records);
	assert_int_equal(count_ev("asyncdev_overrun"),
			 st1.producer_overruns - st0.producer_overruns);
	i = find_ev(0, "asyncdev_overrun", NULL, 0);
	assert_true(ifield(&evs[i], "level") > FIFO_BYTES - (long long)sizeof(struct asyncdev_record));
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_FLUSH), 0);
	signal(SIGIO, SIG_DFL);
	close(sfd);
	close(fd);
}

/* An injected fault: the request's submission, then the fault. */
static void test_fault(void **state)
{
	struct asyncdev_fault f = { .mode = ASYNCDEV_FAULT_NEXT, .count = 1,
				    .error = EIO };
	int fd = open_node(FIFO_PATH, O_RDWR);
	int s, i;

	(void)state;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_FAULT, &f), 0);
	trace_start();
	assert_int_equal(write(fd, "abc", 3), -1);
	assert_int_equal(errno, EIO);
	trace_stop();

	s = find_ev(0, "asyncdev_submit", "bytes", 3);
	assert_true(strstr(evs[s].fields, " write "));
	i = find_ev(s, "asyncdev_fault", "error", -EIO);
	assert_field(&evs[i], "node", "fifo");
	assert_int_equal(evs[i].pid, gettid());
	close(fd);
}

/* The listing's lines in @state ("service", "queued", ...) of process @pid. */
static int listing_count(const char *node, const char *state, pid_t pid)
{
	char path[128], *text, *line, *save = NULL;
	int n = 0;

	snprintf(path, sizeof(path), DEBUGFS_DIR "/%s/requests", node);
	text = read_file(path);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char id[24], st[24], rw[8], how[16];
		int lpid;

		if (line[0] == '#')
			continue;
		if (sscanf(line, "%23s %23s %7s %15s %d", id, st, rw, how, &lpid) != 5)
			continue;
		if (!strcmp(st, state) && lpid == pid) {
			printf("#   %s\n", line);
			assert_true(strtoull(id, NULL, 10) > 0);
			assert_string_equal(how, "io_submit");
			n++;
		}
	}
	free(text);
	return n;
}

/*
 * One channel, a long service time: of two reads of /dev/asyncmem, one is
 * in service and one waits for the channel; cancelled, the waiting one
 * leaves the listing, the other stays until its service time is over.
 */
static void test_debugfs_lists_requests_held_in_the_engine(void **state)
{
	io_context_t ctx = ctx_new(2);
	int fd = open_node(MEM_PATH, O_RDWR);
	struct iocb cbs[2], *pcb[2] = { &cbs[0], &cbs[1] };
	struct io_event ev[2], dummy;
	static char bufs[2][4096];

	(void)state;
	node_config(fd, 1000000000ull, 0, 1, 0);
	io_prep_pread(&cbs[0], fd, bufs[0], 4096, 0);
	io_prep_pread(&cbs[1], fd, bufs[1], 4096, 4096);
	assert_int_equal(io_submit(ctx, 2, pcb), 2);
	assert_int_equal(listing_count("asyncmem", "service", getpid()), 1);
	assert_int_equal(listing_count("asyncmem", "chan-wait", getpid()), 1);

	assert_int_equal(io_cancel(ctx, &cbs[1], &dummy), -EINPROGRESS);
	assert_int_equal(get_events(ctx, 1, 1, ev, 5000), 1);
	assert_ptr_equal(ev[0].obj, &cbs[1]);
	assert_int_equal(listing_count("asyncmem", "chan-wait", getpid()), 0);
	assert_int_equal(listing_count("asyncmem", "service", getpid()), 1);

	assert_int_equal(get_events(ctx, 1, 1, ev, 5000), 1);
	assert_ptr_equal(ev[0].obj, &cbs[0]);
	assert_int_equal(listing_count("asyncmem", "service", getpid()), 0);
	io_destroy(ctx);
	node_config(fd, 0, 0, 1, 0);
	close(fd);
}

/* A queued FIFO read is listed until it is cancelled. */
static void test_debugfs_lists_queued_fifo_reads(void **state)
{
	io_context_t ctx = ctx_new(1);
	int fd = open_node(FIFO_PATH, O_RDWR);
	struct iocb cb, *pcb = &cb;
	struct io_event ev, dummy;
	char buf[8];

	(void)state;
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	assert_int_equal(io_submit(ctx, 1, &pcb), 1);
	assert_int_equal(listing_count("asyncdev", "queued", getpid()), 1);
	assert_int_equal(io_cancel(ctx, &cb, &dummy), -EINPROGRESS);
	assert_int_equal(get_events(ctx, 1, 1, &ev, 5000), 1);
	assert_int_equal(listing_count("asyncdev", "queued", getpid()), 0);
	io_destroy(ctx);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_sync_read, setup_reset),
		cmocka_unit_test_setup(test_io_submit_queued_then_served, setup_reset),
		cmocka_unit_test_setup(test_io_uring_read, setup_reset),
		cmocka_unit_test_setup(test_cancel_queued, setup_reset),
		cmocka_unit_test_setup(test_producer_and_sleeping_reader, setup_reset),
		cmocka_unit_test_setup(test_fault, setup_reset),
		cmocka_unit_test_setup(test_debugfs_lists_requests_held_in_the_engine, setup_reset),
		cmocka_unit_test_setup(test_debugfs_lists_queued_fifo_reads, setup_reset),
	};
	int rc;

	evs = calloc(MAX_EVENTS, sizeof(*evs));
	assert_non_null(evs);
	rc = cmocka_run_group_tests_name("trace", tests, NULL, teardown_reset);
	free(evs);
	return rc;
}
