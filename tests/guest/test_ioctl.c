/*
 * The control plane: every ioctl's error paths (EFAULT, EINVAL with the
 * configuration unchanged, ENOTTY, EBADF, EPERM), RESET_STATS, reserved
 * output fields, and the sysfs configuration and statistics attributes.
 */
#include "guest.h"

#include <grp.h>

#define SYSFS_FIFO	"/sys/class/misc/asyncdev/"
#define SYSFS_MEM	"/sys/class/misc/asyncmem/"

static const char *const node_paths[] = { FIFO_PATH, MEM_PATH };

static struct asyncdev_config get_config(int fd)
{
	struct asyncdev_config c;

	memset(&c, 0xff, sizeof(c));
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_CONFIG, &c), 0);
	return c;
}

static void assert_config(int fd, uint64_t lat, uint64_t jit, uint32_t ch,
			  uint32_t hz)
{
	struct asyncdev_config c = get_config(fd);

	assert_int_equal(c.latency_ns, lat);
	assert_int_equal(c.jitter_ns, jit);
	assert_int_equal(c.channels, ch);
	assert_int_equal(c.produce_hz, hz);
	for (int i = 0; i < 4; i++)
		assert_int_equal(c.reserved[i], 0);
}

static void expect_errno(int ret, int err, const char *what)
{
	if (ret != -1 || errno != err)
		fail_msg("%s: returned %d errno %d (%s), want -1 errno %d (%s)",
			 what, ret, errno, strerror(errno), err, strerror(err));
}

static void test_defaults_after_reset(void **state)
{
	(void)state;
	for (int n = 0; n < 2; n++) {
		int fd = open_node(node_paths[n], O_RDWR);
		struct asyncdev_fault f;

		assert_config(fd, 0, 0, 1, 0);
		assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_FAULT, &f), 0);
		assert_int_equal(f.mode, ASYNCDEV_FAULT_OFF);
		close(fd);
	}
}

static void test_get_ioctls_bad_pointer_efault(void **state)
{
	static const unsigned long cmds[] = {
		ASYNCDEV_IOC_GET_INFO, ASYNCDEV_IOC_GET_CONFIG,
		ASYNCDEV_IOC_GET_STATS, ASYNCDEV_IOC_GET_FAULT,
	};

	(void)state;
	for (int n = 0; n < 2; n++) {
		int fd = open_node(node_paths[n], O_RDWR);

		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			errno = 0;
			expect_errno(ioctl(fd, cmds[i], bad_ptr()), EFAULT,
				     "GET ioctl with a bad pointer");
			errno = 0;
			expect_errno(ioctl(fd, cmds[i], NULL), EFAULT,
				     "GET ioctl with NULL");
		}
		close(fd);
	}
}

static void test_set_ioctls_bad_pointer_efault(void **state)
{
	(void)state;
	for (int n = 0; n < 2; n++) {
		int fd = open_node(node_paths[n], O_RDWR);
		struct asyncdev_fault f;

		node_config(fd, 12345, 0, 3, 0);
		errno = 0;
		expect_errno(ioctl(fd, ASYNCDEV_IOC_SET_CONFIG, bad_ptr()), EFAULT,
			     "SET_CONFIG bad pointer");
		errno = 0;
		expect_errno(ioctl(fd, ASYNCDEV_IOC_SET_FAULT, bad_ptr()), EFAULT,
			     "SET_FAULT bad pointer");
		assert_config(fd, 12345, 0, 3, 0);
		assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_FAULT, &f), 0);
		assert_int_equal(f.mode, ASYNCDEV_FAULT_OFF);
		close(fd);
	}
	device_reset();
}

