/* Helpers for the misbehaviour knobs (stalls, short transfers, latency
 * distributions, seed, bad ranges) shared by the guest tests. */
#ifndef ASYNCDEV_GUEST_FAULTS_H
#define ASYNCDEV_GUEST_FAULTS_H

#include "guest.h"

static inline void set_stall(int fd, uint32_t dirs, uint64_t every,
			     uint32_t ppm)
{
	struct asyncdev_stall st;

	memset(&st, 0, sizeof(st));
	st.when.dirs = dirs;
	st.when.every = every;
	st.when.ppm = ppm;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_STALL, &st), 0);
}

static inline void set_short(int fd, uint32_t dirs, uint64_t every,
			     uint32_t ppm, uint64_t bytes, uint32_t permille)
{
	struct asyncdev_short sh;

	memset(&sh, 0, sizeof(sh));
	sh.when.dirs = dirs;
	sh.when.every = every;
	sh.when.ppm = ppm;
	sh.bytes = bytes;
	sh.permille = permille;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_SHORT, &sh), 0);
}

static inline void set_seed(int fd, uint64_t seed)
{
	struct asyncdev_seed s;

	memset(&s, 0, sizeof(s));
	s.seed = seed;
	assert_int_equal(ioctl(fd, ASYNCDEV_IOC_SET_SEED, &s), 0);
}

static inline int set_latency(int fd, uint32_t dir, uint32_t dist,
			      uint64_t base_ns, uint64_t spread_ns,
			      uint32_t tail_ppm, uint32_t tail_mult)
{
	struct asyncdev_latency l;

	memset(&l, 0, sizeof(l));
	l.dir = dir;
	l.dist = dist;
	l.base_ns = base_ns;
	l.spread_ns = spread_ns;
	l.tail_ppm = tail_ppm;
	l.tail_mult = tail_mult;
	return ioctl(fd, ASYNCDEV_IOC_SET_LATENCY, &l);
}

static inline int bad_op(int fd, uint32_t op, uint32_t writes, uint64_t start,
			 uint64_t end)
{
	struct asyncdev_badblocks b;

	memset(&b, 0, sizeof(b));
	b.op = op;
	b.writes = writes;
	b.start = start;
	b.end = end;
	return ioctl(fd, ASYNCDEV_IOC_BADBLOCKS, &b);
}

/* Write @val to /sys/class/misc/<node>/<attr>: 0 or -errno. */
static inline int sysfs_put(const char *node, const char *attr,
			    const char *val)
{
	char path[128];
	ssize_t w;
	int fd, err = 0;

	snprintf(path, sizeof(path), "/sys/class/misc/%s/%s", node, attr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	w = write(fd, val, strlen(val));
	if (w < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Read /sys/class/misc/<node>/<attr> into @buf (NUL-terminated). */
static inline void sysfs_get(const char *node, const char *attr, char *buf,
			     size_t size)
{
	char path[128];
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/misc/%s/%s", node, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	r = read(fd, buf, size - 1);
	assert_true(r >= 0);
	buf[r] = 0;
	close(fd);
}

#endif
