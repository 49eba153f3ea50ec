/*
 * Structure-aware fuzzing of both nodes' entry points with a fixed seed:
 * every ioctl with random, truncated, oversized and unmapped arguments and
 * random command numbers, interleaved with reads and writes of random sizes
 * and flags. Every call must fail cleanly (a documented errno) or succeed,
 * and the device must still work afterwards. ADEV_FUZZ_ITERATIONS sets the
 * count (default 200000), ADEV_FUZZ_SEED the seed.
 */
#include "guest.h"

#include <sys/mman.h>
#include <sys/uio.h>

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static const unsigned int commands[] = {
	ASYNCDEV_IOC_GET_INFO, ASYNCDEV_IOC_GET_CONFIG, ASYNCDEV_IOC_SET_CONFIG,
	ASYNCDEV_IOC_GET_STATS, ASYNCDEV_IOC_RESET_STATS, ASYNCDEV_IOC_FLUSH,
	ASYNCDEV_IOC_SET_FAULT, ASYNCDEV_IOC_GET_FAULT,
};

/* A command number near ours: other sizes, directions and numbers. */
static unsigned int mutate_cmd(void)
{
	unsigned int dir = (unsigned int)(rnd() % 4);
	unsigned int nr = (unsigned int)(rnd() % 16);
	unsigned int size = (unsigned int)(rnd() % 256);

	switch (rnd() % 3) {
	case 0:
		return _IOC(dir, ASYNCDEV_IOC_MAGIC, nr, size);
	case 1:
		return commands[rnd() % 8] ^ (1u << (rnd() % 32));
	default:
		return (unsigned int)rnd();
	}
}

/* Fill @buf with a value likely to hit the edges of a field. */
static void fuzz_fill(uint8_t *buf, size_t n)
{
	static const uint64_t edges[] = {
		0, 1, 2, 4095, 4096, 4097, ASYNCDEV_MAX_CHANNELS,
		ASYNCDEV_MAX_CHANNELS + 1, ASYNCDEV_MAX_PRODUCE_HZ,
		ASYNCDEV_MAX_PRODUCE_HZ + 1, ASYNCDEV_MAX_LATENCY_NS,
		ASYNCDEV_MAX_LATENCY_NS + 1, UINT32_MAX, UINT64_MAX,
	};

	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rnd() % 2 ? edges[rnd() % 14] : rnd();
		size_t k = n - i < 8 ? n - i : 8;

		if (rnd() % 4 == 0)
			v = 0;
		memcpy(buf + i, &v, k);
	}
}

static int acceptable(int err)
{
	return err == EINVAL || err == EFAULT || err == ENOTTY ||
	       err == EPERM || err == EBADF || err == EAGAIN || err == EIO ||
	       err == ENOSPC || err == ESPIPE || err == EINTR;
}

static void test_fuzz_entry_points(void **state)
{
	const char *it_env = getenv("ADEV_FUZZ_ITERATIONS");
	const char *seed_env = getenv("ADEV_FUZZ_SEED");
	long iterations = it_env ? strtol(it_env, NULL, 0) : 200000;
	long ok = 0, failed = 0;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	/* A page followed by an unmapped one: arguments cut off at the end. */
	uint8_t *area = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fds[4];
	char buf[8192];

	(void)state;
	rng_state = seed_env ? strtoull(seed_env, NULL, 0) : 0x5eed5eedull;
	printf("# seed 0x%llx, %ld iterations\n", (unsigned long long)rng_state,
	       iterations);
	assert_true(area != MAP_FAILED);
	assert_int_equal(munmap(area + page, page), 0);
	fds[0] = open_node(FIFO_PATH, O_RDWR | O_NONBLOCK);
	fds[1] = open_node(FIFO_PATH, O_RDONLY | O_NONBLOCK);
	fds[2] = open_node(MEM_PATH, O_RDWR);
	fds[3] = open_node(MEM_PATH, O_RDONLY);

	for (long i = 0; i < iterations; i++) {
		int fd = fds[rnd() % 4];
		long r;

		switch (rnd() % 8) {
		case 0: case 1: case 2: case 3: {
			unsigned int cmd = rnd() % 4 ? commands[rnd() % 8] : mutate_cmd();
			size_t size = _IOC_SIZE(cmd);
			uint8_t *arg;

			switch (rnd() % 4) {
			case 0:	/* truncated: the struct runs into the unmapped page */
				arg = area + page - (size ? rnd() % size : 0);
				break;
			case 1:
				arg = bad_ptr();
				break;
			default:
				arg = area + page - (size > page ? page : size) - rnd() % 64;
				if (arg < area)
					arg = area;
				break;
			}
			if (arg != bad_ptr() && arg + size <= area + page)
				fuzz_fill(arg, size);
			/* Never turn on the producer or long latencies for real:
			 * keep SET_CONFIG's values small when they would pass. */
			if (cmd == ASYNCDEV_IOC_SET_CONFIG && arg + size <= area + page &&
			    arg != bad_ptr()) {
				struct asyncdev_config *c = (void *)arg;

				if (rnd() % 2) {
					c->latency_ns %= 200000;
					c->jitter_ns %= 100000;
					c->produce_hz %= 2000;
				}
			}
			r = ioctl(fd, cmd, arg);
			break;
		}
		case 4: case 5: {
			size_t n = rnd() % 3 ? rnd() % 256 : rnd() % sizeof(buf);
			void *p = rnd() % 16 ? (void *)buf : bad_ptr();

			if (rnd() % 2)
				r = read(fd, p, n);
			else
				r = write(fd, p, n);
			break;
		}
		case 6: {
			struct iovec v[3] = {
				{ buf, rnd() % 100 },
				{ rnd() % 8 ? buf + 100 : bad_ptr(), rnd() % 5000 },
				{ buf + 200, rnd() % 100 },
			};
			int flags = (int)(rnd() % 2 ? RWF_NOWAIT : 0);
			off_t off = rnd() % 3 ? (off_t)(rnd() % (17 << 20)) : -1;

			if (rnd() % 2)
				r = preadv2(fd, v, 3, off, flags);
			else
				r = pwritev2(fd, v, 3, off, flags);
			break;
		}
		default:
			r = lseek(fd, (off_t)(rnd() % (32 << 20)) - (16 << 20),
				  (int)(rnd() % 3));
			break;
		}
		if (r < 0) {
			if (!acceptable(errno))
				fail_msg("iteration %ld: unexpected errno %d (%s)", i,
					 errno, strerror(errno));
			failed++;
		} else {
			ok++;
		}
		if (i % 1000 == 999)	/* a full FIFO would only give EAGAIN */
			ioctl(fds[0], ASYNCDEV_IOC_FLUSH);
	}
	printf("# %ld calls: %ld succeeded, %ld failed cleanly\n", iterations, ok,
	       failed);

	/* The device still works. */
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	device_reset();
	fds[0] = open_node(FIFO_PATH, O_RDWR);
	assert_int_equal(write(fds[0], "alive", 5), 5);
	assert_int_equal(read(fds[0], buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "alive", 5);
	assert_int_equal(node_stats(fds[0]).in_flight, 0);
	close(fds[0]);
	munmap(area, page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fuzz_entry_points, setup_reset,
						teardown_reset),
	};

	return cmocka_run_group_tests_name("fuzz_ioctl", tests, NULL, NULL);
}