static void test_set_config_invalid_einval_unchanged(void **state)
{
	const struct {
		const char *what;
		struct asyncdev_config c;
	} bad[] = {
		{ "reserved[0]", { .channels = 1, .reserved = { 1 } } },
		{ "reserved[3]", { .channels = 1, .reserved = { 0, 0, 0, 1ull << 63 } } },
		{ "channels 0", { .channels = 0 } },
		{ "channels max+1", { .channels = ASYNCDEV_MAX_CHANNELS + 1 } },
		{ "channels ~0", { .channels = UINT32_MAX } },
		{ "latency max+1", { .channels = 1,
				     .latency_ns = ASYNCDEV_MAX_LATENCY_NS + 1 } },
		{ "latency ~0", { .channels = 1, .latency_ns = UINT64_MAX } },
		{ "jitter max+1", { .channels = 1,
				    .jitter_ns = ASYNCDEV_MAX_JITTER_NS + 1 } },
		{ "produce_hz max+1", { .channels = 1,
					.produce_hz = ASYNCDEV_MAX_PRODUCE_HZ + 1 } },
	};
	char what[96];

	(void)state;
	for (int n = 0; n < 2; n++) {
		int fd = open_node(node_paths[n], O_RDWR);

		node_config(fd, 5000, 700, 9, 0);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct asyncdev_config c = bad[i].c;

			snprintf(what, sizeof(what), "%s SET_CONFIG %s",
				 node_paths[n], bad[i].what);
			errno = 0;
			expect_errno(ioctl(fd, ASYNCDEV_IOC_SET_CONFIG, &c),
				     EINVAL, what);
			assert_config(fd, 5000, 700, 9, 0);
		}
		close(fd);
	}
	device_reset();
}

static void test_set_config_limits_accepted(void **state)
{
	(void)state;
	for (int n = 0; n < 2; n++) {
		int fd = open_node(node_paths[n], O_RDWR);

		node_config(fd, ASYNCDEV_MAX_LATENCY_NS, ASYNCDEV_MAX_JITTER_NS,
			    ASYNCDEV_MAX_CHANNELS, 0);
		assert_config(fd, ASYNCDEV_MAX_LATENCY_NS, ASYNCDEV_MAX_JITTER_NS,
			      ASYNCDEV_MAX_CHANNELS, 0);
		node_config(fd, 0, 0, 1, 0);
		assert_config(fd, 0, 0, 1, 0);
		close(fd);
	}
}

static void test_unknown_ioctl_enotty(void **state)
{
	struct asyncdev_stats s;
	const unsigned long cmds[] = {
		_IO(ASYNCDEV_IOC_MAGIC, 0x7f),
		_IO(ASYNCDEV_IOC_MAGIC, 0x08),
		/* The size is part of the number: a wrong size is unknown. */
		_IOR(ASYNCDEV_IOC_MAGIC, 0x00, uint32_t),
		_IOR(ASYNCDEV_IOC_MAGIC, 0x03, uint64_t),
		/* So is the direction. */
		_IOW(ASYNCDEV_IOC_MAGIC, 0x03, struct asyncdev_stats),
		_IOR(ASYNCDEV_IOC_MAGIC, 0x02, struct asyncdev_config),
		_IO(ASYNCDEV_IOC_MAGIC, 0x03),
		/* Another magic. */
		_IOR(0xae, 0x03, struct asyncdev_stats),
	};

	(void)state;
	for (int n = 0; n < 2; n++) {
		int fd = open_node(node_paths[n], O_RDWR);

		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			char what[64];

			memset(&s, 0, sizeof(s));
			snprintf(what, sizeof(what), "%s ioctl 0x%lx",
				 node_paths[n], cmds[i]);
			errno = 0;
			expect_errno(ioctl(fd, cmds[i], &s), ENOTTY, what);
		}
		close(fd);
	}
}

