/*
 * mmap of /dev/asyncmem: a shared mapping is the device memory itself, so
 * stores through it are what pread, io_submit and io_uring read (with and
 * without latency), and what they write is what the mapping shows. Private
 * mappings are copy-on-write, as for a file. Mappings that reach past the
 * device are refused with EINVAL; an access past it (after mremap) is
 * SIGBUS; MADV_DONTNEED drops nothing but the page table entries.
 */
#include "guest.h"

#include <libaio.h>
#include <liburing.h>
#include <sys/mman.h>

#define MEM_BYTES	(16u << 20)
#define PG		4096u

static void fill(unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 29 + i * 11 + (i >> 12));
}

static unsigned char *map(int fd, size_t len, int prot, int flags, off_t off)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);

	if (p == MAP_FAILED)
		fail_msg("mmap(len %zu, prot %d, flags %d, off %lld): %s", len,
			 prot, flags, (long long)off, strerror(errno));
	return p;
}

static void get_events(io_context_t ctx, int n, struct io_event *ev)
{
	struct timespec ts = { 10, 0 };
	int got = 0;

	while (got < n) {
		int r = io_getevents(ctx, 1, n - got, ev + got, &ts);

		if (r == -EINTR)
			continue;
		if (r <= 0)
			fail_msg("io_getevents: %d after %d of %d", r, got, n);
		got += r;
	}
}

/* io_submit one read or write of @n bytes at @off and wait for it. */
static long aio_one(int fd, bool write, void *p, size_t n, off_t off)
{
	struct iocb cb, *pcb = &cb;
	struct io_event ev;
	io_context_t ctx = 0;

	assert_int_equal(io_setup(1, &ctx), 0);
	if (write)
		io_prep_pwrite(&cb, fd, p, n, off);
	else
		io_prep_pread(&cb, fd, p, n, off);
	assert_int_equal(io_submit(ctx, 1, &pcb), 1);
	get_events(ctx, 1, &ev);
	io_destroy(ctx);
	return (long)ev.res;
}

static int uring_one(int fd, bool write, void *p, unsigned int n, off_t off)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int res;

	assert_int_equal(io_uring_queue_init(2, &ring, 0), 0);
	sqe = io_uring_get_sqe(&ring);
	if (write)
		io_uring_prep_write(sqe, fd, p, n, off);
	else
		io_uring_prep_read(sqe, fd, p, n, off);
	assert_int_equal(io_uring_submit(&ring), 1);
	assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
	res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	return res;
}

