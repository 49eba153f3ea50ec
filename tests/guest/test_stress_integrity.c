/*
 * Integrity under mixed load: three writers (write(2), io_submit, io_uring)
 * and three readers (read(2), io_submit, io_uring) move sequence-numbered,
 * checksummed 64-byte records through the FIFO. Every record must arrive
 * exactly once, intact, and each reader must see each writer's records in
 * order. ADEV_STRESS_RECORDS sets the total (default 1000000); the seed is
 * fixed so a failure reproduces.
 */
#include "guest.h"

#include <libaio.h>
#include <liburing.h>
#include <sys/mman.h>

enum { WRITERS = 3, READERS = 3, BATCH = 16, READ_RECS = 32 };
enum mode { SYNC, AIO, URING };
static const char *const mode_name[] = { "read/write", "io_submit", "io_uring" };

struct rec {
	uint32_t writer;	/* WRITERS = end marker */
	uint32_t seq;
	uint64_t sum;
	uint8_t payload[48];
};

static uint64_t rec_sum(const struct rec *r)
{
	uint64_t s = r->writer * 0x9e3779b97f4a7c15ull + r->seq;

	for (size_t i = 0; i < sizeof(r->payload); i++)
		s = (s ^ r->payload[i]) * 0x100000001b3ull;
	return s;
}

struct shared {
	uint32_t per_writer;
	int errors;
	uint64_t read_by[READERS];
	uint8_t seen[];		/* [WRITERS][per_writer] */
};

static void make_rec(struct rec *r, uint32_t writer, uint32_t seq)
{
	uint64_t x = (uint64_t)writer << 32 | seq;

	r->writer = writer;
	r->seq = seq;
	for (size_t i = 0; i < sizeof(r->payload); i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		r->payload[i] = (uint8_t)(x >> 56);
	}
	r->sum = rec_sum(r);
}

/* Write @n records starting at @seq with @mode; returns 0 on success. */
static int write_batch(enum mode mode, int fd, io_context_t ctx,
		       struct io_uring *ring, struct rec *recs, int n)
{
	if (mode == SYNC) {
		for (int i = 0; i < n; i++)
			if (write(fd, &recs[i], sizeof(*recs)) != sizeof(*recs))
				return 1;
		return 0;
	}
	if (mode == AIO) {
		struct iocb cbs[BATCH], *ptrs[BATCH];
		struct io_event ev[BATCH];
		int got = 0;

		for (int i = 0; i < n; i++) {
			io_prep_pwrite(&cbs[i], fd, &recs[i], sizeof(*recs), 0);
			ptrs[i] = &cbs[i];
		}
		if (io_submit(ctx, n, ptrs) != n)
			return 1;
		while (got < n) {
			int r = io_getevents(ctx, 1, BATCH, ev, NULL);

			if (r < 0 && r != -EINTR)
				return 1;
			for (int i = 0; i < r; i++)
				if ((long)ev[i].res != sizeof(*recs))
					return 1;
			got += r > 0 ? r : 0;
		}
		return 0;
	}
	/* io_uring: a linked chain keeps the batch in order. */
	for (int i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

		io_uring_prep_write(sqe, fd, &recs[i], sizeof(*recs), 0);
		if (i < n - 1)
			sqe->flags |= IOSQE_IO_LINK;
	}
	if (io_uring_submit(ring) != n)
		return 1;
	for (int i = 0; i < n; i++) {
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe(ring, &cqe))
			return 1;
		if (cqe->res != sizeof(*recs))
			return 1;
		io_uring_cqe_seen(ring, cqe);
	}
	return 0;
}

static int writer(enum mode mode, uint32_t id, uint32_t count)
{
	struct rec recs[BATCH];
	io_context_t ctx = 0;
	struct io_uring ring;
	int fd = open(FIFO_PATH, O_RDWR);

	if (fd < 0 || (mode == AIO && io_setup(BATCH, &ctx)) ||
	    (mode == URING && io_uring_queue_init(BATCH, &ring, 0)))
		return 1;
	for (uint32_t s = 0; s < count; s += BATCH) {
		int n = count - s < BATCH ? (int)(count - s) : BATCH;

		for (int i = 0; i < n; i++)
			make_rec(&recs[i], id, s + (uint32_t)i);
		if (write_batch(mode, fd, ctx, &ring, recs, n))
			return 1;
	}
	return 0;
}

/* One read of up to READ_RECS records; returns bytes or -errno. */
static ssize_t read_once(enum mode mode, int fd, io_context_t ctx,
			 struct io_uring *ring, struct rec *buf)
{
	size_t len = READ_RECS * sizeof(*buf);