static void test_read_only_fd_reset_flush_ebadf(void **state)
{
	int fifo_ro = open_node(FIFO_PATH, O_RDONLY);
	int mem_ro = open_node(MEM_PATH, O_RDONLY);
	int fifo_wo = open_node(FIFO_PATH, O_WRONLY);
	struct asyncdev_info info;

	(void)state;
	assert_int_equal(write(fifo_wo, "data", 4), 4);
	errno = 0;
	expect_errno(ioctl(fifo_ro, ASYNCDEV_IOC_RESET_STATS), EBADF,
		     "RESET_STATS on O_RDONLY FIFO");
	errno = 0;
	expect_errno(ioctl(mem_ro, ASYNCDEV_IOC_RESET_STATS), EBADF,
		     "RESET_STATS on O_RDONLY mem");
	errno = 0;
	expect_errno(ioctl(fifo_ro, ASYNCDEV_IOC_FLUSH), EBADF,
		     "FLUSH on O_RDONLY FIFO");
	assert_int_equal(fifo_level(fifo_ro), 4);
	assert_true(node_stats(fifo_ro).bytes_written >= 4);
	/* Read-only is enough for the GET ioctls. */
	assert_int_equal(ioctl(fifo_ro, ASYNCDEV_IOC_GET_INFO, &info), 0);
	assert_int_equal(ioctl(mem_ro, ASYNCDEV_IOC_GET_INFO, &info), 0);
	/* Write-only is enough for RESET_STATS and FLUSH. */
	assert_int_equal(ioctl(fifo_wo, ASYNCDEV_IOC_FLUSH), 0);
	assert_int_equal(fifo_level(fifo_ro), 0);
	assert_int_equal(ioctl(fifo_wo, ASYNCDEV_IOC_RESET_STATS), 0);
	assert_int_equal(node_stats(fifo_ro).bytes_written, 0);
	close(fifo_wo);
	close(mem_ro);
	close(fifo_ro);
}

#define CHILD_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "child: line %d: %s failed (errno %d %s)\n", \
			__LINE__, #cond, errno, strerror(errno));	\
		_exit(1);						\
	}								\
} while (0)

static void test_unprivileged_set_eperm(void **state)
{
	int mem = open_node(MEM_PATH, O_RDWR);
	int fifo = open_node(FIFO_PATH, O_RDWR);
	pid_t pid;

	(void)state;
	node_config(mem, 4242, 0, 2, 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct asyncdev_config c = { .latency_ns = 1, .channels = 5 };
		struct asyncdev_fault f = { .mode = ASYNCDEV_FAULT_NEXT,
					    .error = EIO, .count = 1 };
		struct asyncdev_stats s;
		struct asyncdev_info info;
		int fd2, sysdir;

		/*
		 * Look the nodes up relative to directories opened now: the
		 * guest's root directory may not be searchable by others.
		 */
		CHILD_CHECK(chdir("/dev") == 0);
		sysdir = open(SYSFS_MEM, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHILD_CHECK(sysdir >= 0);
		CHILD_CHECK(setgroups(0, NULL) == 0);
		CHILD_CHECK(setresgid(65534, 65534, 65534) == 0);
		CHILD_CHECK(setresuid(65534, 65534, 65534) == 0);
		CHILD_CHECK(geteuid() == 65534);
		for (int i = 0; i < 2; i++) {
			int fd = i ? mem : fifo;

			errno = 0;
			CHILD_CHECK(ioctl(fd, ASYNCDEV_IOC_SET_CONFIG, &c) == -1 &&
				    errno == EPERM);
			errno = 0;
			CHILD_CHECK(ioctl(fd, ASYNCDEV_IOC_SET_FAULT, &f) == -1 &&
				    errno == EPERM);
			/* The capability is checked before the argument. */
			errno = 0;
			CHILD_CHECK(ioctl(fd, ASYNCDEV_IOC_SET_CONFIG, bad_ptr()) == -1 &&
				    errno == EPERM);
			CHILD_CHECK(ioctl(fd, ASYNCDEV_IOC_GET_STATS, &s) == 0);
			CHILD_CHECK(ioctl(fd, ASYNCDEV_IOC_GET_INFO, &info) == 0);
			CHILD_CHECK(ioctl(fd, ASYNCDEV_IOC_GET_CONFIG, &c) == 0);
			CHILD_CHECK(ioctl(fd, ASYNCDEV_IOC_GET_FAULT, &f) == 0);
		}
		CHILD_CHECK(ioctl(mem, ASYNCDEV_IOC_GET_CONFIG, &c) == 0);
		CHILD_CHECK(c.latency_ns == 4242 && c.channels == 2);
		/* The nodes are 0666: an unprivileged open works, SET does not. */
		fd2 = open("asyncmem", O_RDWR | O_CLOEXEC);
		CHILD_CHECK(fd2 >= 0);
		errno = 0;
		CHILD_CHECK(ioctl(fd2, ASYNCDEV_IOC_SET_CONFIG, &c) == -1 &&
			    errno == EPERM);
		CHILD_CHECK(ioctl(fd2, ASYNCDEV_IOC_GET_STATS, &s) == 0);
		/* Writing the sysfs attributes is refused too (0644, root). */
		errno = 0;
		CHILD_CHECK(openat(sysdir, "channels", O_RDONLY) >= 0);
		errno = 0;
		CHILD_CHECK(openat(sysdir, "channels", O_WRONLY) == -1 &&
			    errno == EACCES);
		_exit(0);
	}
	wait_child_ok(pid);
	assert_config(mem, 4242, 0, 2, 0);
	close(fifo);
	close(mem);
	device_reset();
}

static void test_reset_stats(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR);
	int mem = open_node(MEM_PATH, O_RDWR);
	char buf[100] = { 0 };
	struct asyncdev_stats s;

	(void)state;
	assert_int_equal(write(fd, buf, 100), 100);
	assert_int_equal(read(fd, buf, 30), 30);
	s = node_stats(fd);
	assert_true(s.bytes_read >= 30 && s.bytes_written >= 100);
	assert_true(s.reads >= 1 && s.writes >= 1);
	assert_true(s.fifo_high_water >= 100);
	assert_int_equal(s.fifo_level, 70);

	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_RESET_STATS), 0);
	s = node_stats(fd);
	assert_int_equal(s.bytes_read, 0);
	assert_int_equal(s.bytes_written, 0);
	assert_int_equal(s.reads, 0);
	assert_int_equal(s.writes, 0);
	assert_int_equal(s.async_queued, 0);
	assert_int_equal(s.async_completed, 0);
	assert_int_equal(s.faults_injected, 0);
	assert_int_equal(s.producer_records, 0);
	/* The present is kept: level, and the high water is the level now. */
	assert_int_equal(s.fifo_level, 70);
	assert_int_equal(s.fifo_high_water, 70);
	assert_int_equal(s.in_flight, 0);

	/* Per node: resetting the FIFO did not reset the memory node. */
	assert_int_equal(pwrite(mem, buf, 10, 0), 10);
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_RESET_STATS), 0);
	assert_true(node_stats(mem).bytes_written >= 10);
	assert_int_equal(ioctl(mem, ASYNCDEV_IOC_RESET_STATS), 0);
	s = node_stats(mem);
	assert_int_equal(s.bytes_written, 0);
	assert_int_equal(s.writes, 0);
	/* Counting resumes from zero. */
	assert_int_equal(pread(mem, buf, 7, 0), 7);
	assert_int_equal(node_stats(mem).bytes_read, 7);
	assert_int_equal(node_stats(mem).reads, 1);
	close(mem);
	close(fd);
}

