/*
 * The producer of /dev/asyncdev: records appended at produce_hz, their
 * layout, sequence and timestamps, the rate, stopping, overruns on a full
 * FIFO, and the produce_hz sysfs attribute.
 */
#include "guest.h"

#include <poll.h>
#include <pthread.h>
#include <sys/uio.h>

#define REC		sizeof(struct asyncdev_record)
#define SYSFS_FIFO	"/sys/class/misc/asyncdev/"
#define SYSFS_MEM	"/sys/class/misc/asyncmem/"

/*
 * Check one record; *@seq is the expected sequence number, advanced. It was
 * appended at most @max_age_ns ago.
 */
static void check_record_age(const struct asyncdev_record *r, uint64_t *seq,
			     uint64_t *last_ts, uint64_t max_age_ns)
{
	uint64_t now = now_ns();

	assert_int_equal(r->magic, ASYNCDEV_RECORD_MAGIC);
	assert_int_equal(r->size, REC);
	assert_int_equal(r->seq, *seq);
	for (size_t i = 0; i < sizeof(r->payload); i++)
		if (r->payload[i] != (uint8_t)(r->seq + i))
			fail_msg("record %llu: payload[%zu] = %u, want %u",
				 (unsigned long long)r->seq, i, r->payload[i],
				 (uint8_t)(r->seq + i));
	assert_true(r->timestamp_ns >= *last_ts);
	assert_true(r->timestamp_ns <= now);
	assert_true(now - r->timestamp_ns < max_age_ns);
	*last_ts = r->timestamp_ns;
	(*seq)++;
}

/* A record read as it arrives: appended less than 1 s ago. */
static void check_record(const struct asyncdev_record *r, uint64_t *seq,
			 uint64_t *last_ts)
{
	check_record_age(r, seq, last_ts, 1000000000u);
}

/*
 * Read and check records from @fd (O_NONBLOCK) until @until_ns; returns
 * the number read.
 */
static uint64_t read_records(int fd, uint64_t until_ns, uint64_t *seq,
			     uint64_t *last_ts)
{
	static unsigned char buf[64 * REC];
	static size_t have;	/* a partial record carried over */
	uint64_t n = 0;

	while (now_ns() < until_ns) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left_ms = (int)((until_ns - now_ns()) / 1000000) + 1;
		ssize_t r;

		if (poll(&p, 1, left_ms) <= 0)
			continue;
		r = read(fd, buf + have, sizeof(buf) - have);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		assert_true(r > 0);
		have += (size_t)r;
		size_t off = 0;

		for (; have - off >= REC; off += REC, n++) {
			struct asyncdev_record rec;

			memcpy(&rec, buf + off, REC);
			check_record(&rec, seq, last_ts);
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	assert_int_equal(have, 0);	/* records are appended whole */
	return n;
}

static void test_records_rate_and_stop(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR | O_NONBLOCK);
	uint64_t seq = 0, last_ts = 0, n, t0, dt, produced;
	struct asyncdev_stats s;
	char b[REC];
	double hz;

	(void)state;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_RESET_STATS), 0);
	t0 = now_ns();
	node_config(fd, 0, 0, 1, 200);
	n = read_records(fd, t0 + 1000000000u, &seq, &last_ts);
	dt = now_ns() - t0;
	hz = (double)n * 1e9 / (double)dt;
	printf("# producer at 200 Hz: %llu records in %.3f s = %.1f/s\n",
	       (unsigned long long)n, (double)dt / 1e9, hz);
	assert_true(hz >= 100.0 && hz <= 300.0);

	/* Stop, then take what was appended before the stop. */
	node_config(fd, 0, 0, 1, 0);
	n += read_records(fd, now_ns() + 20000000u, &seq, &last_ts);
	s = node_stats(fd);
	produced = s.producer_records;
	assert_int_equal(produced, n);
	assert_int_equal(s.producer_overruns, 0);
	assert_int_equal(s.fifo_level, 0);

	/* Nothing more arrives. */
	sleep_ms(100);
	s = node_stats(fd);
	assert_int_equal(s.producer_records, produced);
	assert_int_equal(s.fifo_level, 0);
	errno = 0;
	assert_int_equal(read(fd, b, sizeof(b)), -1);
	assert_int_equal(errno, EAGAIN);
	close(fd);
}