static void test_map_whole_device_shared(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	unsigned char *m;

	(void)state;
	m = map(fd, MEM_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	/* Freshly loaded module, reset device: reads back as written. */
	m[0] = 1;
	m[MEM_BYTES - 1] = 2;
	assert_int_equal(m[0], 1);
	assert_int_equal(m[MEM_BYTES - 1], 2);
	assert_int_equal(munmap(m, MEM_BYTES), 0);
	close(fd);
}

/* Stores through the mapping, then pread / io_submit / io_uring read. */
static void mapping_to_read(uint64_t latency_ns)
{
	enum { N = 3 * PG + 100 };
	static unsigned char in[N], out[N];
	const off_t off = 5 * PG + 123;
	int fd = open_node(MEM_PATH, O_RDWR);
	unsigned char *m;

	node_config(fd, latency_ns, 0, 2, 0);
	m = map(fd, 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	fill(in, N, (unsigned int)latency_ns + 1);
	memcpy(m + off, in, N);

	memset(out, 0, N);
	assert_int_equal(pread(fd, out, N, off), N);
	assert_memory_equal(in, out, N);
	memset(out, 0, N);
	assert_int_equal(aio_one(fd, false, out, N, off), N);
	assert_memory_equal(in, out, N);
	memset(out, 0, N);
	assert_int_equal(uring_one(fd, false, out, N, off), N);
	assert_memory_equal(in, out, N);
	/* A later store is seen too (no copy was taken at mmap time). */
	m[off] ^= 0xff;
	assert_int_equal(pread(fd, out, 1, off), 1);
	assert_int_equal(out[0], (unsigned char)(in[0] ^ 0xff));
	assert_int_equal(munmap(m, 16 * PG), 0);
	close(fd);
}

static void test_store_then_read(void **state)
{
	(void)state;
	mapping_to_read(0);
}

static void test_store_then_read_with_latency(void **state)
{
	(void)state;
	mapping_to_read(2000000);
	device_reset();
}

/* pwrite / io_submit / io_uring write, then loads through the mapping. */
static void write_to_mapping(uint64_t latency_ns)
{
	enum { N = 2 * PG + 77 };
	static unsigned char in[3][N];
	const off_t off[3] = { 100 * PG + 5, 200 * PG + 9, 300 * PG };
	int fd = open_node(MEM_PATH, O_RDWR);
	unsigned char *m;

	node_config(fd, latency_ns, 0, 2, 0);
	/* Mapped first, and every page touched, before the writes. */
	m = map(fd, MEM_BYTES, PROT_READ, MAP_SHARED, 0);
	for (size_t i = 0; i < 3; i++)
		for (size_t k = 0; k < N; k += PG)
			(void)*(volatile unsigned char *)(m + off[i] + k);
	for (int i = 0; i < 3; i++)
		fill(in[i], N, 40 + (unsigned int)i + (unsigned int)latency_ns);
	assert_int_equal(pwrite(fd, in[0], N, off[0]), N);
	assert_int_equal(aio_one(fd, true, in[1], N, off[1]), N);
	assert_int_equal(uring_one(fd, true, in[2], N, off[2]), N);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(in[i], m + off[i], N);
	assert_int_equal(munmap(m, MEM_BYTES), 0);
	close(fd);
}

static void test_write_then_load(void **state)
{
	(void)state;
	write_to_mapping(0);
}

static void test_write_then_load_with_latency(void **state)
{
	(void)state;
	write_to_mapping(2000000);
	device_reset();
}

/* A mapping at an offset maps that part of the device. */
static void test_map_at_offset(void **state)
{
	unsigned char in[2 * PG], out[2 * PG];
	int fd = open_node(MEM_PATH, O_RDWR);
	unsigned char *m;

	(void)state;
	m = map(fd, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, 1 << 20);
	fill(in, sizeof(in), 9);
	memcpy(m, in, sizeof(in));
	assert_int_equal(pread(fd, out, sizeof(out), 1 << 20), sizeof(out));
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(munmap(m, 2 * PG), 0);
	/* The last page. */
	m = map(fd, PG, PROT_READ | PROT_WRITE, MAP_SHARED, MEM_BYTES - PG);
	m[PG - 1] = 0x5a;
	assert_int_equal(pread(fd, out, 1, MEM_BYTES - 1), 1);
	assert_int_equal(out[0], 0x5a);
	assert_int_equal(munmap(m, PG), 0);
	close(fd);
}

/* Two mappings and two processes see one memory. */
static void test_shared_across_fork(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	unsigned char *a, *b;
	pid_t pid;

	(void)state;
	a = map(fd, PG, PROT_READ | PROT_WRITE, MAP_SHARED, 7 * PG);
	b = map(fd, PG, PROT_READ | PROT_WRITE, MAP_SHARED, 7 * PG);
	assert_ptr_not_equal(a, b);
	a[10] = 0x11;
	assert_int_equal(b[10], 0x11);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		b[11] = 0x22;
		_exit(a[10] == 0x11 ? 0 : 1);
	}
	wait_child_ok(pid);
	assert_int_equal(a[11], 0x22);
	munmap(a, PG);
	munmap(b, PG);
	close(fd);
}

/* The mapping outlives the descriptor. */
static void test_mapping_outlives_close(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	unsigned char *m = map(fd, PG, PROT_READ | PROT_WRITE, MAP_SHARED, 9 * PG);
	unsigned char c = 0;

	(void)state;
	close(fd);
	m[1] = 0x77;
	fd = open_node(MEM_PATH, O_RDONLY);
	assert_int_equal(pread(fd, &c, 1, 9 * PG + 1), 1);
	assert_int_equal(c, 0x77);
	munmap(m, PG);
	close(fd);
}

/* MADV_DONTNEED drops the page table entries; the data stays. */
static void test_madv_dontneed_keeps_data(void **state)
{
	unsigned char in[4 * PG];
	int fd = open_node(MEM_PATH, O_RDWR);
	unsigned char *m = map(fd, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, 0);

	(void)state;
	fill(in, sizeof(in), 5);
	memcpy(m, in, sizeof(in));
	assert_int_equal(madvise(m, sizeof(in), MADV_DONTNEED), 0);
	assert_memory_equal(in, m, sizeof(in));
	assert_int_equal(madvise(m, sizeof(in), MADV_WILLNEED), 0);
	assert_memory_equal(in, m, sizeof(in));
	/* The same through io_uring, as liburing's madvise test does it. */
	{
		struct io_uring ring;
		struct io_uring_sqe *sqe;
		struct io_uring_cqe *cqe;

		assert_int_equal(io_uring_queue_init(2, &ring, 0), 0);
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_madvise(sqe, m, sizeof(in), MADV_DONTNEED);
		assert_int_equal(io_uring_submit(&ring), 1);
		assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
		assert_int_equal(cqe->res, 0);
		io_uring_cqe_seen(&ring, cqe);
		io_uring_queue_exit(&ring);
	}
	assert_memory_equal(in, m, sizeof(in));
	munmap(m, 4 * PG);
	close(fd);
}

/*
 * MAP_PRIVATE is copy-on-write, as for a file: it reads the device, and
 * its own stores stay private.
 */
static void test_private_mapping_copy_on_write(void **state)
{
	unsigned char in[PG], c = 0;
	int fd = open_node(MEM_PATH, O_RDWR);
	unsigned char *ro, *rw;

	(void)state;
	fill(in, sizeof(in), 6);
	assert_int_equal(pwrite(fd, in, sizeof(in), 3 * PG), sizeof(in));
	ro = map(fd, PG, PROT_READ, MAP_PRIVATE, 3 * PG);
	assert_memory_equal(in, ro, sizeof(in));
	rw = map(fd, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, 3 * PG);
	assert_memory_equal(in, rw, sizeof(in));
	rw[0] = (unsigned char)~in[0];
	assert_int_equal(pread(fd, &c, 1, 3 * PG), 1);
	assert_int_equal(c, in[0]);
	assert_int_equal(ro[0], in[0]);
	munmap(ro, PG);
	munmap(rw, PG);
	close(fd);
}

static void expect_mmap_error(int fd, size_t len, int prot, int flags,
			      off_t off, int err)
{
	void *p;

	errno = 0;
	p = mmap(NULL, len, prot, flags, fd, off);
	if (p != MAP_FAILED) {
		munmap(p, len);
		fail_msg("mmap(len %zu, off %lld) succeeded, want %s", len,
			 (long long)off, strerror(err));
	}
	if (errno != err)
		fail_msg("mmap(len %zu, off %lld): %s, want %s", len,
			 (long long)off, strerror(errno), strerror(err));
}

/* Past the device: EINVAL. Open mode: EACCES (the kernel's checks). */
static void test_refusals(void **state)
{
	int rw = open_node(MEM_PATH, O_RDWR);
	int ro = open_node(MEM_PATH, O_RDONLY);
	int wo = open_node(MEM_PATH, O_WRONLY);
	const int prw = PROT_READ | PROT_WRITE;

	(void)state;
	expect_mmap_error(rw, PG, prw, MAP_SHARED, MEM_BYTES, EINVAL);
	expect_mmap_error(rw, PG, PROT_READ, MAP_PRIVATE, MEM_BYTES, EINVAL);
	expect_mmap_error(rw, MEM_BYTES + PG, prw, MAP_SHARED, 0, EINVAL);
	expect_mmap_error(rw, 2 * PG, prw, MAP_SHARED, MEM_BYTES - PG, EINVAL);
	expect_mmap_error(rw, PG, prw, MAP_SHARED, (off_t)1 << 40, EINVAL);
	expect_mmap_error(ro, PG, prw, MAP_SHARED, 0, EACCES);
	expect_mmap_error(wo, PG, PROT_WRITE, MAP_SHARED, 0, EACCES);
	/* Read-only shared on a read-only descriptor is fine... */
	munmap(map(ro, PG, PROT_READ, MAP_SHARED, 0), PG);
	/* ...and cannot be made writable later. */
	{
		void *p = map(ro, PG, PROT_READ, MAP_SHARED, 0);

		errno = 0;
		assert_int_equal(mprotect(p, PG, prw), -1);
		assert_int_equal(errno, EACCES);
		munmap(p, PG);
	}
	close(rw);
	close(ro);
	close(wo);
}

/* Grown with mremap past the device, the part beyond is SIGBUS. */
static void test_access_past_end_sigbus(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned char *m = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd,
					MEM_BYTES - PG);
		unsigned char *g;

		signal(SIGBUS, SIG_DFL);	/* not cmocka's handler */
		if (m == MAP_FAILED)
			_exit(2);
		(void)*(volatile unsigned char *)m;
		g = mremap(m, PG, 2 * PG, MREMAP_MAYMOVE);
		if (g == MAP_FAILED)
			_exit(3);
		(void)*(volatile unsigned char *)g;	/* still fine */
		(void)*(volatile unsigned char *)(g + PG);	/* SIGBUS */
		_exit(4);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGBUS)
		fail_msg("child status 0x%x, want SIGBUS", st);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_map_whole_device_shared, setup_reset),
		cmocka_unit_test_setup(test_store_then_read, setup_reset),
		cmocka_unit_test_setup(test_store_then_read_with_latency, setup_reset),
		cmocka_unit_test_setup(test_write_then_load, setup_reset),
		cmocka_unit_test_setup(test_write_then_load_with_latency, setup_reset),
		cmocka_unit_test_setup(test_map_at_offset, setup_reset),
		cmocka_unit_test_setup(test_shared_across_fork, setup_reset),
		cmocka_unit_test_setup(test_mapping_outlives_close, setup_reset),
		cmocka_unit_test_setup(test_madv_dontneed_keeps_data, setup_reset),
		cmocka_unit_test_setup(test_private_mapping_copy_on_write, setup_reset),
		cmocka_unit_test_setup(test_refusals, setup_reset),
		cmocka_unit_test_setup(test_access_past_end_sigbus, setup_reset),
	};

	return cmocka_run_group_tests_name("asyncmem_mmap", tests, NULL,
					   teardown_reset);
}