static void test_reserved_output_fields_zero(void **state)
{
	(void)state;
	for (int n = 0; n < 2; n++) {
		int fd = open_node(node_paths[n], O_RDWR);
		struct asyncdev_info info;
		struct asyncdev_config c;
		struct asyncdev_stats s;
		struct asyncdev_fault f;

		memset(&info, 0xff, sizeof(info));
		assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_INFO, &info), 0);
		for (int i = 0; i < 5; i++)
			assert_int_equal(info.reserved[i], 0);
		assert_int_equal(info.node, n ? ASYNCDEV_NODE_MEM : ASYNCDEV_NODE_FIFO);

		memset(&c, 0xff, sizeof(c));
		assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_CONFIG, &c), 0);
		for (int i = 0; i < 4; i++)
			assert_int_equal(c.reserved[i], 0);
		assert_int_equal(c.produce_hz, 0);

		memset(&s, 0xff, sizeof(s));
		assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_STATS, &s), 0);
		for (int i = 0; i < 4; i++)
			assert_int_equal(s.reserved[i], 0);
		assert_int_equal(s.fifo_level, 0);

		memset(&f, 0xff, sizeof(f));
		assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_FAULT, &f), 0);
		assert_int_equal(f.reserved[0], 0);
		assert_int_equal(f.reserved[1], 0);
		close(fd);
	}
}

/* sysfs */

static unsigned long long sysfs_read_ull(const char *path)
{
	char buf[64] = { 0 };
	char *end;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;
	unsigned long long v;

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(r > 1);
	assert_int_equal(buf[r - 1], '\n');
	v = strtoull(buf, &end, 10);
	assert_ptr_equal(end, buf + r - 1);
	return v;
}

