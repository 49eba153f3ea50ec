/*
 * Control of the misbehaviour knobs: the ioctls validate every field
 * (EINVAL), need CAP_SYS_ADMIN to change anything (EPERM), and sysfs
 * accepts exactly what the ioctls accept; ABI v1's SET_CONFIG keeps working
 * beside them; one seed replays every random choice.
 */
#include "guest_faults.h"

static void test_latency_validation(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	struct asyncdev_latency l;
	const uint64_t max = ASYNCDEV_MAX_SERVICE_NS;
	struct { uint32_t dir, dist; uint64_t base, spread; uint32_t ppm, k; } bad[] = {
		{ 0, 0, 1, 0, 0, 0 },		/* no direction */
		{ 4, 0, 1, 0, 0, 0 },		/* unknown direction */
		{ 1, 3, 1, 0, 0, 0 },		/* unknown distribution */
		{ 1, 0, max + 1, 0, 0, 0 },	/* base too long */
		{ 1, 1, 0, max + 1, 0, 0 },	/* spread too long */
		{ 1, 2, 0, UINT64_MAX, 0, 0 },	/* huge */
		{ 1, 0, 1, 1, 0, 0 },		/* fixed with a spread */
		{ 1, 0, 1, 0, ASYNCDEV_PPM + 1, 2 },
		{ 1, 0, 1, 0, 10, 0 },		/* tail without multiplier */
		{ 1, 0, 1, 0, 10, ASYNCDEV_MAX_TAIL_MULT + 1 },
		{ 1, 0, 1, 0, UINT32_MAX, UINT32_MAX },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		if (set_latency(fd, bad[i].dir, bad[i].dist, bad[i].base,
				bad[i].spread, bad[i].ppm, bad[i].k) != -1 ||
		    errno != EINVAL)
			fail_msg("latency case %zu accepted", i);
	}
	memset(&l, 0, sizeof(l));
	l.dir = ASYNCDEV_DIR_READ;
	l.reserved[1] = 1;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_LATENCY, &l), -1);
	assert_int_equal(errno, EINVAL);
	l.reserved[1] = 0;
	l.dir = ASYNCDEV_DIR_BOTH;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_LATENCY, &l), -1);
	assert_int_equal(errno, EINVAL);

	/* A valid one reads back, for the direction(s) set only. */
	assert_int_equal(set_latency(fd, ASYNCDEV_DIR_WRITE, ASYNCDEV_LAT_EXP,
				     1000, 2000, 30, 4), 0);
	memset(&l, 0xff, sizeof(l));
	l.dir = ASYNCDEV_DIR_WRITE;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_LATENCY, &l), 0);
	assert_int_equal(l.dir, ASYNCDEV_DIR_WRITE);
	assert_int_equal(l.dist, ASYNCDEV_LAT_EXP);
	assert_int_equal(l.base_ns, 1000);
	assert_int_equal(l.spread_ns, 2000);
	assert_int_equal(l.tail_ppm, 30);
	assert_int_equal(l.tail_mult, 4);
	assert_int_equal(l.reserved[0] | l.reserved[1], 0);
	l.dir = ASYNCDEV_DIR_READ;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_LATENCY, &l), 0);
	assert_int_equal(l.dist, ASYNCDEV_LAT_FIXED);
	assert_int_equal(l.base_ns, 0);
	close(fd);
}