static void test_restart_resets_seq(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR | O_NONBLOCK);
	uint64_t seq = 0, last_ts = 0, n;

	(void)state;
	node_config(fd, 0, 0, 1, 1000);
	n = read_records(fd, now_ns() + 100000000u, &seq, &last_ts);
	assert_true(n > 0);
	/* Retuning a running producer keeps the sequence. */
	node_config(fd, 0, 0, 1, 500);
	n = read_records(fd, now_ns() + 100000000u, &seq, &last_ts);
	assert_true(n > 0);
	/* Stopped and started again: it starts over at 0. */
	node_config(fd, 0, 0, 1, 0);
	read_records(fd, now_ns() + 20000000u, &seq, &last_ts);
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_FLUSH), 0);
	node_config(fd, 0, 0, 1, 1000);
	seq = 0;
	n = read_records(fd, now_ns() + 100000000u, &seq, &last_ts);
	assert_true(n > 0);
	device_reset();
	close(fd);
}

static void test_overruns_on_full_fifo(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR | O_NONBLOCK);
	struct asyncdev_stats s, s2;
	struct asyncdev_record rec;
	uint64_t seq = 0, last_ts = 0;

	(void)state;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_RESET_STATS), 0);
	node_config(fd, 0, 0, 1, 20000);
	sleep_ms(1000);
	s = node_stats(fd);
	printf("# producer at 20000 Hz, no reader, 1 s: %llu records, %llu overruns, "
	       "level %llu\n", (unsigned long long)s.producer_records,
	       (unsigned long long)s.producer_overruns,
	       (unsigned long long)s.fifo_level);
	assert_true(s.fifo_level <= FIFO_BYTES);
	assert_true(s.fifo_level > FIFO_BYTES - REC);	/* full */
	assert_int_equal(s.fifo_level, s.producer_records * REC);
	assert_true(s.producer_overruns > 0);
	/* Loosely at rate: 25% of 20000 periods were counted at least. */
	assert_true(s.producer_records + s.producer_overruns >= 5000);
	assert_true(s.fifo_high_water <= FIFO_BYTES);

	/*
	 * Dropped records used up their sequence numbers: slow the producer
	 * down (retuning keeps the sequence), make room, and the next record
	 * carries seq = records + overruns - 1.
	 */
	node_config(fd, 0, 0, 1, 2);
	assert_int_equal(read(fd, &rec, REC), REC);
	check_record_age(&rec, &seq, &last_ts, 10000000000ull);
	{
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t stored = node_stats(fd).fifo_level / REC;

		for (uint64_t i = 0; i < stored; i++)
			assert_int_equal(read(fd, &rec, REC), REC);
		assert_int_equal(poll(&p, 1, 3000), 1);
		assert_int_equal(read(fd, &rec, REC), REC);
		s2 = node_stats(fd);	/* the next record is 500 ms away */
		printf("# after the overruns the next record is seq %llu "
		       "(%llu records + %llu overruns so far)\n",
		       (unsigned long long)rec.seq,
		       (unsigned long long)s2.producer_records,
		       (unsigned long long)s2.producer_overruns);
		assert_true(rec.seq >= s.producer_records + s.producer_overruns);
		assert_int_equal(rec.seq + 1, s2.producer_records +
					      s2.producer_overruns);
	}
	node_config(fd, 0, 0, 1, 0);
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_FLUSH), 0);
	assert_int_equal(node_stats(fd).fifo_level, 0);
	close(fd);
}