/* write(2) @val to @path: its result, errno preserved. */
static ssize_t sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t r;
	int e;

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	r = write(fd, val, strlen(val));
	e = errno;
	close(fd);
	errno = e;
	return r;
}

static void test_sysfs_config_reads_back_set_config(void **state)
{
	int fifo = open_node(FIFO_PATH, O_RDWR);
	int mem = open_node(MEM_PATH, O_RDWR);

	(void)state;
	node_config(fifo, 123456, 789, 17, 3);
	node_config(mem, 654321, 987, 71, 0);
	assert_int_equal(sysfs_read_ull(SYSFS_FIFO "latency_ns"), 123456);
	assert_int_equal(sysfs_read_ull(SYSFS_FIFO "jitter_ns"), 789);
	assert_int_equal(sysfs_read_ull(SYSFS_FIFO "channels"), 17);
	assert_int_equal(sysfs_read_ull(SYSFS_FIFO "produce_hz"), 3);
	assert_int_equal(sysfs_read_ull(SYSFS_MEM "latency_ns"), 654321);
	assert_int_equal(sysfs_read_ull(SYSFS_MEM "jitter_ns"), 987);
	assert_int_equal(sysfs_read_ull(SYSFS_MEM "channels"), 71);
	errno = 0;
	assert_int_equal(access(SYSFS_MEM "produce_hz", F_OK), -1);
	assert_int_equal(errno, ENOENT);
	close(mem);
	close(fifo);
	device_reset();
}

static void test_sysfs_write_visible_in_get_config(void **state)
{
	int fifo = open_node(FIFO_PATH, O_RDWR);
	int mem = open_node(MEM_PATH, O_RDWR);

	(void)state;
	assert_int_equal(sysfs_write(SYSFS_MEM "latency_ns", "2500\n"), 5);
	assert_int_equal(sysfs_write(SYSFS_MEM "jitter_ns", "33"), 2);
	assert_int_equal(sysfs_write(SYSFS_MEM "channels", "8"), 1);
	assert_config(mem, 2500, 33, 8, 0);
	/* Other fields are kept, and the other node is untouched. */
	assert_config(fifo, 0, 0, 1, 0);
	assert_int_equal(sysfs_write(SYSFS_FIFO "channels", "4096"), 4);
	assert_int_equal(sysfs_write(SYSFS_FIFO "latency_ns", "0x10"), 4);
	assert_config(fifo, 16, 0, 4096, 0);
	assert_config(mem, 2500, 33, 8, 0);
	close(mem);
	close(fifo);
	device_reset();
}

static void test_sysfs_invalid_values_refused(void **state)
{
	static const struct {
		const char *attr, *val;
	} bad[] = {
		{ SYSFS_MEM "channels", "0" },
		{ SYSFS_MEM "channels", "4097" },
		{ SYSFS_MEM "channels", "4294967297" },	/* 2^32 + 1 */
		{ SYSFS_MEM "channels", "-1" },
		{ SYSFS_MEM "channels", "abc" },
		{ SYSFS_MEM "channels", "" },
		{ SYSFS_MEM "latency_ns", "1000000001" },
		{ SYSFS_MEM "jitter_ns", "1000000001" },
		{ SYSFS_MEM "latency_ns", "12ms" },
		{ SYSFS_FIFO "channels", "0" },
		{ SYSFS_FIFO "latency_ns", "18446744073709551616" },
	};
	int fifo = open_node(FIFO_PATH, O_RDWR);
	int mem = open_node(MEM_PATH, O_RDWR);

	(void)state;
	node_config(mem, 1000, 10, 6, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char what[128];
		ssize_t r;

		snprintf(what, sizeof(what), "write \"%s\" to %s", bad[i].val,
			 bad[i].attr);
		errno = 0;
		r = sysfs_write(bad[i].attr, bad[i].val);
		/* An empty write is a no-op in sysfs (returns 0). */
		if (!*bad[i].val) {
			assert_true(r == 0 || (r == -1 && errno == EINVAL));
		} else if (r != -1 || (errno != EINVAL && errno != ERANGE)) {
			fail_msg("%s: returned %zd errno %s, want EINVAL/ERANGE",
				 what, r, strerror(errno));
		}
		assert_config(mem, 1000, 10, 6, 0);
		assert_config(fifo, 0, 0, 1, 0);
	}
	close(mem);
	close(fifo);
	device_reset();
}

