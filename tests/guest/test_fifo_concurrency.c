/*
 * Several writer and reader processes share the FIFO: every record arrives
 * exactly once, whole, and each reader sees each writer's records in order.
 */
#include "guest.h"

#include <sys/mman.h>

enum { WRITERS = 4, READERS = 3, PER_WRITER = 5000 };

struct rec {
	uint32_t writer;	/* WRITERS = end marker */
	uint32_t seq;
	uint64_t sum;
	uint8_t payload[48];
};

static uint64_t rec_sum(const struct rec *r)
{
	uint64_t s = r->writer * 1000003ull + r->seq;

	for (size_t i = 0; i < sizeof(r->payload); i++)
		s = s * 31 + r->payload[i];
	return s;
}

/* Shared between processes: how often each record was seen, errors. */
struct shared {
	uint8_t seen[WRITERS][PER_WRITER];
	int errors;
};

static int reader(int fd, struct shared *sh)
{
	struct rec buf[64];
	int64_t last[WRITERS];
	int markers = 0;

	for (int w = 0; w < WRITERS; w++)
		last[w] = -1;
	for (;;) {
		/* Reads may return any number of whole records (all writes are
		 * 64-byte atomic records). */
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0 || n % sizeof(struct rec))
			return 1;
		for (size_t i = 0; i < n / sizeof(struct rec); i++) {
			struct rec *r = &buf[i];

			if (r->writer == WRITERS) {
				markers++;
				continue;
			}
			if (r->writer > WRITERS || r->seq >= PER_WRITER ||
			    r->sum != rec_sum(r) || (int64_t)r->seq <= last[r->writer]) {
				__atomic_add_fetch(&sh->errors, 1, __ATOMIC_SEQ_CST);
				continue;
			}
			last[r->writer] = r->seq;
			__atomic_add_fetch(&sh->seen[r->writer][r->seq], 1, __ATOMIC_SEQ_CST);
		}
		if (markers) {
			/* Keep one end marker, hand the others back. */
			struct rec end = { .writer = WRITERS };

			while (--markers)
				if (write(fd, &end, sizeof(end)) != sizeof(end))
					return 1;
			return 0;
		}
	}
}

static int writer(int fd, uint32_t id)
{
	struct rec r = { .writer = id };

	srand(id + 1);
	for (uint32_t s = 0; s < PER_WRITER; s++) {
		r.seq = s;
		for (size_t i = 0; i < sizeof(r.payload); i++)
			r.payload[i] = (uint8_t)rand();
		r.sum = rec_sum(&r);
		if (write(fd, &r, sizeof(r)) != sizeof(r))
			return 1;
	}
	return 0;
}

static void test_many_readers_many_writers(void **state)
{
	struct shared *sh;
	pid_t w[WRITERS], r[READERS];
	struct rec end = { .writer = WRITERS };
	int fd = open_node(FIFO_PATH, O_RDWR);

	(void)state;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(sh != MAP_FAILED);
	for (int i = 0; i < READERS; i++) {
		r[i] = fork();
		assert_true(r[i] >= 0);
		if (!r[i])
			_exit(reader(fd, sh));
	}
	for (int i = 0; i < WRITERS; i++) {
		w[i] = fork();
		assert_true(w[i] >= 0);
		if (!w[i])
			_exit(writer(fd, (uint32_t)i));
	}
	for (int i = 0; i < WRITERS; i++)
		wait_child_ok(w[i]);
	/* One end marker per reader, after all data. */
	for (int i = 0; i < READERS; i++)
		assert_int_equal(write(fd, &end, sizeof(end)), sizeof(end));
	for (int i = 0; i < READERS; i++)
		wait_child_ok(r[i]);

	assert_int_equal(sh->errors, 0);
	for (int i = 0; i < WRITERS; i++)
		for (int s = 0; s < PER_WRITER; s++)
			if (sh->seen[i][s] != 1)
				fail_msg("writer %d record %d seen %d times", i, s,
					 sh->seen[i][s]);
	assert_int_equal(fifo_level(fd), 0);
	printf("# %d records from %d writers through %d readers\n",
	       WRITERS * PER_WRITER, WRITERS, READERS);
	munmap(sh, sizeof(*sh));
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_many_readers_many_writers, setup_reset),
	};

	return cmocka_run_group_tests_name("fifo_concurrency", tests, NULL, NULL);
}