static void test_stall_short_seed_validation(void **state)
{
	int fd = open_node(FIFO_PATH, O_RDWR);
	struct asyncdev_stall st;
	struct asyncdev_short sh;
	struct asyncdev_seed s;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.when.dirs = 4;
	st.when.every = 1;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_STALL, &st), -1);
	assert_int_equal(errno, EINVAL);
	st.when.dirs = 1;
	st.when.every = 0;		/* on, but never */
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_STALL, &st), -1);
	st.when.ppm = ASYNCDEV_PPM + 1;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_STALL, &st), -1);
	st.when.ppm = 1;
	st.reserved[0] = 1;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_STALL, &st), -1);
	assert_int_equal(errno, EINVAL);
	st.reserved[0] = 0;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_STALL, &st), 0);
	memset(&st, 0xff, sizeof(st));
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_STALL, &st), 0);
	assert_int_equal(st.when.dirs, 1);
	assert_int_equal(st.when.ppm, 1);
	assert_int_equal(st.when.every, 0);
	assert_int_equal(st.reserved[0] | st.reserved[1], 0);

	memset(&sh, 0, sizeof(sh));
	sh.when.dirs = 2;
	sh.when.every = 1;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_SHORT, &sh), -1);	/* neither */
	sh.bytes = 10;
	sh.permille = 10;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_SHORT, &sh), -1);	/* both */
	sh.bytes = 0;
	sh.permille = 1000;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_SHORT, &sh), -1);
	sh.permille = 999;
	sh.reserved0 = 1;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_SHORT, &sh), -1);
	assert_int_equal(errno, EINVAL);
	sh.reserved0 = 0;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_SHORT, &sh), 0);

	memset(&s, 0, sizeof(s));
	s.reserved[2] = 5;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_SEED, &s), -1);
	assert_int_equal(errno, EINVAL);
	close(fd);
}

/* Without CAP_SYS_ADMIN every change is EPERM; reading is allowed. */
static void test_changes_need_cap_sys_admin(void **state)
{
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(MEM_PATH, O_RDWR);
		struct asyncdev_latency l = { .dir = 1 };
		struct asyncdev_seed s = { 0 };
		struct asyncdev_stall st;
		struct asyncdev_short sh;
		struct asyncdev_badblocks b = { .op = ASYNCDEV_BAD_CLEAR_ALL };

		memset(&st, 0, sizeof(st));
		memset(&sh, 0, sizeof(sh));
		if (fd < 0 || setuid(65534))
			_exit(2);
		if (ioctl(fd, ASYNCDEV_IOC_SET_LATENCY, &l) != -1 || errno != EPERM ||
		    ioctl(fd, ASYNCDEV_IOC_SET_SEED, &s) != -1 || errno != EPERM ||
		    ioctl(fd, ASYNCDEV_IOC_SET_STALL, &st) != -1 || errno != EPERM ||
		    ioctl(fd, ASYNCDEV_IOC_SET_SHORT, &sh) != -1 || errno != EPERM ||
		    ioctl(fd, ASYNCDEV_IOC_BADBLOCKS, &b) != -1 || errno != EPERM)
			_exit(3);
		if (ioctl(fd, ASYNCDEV_IOC_GET_LATENCY, &l) ||
		    ioctl(fd, ASYNCDEV_IOC_GET_SEED, &s) ||
		    ioctl(fd, ASYNCDEV_IOC_GET_STALL, &st))
			_exit(4);
		if (sysfs_put("asyncmem", "seed", "1") != -EACCES)
			_exit(5);
		_exit(0);
	}
	wait_child_ok(pid);
}

static void test_sysfs_same_rules(void **state)
{
	const char *ok[][3] = {
		{ "read_latency", "exp 1000 2000 10 5", "exp 1000 2000 10 5\n" },
		{ "write_latency", "uniform 5 7", "uniform 5 7 0 1\n" },
		{ "write_latency", "fixed 10000000000", "fixed 10000000000 0 0 1\n" },
		{ "stall", "rw 3 100", "rw 3 100\n" },
		{ "stall", "off", "off\n" },
		{ "short", "w 0 500000 0 250", "w 0 500000 0 250\n" },
		{ "short", "off", "off\n" },
		{ "seed", "18446744073709551615", "18446744073709551615\n" },
	};
	const char *bad[][2] = {
		{ "read_latency", "gauss 1" },
		{ "read_latency", "fixed" },
		{ "read_latency", "fixed 1 2" },
		{ "read_latency", "uniform 1 2 3" },
		{ "read_latency", "fixed 10000000001" },
		{ "read_latency", "fixed 99999999999999999999999" },
		{ "read_latency", "fixed 1 0 4294967296 2" },
		{ "read_latency", "fixed 1 0 1000001 2" },
		{ "read_latency", "fixed 1 0 10 1001" },
		{ "read_latency", "fixed 1 0 0 1 7" },
		{ "read_latency", "fixed -1" },
		{ "stall", "rw 0 0" },
		{ "stall", "x 1 0" },
		{ "stall", "off 1" },
		{ "stall", "r 1 1000001" },
		{ "stall", "r 1" },
		{ "short", "r 1 0 0 0" },
		{ "short", "r 1 0 5 500" },
		{ "short", "r 1 0 0 1000" },
		{ "short", "r 1 0 0 4294967297" },
		{ "seed", "18446744073709551616" },
		{ "seed", "1 2" },
		{ "seed", " " },
	};
	char buf[128];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(sysfs_put("asyncdev", ok[i][0], ok[i][1]), 0);
		sysfs_get("asyncdev", ok[i][0], buf, sizeof(buf));
		assert_string_equal(buf, ok[i][2]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = sysfs_put("asyncdev", bad[i][0], bad[i][1]);

		if (r != -EINVAL)
			fail_msg("%s <- '%s': %d, not -EINVAL", bad[i][0],
				 bad[i][1], r);
	}
	/* The ioctl sees what sysfs set. */
	{
		int fd = open_node(FIFO_PATH, O_RDWR);
		struct asyncdev_seed s;

		assert_int_equal(sysfs_put("asyncdev", "seed", "99"), 0);
		assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_SEED, &s), 0);
		assert_int_equal(s.seed, 99);
		close(fd);
	}
}