/* Stopping the producer stops it; what it stored stays, in order. */
static void test_stop_keeps_records(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR | O_NONBLOCK);
	struct asyncdev_stats s, s2;
	struct asyncdev_record rec;
	uint64_t seq = 0, last_ts = 0;

	(void)state;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_RESET_STATS), 0);
	node_config(fd, 0, 0, 1, 20000);
	sleep_ms(200);
	node_config(fd, 0, 0, 1, 0);
	s = node_stats(fd);
	sleep_ms(50);
	s2 = node_stats(fd);
	assert_int_equal(s2.producer_records, s.producer_records);
	assert_int_equal(s2.producer_overruns, s.producer_overruns);
	/* The stored records are intact, in order from 0 (and old by now). */
	assert_int_equal(s.fifo_level, s.producer_records * REC);
	for (uint64_t i = 0; i < s.producer_records; i++) {
		assert_int_equal(read(fd, &rec, REC), REC);
		check_record_age(&rec, &seq, &last_ts, 10000000000ull);
	}
	assert_int_equal(node_stats(fd).fifo_level, 0);
	close(fd);
}

#define USER_MAGIC	0x52455355u	/* "USER" */
#define BAD_MAGIC	0x21444142u	/* "BAD!" */

struct mix_reader {
	int fd;
	volatile int stop;
	uint64_t producer, user, next_user, last_prod;
	int have_prod;
	int bad_line;	/* cmocka's asserts belong to the main thread */
};

#define MIX_CHECK(m, cond) do { if (!(cond)) { (m)->bad_line = __LINE__; \
	return NULL; } } while (0)

/* Parse 64-byte units: producer records or the writer's own, nothing else. */
static void *mix_reader_fn(void *p)
{
	struct mix_reader *m = p;
	static unsigned char buf[256 * REC];
	size_t have = 0;

	for (;;) {
		struct pollfd pf = { .fd = m->fd, .events = POLLIN };
		ssize_t r;
		size_t off = 0;

		if (poll(&pf, 1, 100) <= 0) {
			if (m->stop)
				break;
			continue;
		}
		r = read(m->fd, buf + have, sizeof(buf) - have);
		if (r < 0 && errno == EAGAIN)
			continue;
		MIX_CHECK(m, r > 0);
		have += (size_t)r;
		for (; have - off >= REC; off += REC) {
			struct asyncdev_record rec;

			memcpy(&rec, buf + off, REC);
			if (rec.magic == ASYNCDEV_RECORD_MAGIC) {
				if (m->have_prod)
					MIX_CHECK(m, rec.seq > m->last_prod);
				for (size_t i = 0; i < sizeof(rec.payload); i++)
					MIX_CHECK(m, rec.payload[i] ==
						  (uint8_t)(rec.seq + i));
				m->have_prod = 1;
				m->last_prod = rec.seq;
				m->producer++;
			} else {
				MIX_CHECK(m, rec.magic == USER_MAGIC);
				MIX_CHECK(m, rec.seq == m->next_user);
				m->next_user++;
				m->user++;
			}
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	MIX_CHECK(m, have == 0);
	return NULL;
}

/*
 * Writers copy into the FIFO's ring while the producer appends behind
 * them: good writes and faulting atomic writes (a good segment, then a bad
 * pointer) race a 20 kHz producer. The stream must hold exactly the good
 * writes and the producer's records, whole and in order, and nothing of
 * the failed writes.
 */
static void test_writers_and_faults_with_producer(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR | O_NONBLOCK);
	struct mix_reader m = { .fd = open_node(FIFO_PATH, O_RDONLY | O_NONBLOCK) };
	struct asyncdev_record good = { .magic = USER_MAGIC, .size = REC };
	struct asyncdev_record bad = { .magic = BAD_MAGIC, .size = REC };
	struct iovec iov[2] = { { &bad, REC }, { bad_ptr(), REC } };
	uint64_t faults = 0, t_end;
	pthread_t t;

	(void)state;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_RESET_STATS), 0);
	assert_int_equal(pthread_create(&t, NULL, mix_reader_fn, &m), 0);
	node_config(fd, 0, 0, 1, 20000);
	t_end = now_ns() + 2000000000ull;
	/* Non-blocking: if the reader thread gave up, stop rather than hang. */
	while (now_ns() < t_end && !m.bad_line) {
		errno = 0;
		if (writev(fd, iov, 2) == -1 && errno == EAGAIN)
			continue;
		assert_int_equal(errno, EFAULT);
		faults++;
		while (write(fd, &good, REC) != REC && !m.bad_line)
			assert_int_equal(errno, EAGAIN);
		good.seq++;
	}
	node_config(fd, 0, 0, 1, 0);
	sleep_ms(200);
	m.stop = 1;
	pthread_join(t, NULL);
	if (m.bad_line)
		fail_msg("stream check failed at test_producer.c:%d after %llu "
			 "writer and %llu producer records", m.bad_line,
			 (unsigned long long)m.user,
			 (unsigned long long)m.producer);
	printf("# 2 s: %llu good writes, %llu faulting writes, %llu producer records "
	       "(%llu overruns), all read back whole and in order\n",
	       (unsigned long long)good.seq, (unsigned long long)faults,
	       (unsigned long long)m.producer,
	       (unsigned long long)node_stats(fd).producer_overruns);
	assert_int_equal(m.user, good.seq);
	assert_int_equal(m.producer, node_stats(fd).producer_records);
	assert_true(m.producer > 0);
	close(m.fd);
	close(fd);
}