static const char *const stat_names[] = {
	"bytes_read", "bytes_written", "reads", "writes", "async_queued",
	"async_completed", "async_cancelled", "signals_sent", "fifo_level",
	"fifo_high_water", "in_flight", "producer_records",
	"producer_overruns", "faults_injected",
};

static void check_sysfs_stats(int fd, const char *dir)
{
	struct asyncdev_stats s = node_stats(fd);
	uint64_t v[sizeof(s) / sizeof(uint64_t)];
	char path[128];

	memcpy(v, &s, sizeof(s));

	assert_int_equal(sizeof(stat_names) / sizeof(stat_names[0]),
			 offsetof(struct asyncdev_stats, reserved) / sizeof(uint64_t));
	for (size_t i = 0; i < sizeof(stat_names) / sizeof(stat_names[0]); i++) {
		unsigned long long got;
		struct stat st;

		snprintf(path, sizeof(path), "%sstats/%s", dir, stat_names[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0444);
		got = sysfs_read_ull(path);
		if (got != v[i])
			fail_msg("%s = %llu, GET_STATS says %llu", path, got,
				 (unsigned long long)v[i]);
	}
}

static void test_sysfs_stats_match_get_stats(void **state)
{
	int fifo = open_node(FIFO_PATH, O_RDWR);
	int mem = open_node(MEM_PATH, O_RDWR);
	struct asyncdev_fault f = { .mode = ASYNCDEV_FAULT_NEXT, .error = EIO,
				    .count = 1 };
	char buf[300] = { 0 };

	(void)state;
	assert_int_equal(write(fifo, buf, 300), 300);
	assert_int_equal(read(fifo, buf, 123), 123);
	assert_int_equal(pwrite(mem, buf, 200, 5), 200);
	assert_int_equal(pread(mem, buf, 77, 5), 77);
	assert_int_equal(ioctl(mem, ASYNCDEV_IOC_SET_FAULT, &f), 0);
	assert_int_equal(pread(mem, buf, 1, 0), -1);
	check_sysfs_stats(fifo, SYSFS_FIFO);
	check_sysfs_stats(mem, SYSFS_MEM);
	assert_int_equal(sysfs_read_ull(SYSFS_FIFO "stats/fifo_level"), 177);
	/* Read-only: even root cannot open them for writing. */
	errno = 0;
	assert_int_equal(open(SYSFS_FIFO "stats/bytes_read", O_WRONLY), -1);
	assert_int_equal(errno, EACCES);
	close(mem);
	close(fifo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults_after_reset, setup_reset),
		cmocka_unit_test_setup(test_get_ioctls_bad_pointer_efault, setup_reset),
		cmocka_unit_test_setup(test_set_ioctls_bad_pointer_efault, setup_reset),
		cmocka_unit_test_setup(test_set_config_invalid_einval_unchanged, setup_reset),
		cmocka_unit_test_setup(test_set_config_limits_accepted, setup_reset),
		cmocka_unit_test_setup(test_unknown_ioctl_enotty, setup_reset),
		cmocka_unit_test_setup(test_read_only_fd_reset_flush_ebadf, setup_reset),
		cmocka_unit_test_setup(test_unprivileged_set_eperm, setup_reset),
		cmocka_unit_test_setup(test_reset_stats, setup_reset),
		cmocka_unit_test_setup(test_reserved_output_fields_zero, setup_reset),
		cmocka_unit_test_setup(test_sysfs_config_reads_back_set_config, setup_reset),
		cmocka_unit_test_setup(test_sysfs_write_visible_in_get_config, setup_reset),
		cmocka_unit_test_setup(test_sysfs_invalid_values_refused, setup_reset),
		cmocka_unit_test_setup(test_sysfs_stats_match_get_stats, setup_reset),
	};

	return cmocka_run_group_tests_name("ioctl", tests, NULL, teardown_reset);
}