/*
 * ABI v1: SET_CONFIG sets both directions to uniform(latency, jitter);
 * GET_CONFIG shows the read direction within v1's limits; a sysfs store of
 * channels keeps a distribution.
 */
static void test_v1_config_beside_distributions(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	struct asyncdev_latency l;
	struct asyncdev_config c;
	char buf[64];

	(void)state;
	assert_int_equal(set_latency(fd, ASYNCDEV_DIR_BOTH, ASYNCDEV_LAT_EXP,
				     5000000000ull, 100, 0, 0), 0);
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_CONFIG, &c), 0);
	assert_int_equal(c.latency_ns, ASYNCDEV_MAX_LATENCY_NS);
	assert_int_equal(c.jitter_ns, 100);
	assert_int_equal(sysfs_put("asyncmem", "channels", "3"), 0);
	sysfs_get("asyncmem", "write_latency", buf, sizeof(buf));
	assert_string_equal(buf, "exp 5000000000 100 0 1\n");
	/* A v1 read-modify-write is valid and replaces the distributions. */
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_CONFIG, &c), 0);
	memset(&l, 0, sizeof(l));
	l.dir = ASYNCDEV_DIR_WRITE;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_GET_LATENCY, &l), 0);
	assert_int_equal(l.dist, ASYNCDEV_LAT_UNIFORM);
	assert_int_equal(l.base_ns, ASYNCDEV_MAX_LATENCY_NS);
	assert_int_equal(l.spread_ns, 100);
	node_config(fd, 0, 0, 1, 0);
	sysfs_get("asyncmem", "read_latency", buf, sizeof(buf));
	assert_string_equal(buf, "fixed 0 0 0 1\n");
	close(fd);
}

/* Which of @n 2-byte reads came back short (p = 0.3), with latency drawn too. */
static void short_pattern(int fd, char *pat, int n)
{
	char b[2];

	for (int i = 0; i < n; i++)
		pat[i] = pread(fd, b, 2, 0) == 1 ? 'S' : '.';
	pat[n] = 0;
}

static void test_seed_replays_choices(void **state)
{
	int fd = open_node(MEM_PATH, O_RDWR);
	char a[65], b[65], c[65];

	(void)state;
	set_short(fd, ASYNCDEV_DIR_READ, 0, 300000, 1, 0);
	assert_int_equal(set_latency(fd, ASYNCDEV_DIR_READ,
				     ASYNCDEV_LAT_UNIFORM, 0, 20000, 0, 0), 0);
	set_seed(fd, 12345);
	short_pattern(fd, a, 64);
	set_seed(fd, 12345);
	short_pattern(fd, b, 64);
	set_seed(fd, 54321);
	short_pattern(fd, c, 64);
	print_message("seed 12345: %s\nseed 54321: %s\n", a, c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_non_null(strchr(a, 'S'));
	assert_non_null(strchr(a, '.'));
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_latency_validation,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_stall_short_seed_validation,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_changes_need_cap_sys_admin,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_sysfs_same_rules,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_v1_config_beside_distributions,
						setup_reset, teardown_reset),
		cmocka_unit_test_setup_teardown(test_seed_replays_choices,
						setup_reset, teardown_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