static ssize_t sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	r = write(fd, val, strlen(val));
	if (r < 0) {
		int e = errno;

		close(fd);
		errno = e;
	} else {
		close(fd);
	}
	return r;
}

static unsigned long long sysfs_read_ull(const char *path)
{
	char buf[64] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(r > 0);
	assert_int_equal(buf[r - 1], '\n');
	return strtoull(buf, NULL, 10);
}

static void test_sysfs_produce_hz(void **state)
{
	char big[32];
	struct asyncdev_config c;
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	assert_int_equal(sysfs_read_ull(SYSFS_FIFO "produce_hz"), 0);
	node_config(fd, 0, 0, 1, 200);
	assert_int_equal(sysfs_read_ull(SYSFS_FIFO "produce_hz"), 200);

	errno = 0;
	assert_int_equal(sysfs_write(SYSFS_FIFO "produce_hz", "abc"), -1);
	assert_int_equal(errno, EINVAL);
	snprintf(big, sizeof(big), "%u", ASYNCDEV_MAX_PRODUCE_HZ + 1);
	errno = 0;
	assert_int_equal(sysfs_write(SYSFS_FIFO "produce_hz", big), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(sysfs_write(SYSFS_FIFO "produce_hz", "4294967296"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(sysfs_read_ull(SYSFS_FIFO "produce_hz"), 200);

	/* A valid value is applied. */
	assert_int_equal(sysfs_write(SYSFS_FIFO "produce_hz", "50\n"), 3);
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_CONFIG, &c), 0);
	assert_int_equal(c.produce_hz, 50);
	assert_int_equal(sysfs_write(SYSFS_FIFO "produce_hz", "0"), 1);
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_CONFIG, &c), 0);
	assert_int_equal(c.produce_hz, 0);

	/* The memory node has no producer. */
	errno = 0;
	assert_int_equal(access(SYSFS_MEM "produce_hz", F_OK), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(access(SYSFS_MEM "channels", F_OK), 0);
	device_reset();
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_records_rate_and_stop, setup_reset),
		cmocka_unit_test_setup(test_restart_resets_seq, setup_reset),
		cmocka_unit_test_setup(test_stop_keeps_records, setup_reset),
		cmocka_unit_test_setup(test_overruns_on_full_fifo, setup_reset),
		cmocka_unit_test_setup(test_writers_and_faults_with_producer,
					setup_reset),
		cmocka_unit_test_setup(test_sysfs_produce_hz, setup_reset),
	};

	return cmocka_run_group_tests_name("producer", tests, NULL, teardown_reset);
}