	if (mode == SYNC) {
		ssize_t r;

		do {
			r = read(fd, buf, len);
		} while (r < 0 && errno == EINTR);
		return r < 0 ? -errno : r;
	}
	if (mode == AIO) {
		struct iocb cb, *p = &cb;
		struct io_event ev;
		int r;

		io_prep_pread(&cb, fd, buf, len, 0);
		if (io_submit(ctx, 1, &p) != 1)
			return -EIO;
		do {
			r = io_getevents(ctx, 1, 1, &ev, NULL);
		} while (r == -EINTR);
		return r == 1 ? (ssize_t)ev.res : -EIO;
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	ssize_t res;

	io_uring_prep_read(sqe, fd, buf, len, 0);
	if (io_uring_submit(ring) != 1 || io_uring_wait_cqe(ring, &cqe))
		return -EIO;
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

static int reader(enum mode mode, int idx, struct shared *sh)
{
	struct rec buf[READ_RECS];
	int64_t last[WRITERS];
	io_context_t ctx = 0;
	struct io_uring ring;
	int fd = open(FIFO_PATH, O_RDWR);
	int markers = 0;

	if (fd < 0 || (mode == AIO && io_setup(4, &ctx)) ||
	    (mode == URING && io_uring_queue_init(4, &ring, 0)))
		return 1;
	for (int w = 0; w < WRITERS; w++)
		last[w] = -1;
	while (!markers) {
		ssize_t n = read_once(mode, fd, ctx, &ring, buf);

		if (n <= 0 || n % sizeof(struct rec))
			return 1;
		for (size_t i = 0; i < n / sizeof(struct rec); i++) {
			struct rec *r = &buf[i];

			if (r->writer == WRITERS) {
				markers++;
				continue;
			}
			if (r->writer > WRITERS || r->seq >= sh->per_writer ||
			    r->sum != rec_sum(r) ||
			    (int64_t)r->seq <= last[r->writer]) {
				__atomic_add_fetch(&sh->errors, 1, __ATOMIC_RELAXED);
				continue;
			}
			last[r->writer] = r->seq;
			sh->read_by[idx]++;
			__atomic_add_fetch(&sh->seen[r->writer * sh->per_writer + r->seq],
					   1, __ATOMIC_RELAXED);
		}
	}
	/* Keep one end marker, hand back the others. */
	struct rec end = { .writer = WRITERS };

	while (--markers)
		if (write(fd, &end, sizeof(end)) != sizeof(end))
			return 1;
	return 0;
}

static void test_mixed_modes_integrity(void **state)
{
	const char *env = getenv("ADEV_STRESS_RECORDS");
	uint32_t total = env ? (uint32_t)strtoul(env, NULL, 0) : 1000000;
	uint32_t per = (total + WRITERS - 1) / WRITERS;
	size_t shsize = sizeof(struct shared) + (size_t)WRITERS * per;
	struct rec end = { .writer = WRITERS };
	pid_t w[WRITERS], r[READERS];
	struct shared *sh;
	uint64_t t0, missing = 0, dup = 0;
	double secs;
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	sh = mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		  -1, 0);
	assert_true(sh != MAP_FAILED);
	sh->per_writer = per;
	t0 = now_ns();
	for (int i = 0; i < READERS; i++) {
		r[i] = fork();
		assert_true(r[i] >= 0);
		if (!r[i])
			_exit(reader((enum mode)i, i, sh));
	}
	for (int i = 0; i < WRITERS; i++) {
		w[i] = fork();
		assert_true(w[i] >= 0);
		if (!w[i])
			_exit(writer((enum mode)i, (uint32_t)i, per));
	}
	for (int i = 0; i < WRITERS; i++)
		wait_child_ok(w[i]);
	for (int i = 0; i < READERS; i++)
		assert_int_equal(write(fd, &end, sizeof(end)), sizeof(end));
	for (int i = 0; i < READERS; i++)
		wait_child_ok(r[i]);
	secs = (now_ns() - t0) / 1e9;

	for (size_t i = 0; i < (size_t)WRITERS * per; i++) {
		missing += sh->seen[i] == 0;
		dup += sh->seen[i] > 1;
	}
	printf("# %u records (%.1f MiB) in %.1f s: %.0f records/s; read by",
	       WRITERS * per, WRITERS * per * 64.0 / 1048576, secs,
	       WRITERS * per / secs);
	for (int i = 0; i < READERS; i++)
		printf(" %s %llu%s", mode_name[i], (unsigned long long)sh->read_by[i],
		       i < READERS - 1 ? "," : "\n");
	printf("# writers: %s, %s, %s; missing %llu, duplicated %llu, corrupt or out of order %d\n",
	       mode_name[0], mode_name[1], mode_name[2], (unsigned long long)missing,
	       (unsigned long long)dup, sh->errors);
	assert_int_equal(sh->errors, 0);
	assert_int_equal(missing, 0);
	assert_int_equal(dup, 0);
	assert_int_equal(fifo_level(fd), 0);
	assert_int_equal(node_stats(fd).in_flight, 0);
	munmap(sh, shsize);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mixed_modes_integrity,
						setup_reset, teardown_reset),
	};

	return cmocka_run_group_tests_name("stress_integrity", tests, NULL, NULL);
}
