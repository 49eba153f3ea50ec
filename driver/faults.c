// SPDX-License-Identifier: GPL-2.0
/*
 * Misbehaviour of the simulated device, all reproducible: one PRNG per node
 * (SplitMix64, under engine->lock) makes every random choice, at
 * submission and in submission order, so the same seed and the same
 * sequence of requests give the same service times, stalls and short
 * transfers. Also the service time distributions (fixed, uniform,
 * exponential, each with an optional tail; integer arithmetic only) and the
 * bad ranges of /dev/asyncmem (dm-dust, null_blk's badblocks).
 *
 * Configuration is validated here, in one function per knob that both the
 * ioctl and the sysfs store call, under node->cfg_mutex.
 */
#include <linux/math64.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "asyncdev.h"
#include "trace.h"

/* The seed module parameter (main.c) every node starts from. */
u64 adev_seed;

static bool adev_zero(const void *p, size_t n)
{
	return !memchr_inv(p, 0, n);
}

/* SplitMix64 (Steele, Lea, Flood 2014): any seed, 0 included, is good. */
u64 adev_prng_next(struct adev_engine *e)
{
	u64 z;

	lockdep_assert_held(&e->lock);
	e->prng += 0x9e3779b97f4a7c15ULL;
	z = e->prng;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* True with probability @ppm / ASYNCDEV_PPM. */
static bool adev_prng_ppm(struct adev_engine *e, u32 ppm)
{
	return mul_u64_u32_shr(adev_prng_next(e) >> 32, ASYNCDEV_PPM, 32) < ppm;
}

/* Restart the PRNG and the every-N counters; under e->lock or at init. */
static void adev_reseed_locked(struct adev_engine *e, u64 seed)
{
	e->seed = seed;
	e->prng = seed;
	e->stall_seen = 0;
	e->short_seen = 0;
}

void adev_engine_reseed(struct adev_engine *e, u64 seed)
{
	adev_reseed_locked(e, seed);
}

/*
 * log2(@u) for 1 <= @u <= 2^32 in 16.16 fixed point, by the digit-by-digit
 * squaring method: normalise to [1, 2) with 31 fraction bits, square, and
 * each time the square reaches 2 the next fraction bit is 1.
 */
static u32 adev_log2_fp16(u64 u)
{
	unsigned int n = ilog2(u);
	u64 y = n <= 31 ? u << (31 - n) : u >> (n - 31);
	u32 frac = 0;
	int i;

	for (i = 15; i >= 0; i--) {
		y = (y * y) >> 31;
		if (y >= (1ULL << 32)) {
			frac |= 1U << i;
			y >>= 1;
		}
	}
	return (n << 16) | frac;
}

/*
 * An exponential variate of mean @mean: -mean * ln(U), U uniform in
 * (0, 1], as mean * ln(2) * (32 - log2(u)) with u = 32 random bits + 1.
 * At most about 22.2 * @mean.
 */
static u64 adev_exp_ns(struct adev_engine *e, u64 mean)
{
	u64 u = (adev_prng_next(e) >> 32) + 1;
	u64 x = (32ULL << 16) - adev_log2_fp16(u);

	/* ln(2) * 2^32 = 2977044471.8; mean * x < 2^34 * 2^21 */
	return mul_u64_u32_shr(mean * x, 2977044472U, 32 + 16);
}

static u64 adev_lat_sample(struct adev_engine *e,
			   const struct asyncdev_latency *l)
{
	u64 t = l->base_ns;

	switch (l->dist) {
	case ASYNCDEV_LAT_UNIFORM:
		if (l->spread_ns)
			t += mul_u64_u64_shr(adev_prng_next(e),
					     l->spread_ns + 1, 64);
		break;
	case ASYNCDEV_LAT_EXP:
		if (l->spread_ns)
			t += adev_exp_ns(e, l->spread_ns);
		break;
	}
	if (l->tail_ppm && adev_prng_ppm(e, l->tail_ppm))
		t *= l->tail_mult;	/* <= 10^10 * 1000 < 2^64 */
	return min_t(u64, t, ASYNCDEV_MAX_SERVICE_NS);
}

static bool adev_trigger_hit(struct adev_engine *e,
			     const struct asyncdev_trigger *t, u64 *seen,
			     bool write)
{
	bool hit = false;

	if (!(t->dirs & (write ? ASYNCDEV_DIR_WRITE : ASYNCDEV_DIR_READ)))
		return false;
	if (t->every && ++*seen % t->every == 0)
		hit = true;
	if (t->ppm && adev_prng_ppm(e, t->ppm))
		hit = true;
	return hit;
}

static size_t adev_short_len(const struct asyncdev_short *sh, size_t count)
{
	size_t n;

	if (count < 2)
		return 0;
	if (sh->bytes)
		n = min_t(u64, sh->bytes, count);
	else
		n = max_t(size_t, mul_u64_u32_div(count, sh->permille, 1000), 1);
	return n < count ? n : 0;
}

/*
 * The choices for a request of @count bytes, made at submission in a fixed
 * order (stall, short, service time) from the node's PRNG.
 */
void adev_engine_draw(struct adev_node *node, bool write, size_t count,
		      struct adev_draw *d)
{
	struct adev_engine *e = &node->engine;
	unsigned long flags;

	memset(d, 0, sizeof(*d));
	if (!READ_ONCE(e->slow) && !READ_ONCE(e->stall.when.dirs) &&
	    !READ_ONCE(e->shrt.when.dirs))
		return;
	spin_lock_irqsave(&e->lock, flags);
	d->stall = adev_trigger_hit(e, &e->stall.when, &e->stall_seen, write);
	if (adev_trigger_hit(e, &e->shrt.when, &e->short_seen, write))
		d->short_len = adev_short_len(&e->shrt, count);
	d->service_ns = adev_lat_sample(e, &e->lat[write]);
	spin_unlock_irqrestore(&e->lock, flags);
}

/* Stalls are on for this direction (io_uring then goes to its worker). */
static bool adev_stall_armed(struct adev_node *node, bool write)
{
	return READ_ONCE(node->engine.stall.when.dirs) &
	       (write ? ASYNCDEV_DIR_WRITE : ASYNCDEV_DIR_READ);
}

/*
 * adev_rw() (rw.h) while something is armed on the node: fault injection,
 * the node's device-side checks (@ops->check), io_uring's non-blocking
 * attempt sent to its worker while stalls are armed, then the choices
 * drawn for the request (stall, short transfer, service time). A stalled
 * request is parked or waits here; any other is served by @ops->serve with
 * its service time, through an iterator truncated to the short length if
 * it was shortened and re-expanded afterwards (the caller sees its
 * iterator advanced by what was moved).
 */
ssize_t adev_rw_armed(struct kiocb *iocb, struct iov_iter *iter, bool write,
		      const struct adev_rw_ops *ops,
		      const struct adev_submit *sub)
{
	struct adev_file *af = iocb->ki_filp->private_data;
	struct adev_node *node = af->node;
	size_t count = iov_iter_count(iter);
	struct adev_draw d;
	ssize_t ret;

	ret = adev_fault_check(node);
	if (ret)
		return ret;
	if (ops->check) {
		ret = ops->check(iocb, count, write);
		if (ret)
			return ret;
	}
	/* Stalls on: io_uring's first, non-blocking attempt goes to io-wq. */
	if (!is_sync_kiocb(iocb) && !adev_kiocb_is_aio(iocb) &&
	    (iocb->ki_flags & IOCB_NOWAIT) && adev_stall_armed(node, write))
		return -EAGAIN;
	adev_engine_draw(node, write, count, &d);
	if (d.stall) {
		ret = adev_engine_stall(af, iocb, iter, write, sub);
		if (ret != -EIOCBQUEUED)
			trace_asyncdev_done(node, sub, write, ret);
		return ret;
	}
	if (d.short_len)
		iov_iter_truncate(iter, d.short_len);
	ret = ops->serve(af, iocb, iter, write, d.service_ns, sub);
	if (d.short_len)
		iov_iter_reexpand(iter, iov_iter_count(iter) +
				  (count - d.short_len));
	return ret;
}

static int adev_lat_valid(const struct asyncdev_latency *l)
{
	if (!adev_zero(l->reserved, sizeof(l->reserved)) ||
	    l->dist > ASYNCDEV_LAT_EXP ||
	    l->base_ns > ASYNCDEV_MAX_SERVICE_NS ||
	    l->spread_ns > ASYNCDEV_MAX_SERVICE_NS ||
	    (l->dist == ASYNCDEV_LAT_FIXED && l->spread_ns) ||
	    l->tail_ppm > ASYNCDEV_PPM ||
	    l->tail_mult > ASYNCDEV_MAX_TAIL_MULT ||
	    (l->tail_ppm && !l->tail_mult))
		return -EINVAL;
	return 0;
}

static bool adev_lat_slow(const struct asyncdev_latency *l)
{
	return l->base_ns || l->spread_ns;
}

int adev_set_latency(struct adev_node *node, const struct asyncdev_latency *l)
{
	struct adev_engine *e = &node->engine;
	struct asyncdev_latency v = *l;
	unsigned long flags;
	int ret;

	lockdep_assert_held(&node->cfg_mutex);
	ret = adev_lat_valid(l);
	if (ret)
		return ret;
	if (!l->dir || l->dir & ~ASYNCDEV_DIR_BOTH)
		return -EINVAL;
	v.dir = 0;
	if (!v.tail_mult)
		v.tail_mult = 1;
	spin_lock_irqsave(&e->lock, flags);
	if (l->dir & ASYNCDEV_DIR_READ)
		e->lat[0] = v;
	if (l->dir & ASYNCDEV_DIR_WRITE)
		e->lat[1] = v;
	WRITE_ONCE(e->slow,
		   adev_lat_slow(&e->lat[0]) || adev_lat_slow(&e->lat[1]));
	spin_unlock_irqrestore(&e->lock, flags);
	return 0;
}

int adev_get_latency(struct adev_node *node, struct asyncdev_latency *l)
{
	struct adev_engine *e = &node->engine;
	unsigned long flags;
	u32 dir = l->dir;

	if (dir != ASYNCDEV_DIR_READ && dir != ASYNCDEV_DIR_WRITE)
		return -EINVAL;
	spin_lock_irqsave(&e->lock, flags);
	*l = e->lat[dir == ASYNCDEV_DIR_WRITE];
	spin_unlock_irqrestore(&e->lock, flags);
	l->dir = dir;
	return 0;
}

int adev_set_seed(struct adev_node *node, const struct asyncdev_seed *s)
{
	struct adev_engine *e = &node->engine;
	unsigned long flags;

	lockdep_assert_held(&node->cfg_mutex);
	if (!adev_zero(s->reserved, sizeof(s->reserved)))
		return -EINVAL;
	spin_lock_irqsave(&e->lock, flags);
	adev_reseed_locked(e, s->seed);
	spin_unlock_irqrestore(&e->lock, flags);
	return 0;
}

void adev_get_seed(struct adev_node *node, struct asyncdev_seed *s)
{
	memset(s, 0, sizeof(*s));
	s->seed = READ_ONCE(node->engine.seed);
}

static int adev_trigger_valid(const struct asyncdev_trigger *t)
{
	if (t->dirs & ~ASYNCDEV_DIR_BOTH || t->ppm > ASYNCDEV_PPM)
		return -EINVAL;
	if (t->dirs && !t->every && !t->ppm)
		return -EINVAL;
	return 0;
}

int adev_set_stall(struct adev_node *node, const struct asyncdev_stall *st)
{
	struct adev_engine *e = &node->engine;
	unsigned long flags;

	lockdep_assert_held(&node->cfg_mutex);
	if (!adev_zero(st->reserved, sizeof(st->reserved)) ||
	    adev_trigger_valid(&st->when))
		return -EINVAL;
	spin_lock_irqsave(&e->lock, flags);
	e->stall = *st;
	WRITE_ONCE(e->stall.when.dirs, st->when.dirs);
	e->stall_seen = 0;
	spin_unlock_irqrestore(&e->lock, flags);
	return 0;
}

void adev_get_stall(struct adev_node *node, struct asyncdev_stall *st)
{
	struct adev_engine *e = &node->engine;
	unsigned long flags;

	spin_lock_irqsave(&e->lock, flags);
	*st = e->stall;
	spin_unlock_irqrestore(&e->lock, flags);
}

int adev_set_short(struct adev_node *node, const struct asyncdev_short *sh)
{
	struct adev_engine *e = &node->engine;
	unsigned long flags;

	lockdep_assert_held(&node->cfg_mutex);
	if (!adev_zero(sh->reserved, sizeof(sh->reserved)) || sh->reserved0 ||
	    adev_trigger_valid(&sh->when) || sh->permille >= 1000)
		return -EINVAL;
	if (sh->when.dirs && !sh->bytes == !sh->permille)
		return -EINVAL;
	spin_lock_irqsave(&e->lock, flags);
	e->shrt = *sh;
	WRITE_ONCE(e->shrt.when.dirs, sh->when.dirs);
	e->short_seen = 0;
	spin_unlock_irqrestore(&e->lock, flags);
	return 0;
}

void adev_get_short(struct adev_node *node, struct asyncdev_short *sh)
{
	struct adev_engine *e = &node->engine;
	unsigned long flags;

	spin_lock_irqsave(&e->lock, flags);
	*sh = e->shrt;
	spin_unlock_irqrestore(&e->lock, flags);
}

/*
 * Bad ranges. A sorted array of disjoint, non-adjacent inclusive ranges;
 * lookups scan it (at most ASYNCDEV_BAD_MAX_RANGES entries, and nothing at
 * all while it is empty).
 */
void adev_bad_init(struct adev_node *node)
{
	spin_lock_init(&node->bad.lock);
}

void adev_bad_exit(struct adev_node *node)
{
	kvfree(node->bad.r);
}

/* Index of the first range ending at or after @pos; under b->lock. */
static unsigned int adev_bad_first(const struct adev_bad *b, u64 pos)
{
	unsigned int lo = 0, hi = b->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (b->r[mid].end < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Whether [@start, @end] touches a bad byte; under b->lock. */
static bool adev_bad_overlaps(const struct adev_bad *b, u64 start, u64 end)
{
	unsigned int i = adev_bad_first(b, start);

	return i < b->nr && b->r[i].start <= end;
}

/*
 * -EIO if the request of @n bytes at @pos touches a bad range and must
 * fail: a read, or a write with ASYNCDEV_BAD_WRITES_FAIL.
 */
int adev_bad_check(struct adev_node *node, u64 pos, size_t n, bool write)
{
	struct adev_bad *b = &node->bad;
	bool bad = false;

	if (!READ_ONCE(b->nr) || !n || pos >= node->mem_size)
		return 0;
	n = min_t(u64, n, node->mem_size - pos);
	spin_lock(&b->lock);
	if (!write || b->writes == ASYNCDEV_BAD_WRITES_FAIL)
		bad = adev_bad_overlaps(b, pos, pos + n - 1);
	spin_unlock(&b->lock);
	return bad ? -EIO : 0;
}

/*
 * Remove [@start, @end] from the list; under b->lock. Splitting a range
 * needs one more entry: with @whole (a write that clears) and the table
 * full, the whole range goes instead (the device remapped it all);
 * otherwise -ENOSPC.
 */
static int adev_bad_clear(struct adev_bad *b, u64 start, u64 end, bool whole)
{
	unsigned int i = adev_bad_first(b, start), j;

	if (i < b->nr && b->r[i].start < start && b->r[i].end > end) {
		if (b->nr == ASYNCDEV_BAD_MAX_RANGES) {
			if (!whole)
				return -ENOSPC;
			memmove(&b->r[i], &b->r[i + 1],
				(b->nr - i - 1) * sizeof(b->r[0]));
			WRITE_ONCE(b->nr, b->nr - 1);
			return 0;
		}
		memmove(&b->r[i + 1], &b->r[i], (b->nr - i) * sizeof(b->r[0]));
		b->r[i].end = start - 1;
		b->r[i + 1].start = end + 1;
		WRITE_ONCE(b->nr, b->nr + 1);
		return 0;
	}
	if (i < b->nr && b->r[i].start < start) {
		b->r[i].end = start - 1;
		i++;
	}
	for (j = i; j < b->nr && b->r[j].end <= end; j++)
		;
	if (j < b->nr && b->r[j].start <= end)
		b->r[j].start = end + 1;
	memmove(&b->r[i], &b->r[j], (b->nr - j) * sizeof(b->r[0]));
	WRITE_ONCE(b->nr, b->nr - (j - i));
	return 0;
}

/* Add [@start, @end], merging what it overlaps or touches; under b->lock. */
static int adev_bad_add(struct adev_bad *b, u64 start, u64 end)
{
	unsigned int i = adev_bad_first(b, start ? start - 1 : 0), j;

	for (j = i; j < b->nr && b->r[j].start <= end + 1; j++) {
		start = min(start, b->r[j].start);
		end = max(end, b->r[j].end);
	}
	if (j == i) {
		if (b->nr == ASYNCDEV_BAD_MAX_RANGES)
			return -ENOSPC;
		memmove(&b->r[i + 1], &b->r[i], (b->nr - i) * sizeof(b->r[0]));
		WRITE_ONCE(b->nr, b->nr + 1);
	} else {
		memmove(&b->r[i + 1], &b->r[j], (b->nr - j) * sizeof(b->r[0]));
		WRITE_ONCE(b->nr, b->nr - (j - i - 1));
	}
	b->r[i].start = start;
	b->r[i].end = end;
	return 0;
}

/* A write of @n bytes at @pos succeeded: with WRITES_CLEAR, heal them. */
void adev_bad_written(struct adev_node *node, u64 pos, size_t n)
{
	struct adev_bad *b = &node->bad;

	if (!READ_ONCE(b->nr) || !n)
		return;
	spin_lock(&b->lock);
	if (b->writes == ASYNCDEV_BAD_WRITES_CLEAR)
		adev_bad_clear(b, pos, pos + n - 1, true);
	spin_unlock(&b->lock);
}

int adev_bad_op(struct adev_node *node, const struct asyncdev_badblocks *op)
{
	struct adev_bad *b = &node->bad;
	int ret = 0;

	lockdep_assert_held(&node->cfg_mutex);
	if (node->kind != ASYNCDEV_NODE_MEM)
		return -ENOTTY;
	if (!adev_zero(op->reserved, sizeof(op->reserved)))
		return -EINVAL;
	switch (op->op) {
	case ASYNCDEV_BAD_ADD:
	case ASYNCDEV_BAD_CLEAR:
		if (op->writes || op->start > op->end ||
		    op->end >= node->mem_size)
			return -EINVAL;
		break;
	case ASYNCDEV_BAD_CLEAR_ALL:
		if (op->writes || op->start || op->end)
			return -EINVAL;
		break;
	case ASYNCDEV_BAD_SET_WRITES:
		if (op->writes > ASYNCDEV_BAD_WRITES_CLEAR || op->start ||
		    op->end)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (op->op == ASYNCDEV_BAD_ADD && !b->r) {
		struct adev_bad_range *r;

		r = kvmalloc_array(ASYNCDEV_BAD_MAX_RANGES, sizeof(*r),
				   GFP_KERNEL_ACCOUNT);
		if (!r)
			return -ENOMEM;
		spin_lock(&b->lock);
		b->r = r;
		spin_unlock(&b->lock);
	}

	spin_lock(&b->lock);
	switch (op->op) {
	case ASYNCDEV_BAD_ADD:
		ret = adev_bad_add(b, op->start, op->end);
		break;
	case ASYNCDEV_BAD_CLEAR:
		if (b->nr)
			ret = adev_bad_clear(b, op->start, op->end, false);
		break;
	case ASYNCDEV_BAD_CLEAR_ALL:
		WRITE_ONCE(b->nr, 0);
		break;
	case ASYNCDEV_BAD_SET_WRITES:
		b->writes = op->writes;
		break;
	}
	spin_unlock(&b->lock);
	return ret;
}

/*
 * Copy the list out, through a bounce buffer of at most one page at a time
 * (the user copy may fault: not under b->lock).
 */
int adev_bad_list(struct adev_node *node, struct asyncdev_badblocks_list *l)
{
	struct adev_bad *b = &node->bad;
	u64 __user *dst = u64_to_user_ptr(l->ranges);
	const unsigned int per = PAGE_SIZE / sizeof(struct adev_bad_range);
	struct adev_bad_range *tmp;
	unsigned int done = 0, n;
	int ret = 0;

	if (node->kind != ASYNCDEV_NODE_MEM)
		return -ENOTTY;
	if (l->reserved0 || !adev_zero(l->reserved, sizeof(l->reserved)))
		return -EINVAL;
	tmp = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!tmp)
		return -ENOMEM;
	mutex_lock(&node->cfg_mutex);	/* a consistent list */
	l->count = b->nr;
	l->writes = b->writes;
	while (done < min(l->max, l->count)) {
		n = min(min(l->max, l->count) - done, per);
		spin_lock(&b->lock);
		memcpy(tmp, &b->r[done], n * sizeof(*tmp));
		spin_unlock(&b->lock);
		if (copy_to_user(dst + 2 * done, tmp, n * sizeof(*tmp))) {
			ret = -EFAULT;
			break;
		}
		done += n;
	}
	mutex_unlock(&node->cfg_mutex);
	kfree(tmp);
	return ret;
}

/* sysfs: one "start-end" line per range, as a badblocks list. */
ssize_t adev_bad_show(struct adev_node *node, char *buf)
{
	struct adev_bad *b = &node->bad;
	unsigned int i;
	ssize_t len = 0;

	mutex_lock(&node->cfg_mutex);
	spin_lock(&b->lock);
	for (i = 0; i < b->nr; i++) {
		int n = scnprintf(buf + len, PAGE_SIZE - len, "%llu-%llu\n",
				  b->r[i].start, b->r[i].end);

		/* A full page ends the listing (the ioctl has them all). */
		if (len + n >= PAGE_SIZE - 1)
			break;
		len += n;
	}
	spin_unlock(&b->lock);
	mutex_unlock(&node->cfg_mutex);
	return len;
}
