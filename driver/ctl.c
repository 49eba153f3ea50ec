// SPDX-License-Identifier: GPL-2.0
/*
 * Control plane: open/release bookkeeping, ioctls and sysfs attributes.
 * Configuration goes through adev_set_config() from both the ioctl and
 * sysfs, so validation lives in one place.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/device.h>
#include <linux/hashtable.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "asyncdev.h"

/*
 * Users with open files, for the per-user limit on queued requests
 * (max_user_queued): a limit per open file alone is none on a 0666 node,
 * where anyone can open more files. The table and every entry's @files
 * change under adev_users_mutex, at open and release only; the request
 * paths touch nothing but the entry's atomic counter.
 */
static DEFINE_HASHTABLE(adev_users, 6);
static DEFINE_MUTEX(adev_users_mutex);

static struct adev_user *adev_user_get(kuid_t uid)
{
	struct adev_user *u;

	mutex_lock(&adev_users_mutex);
	hash_for_each_possible(adev_users, u, hash, __kuid_val(uid))
		if (uid_eq(u->uid, uid))
			goto found;
	u = kzalloc(sizeof(*u), GFP_KERNEL_ACCOUNT);
	if (!u)
		goto out;
	u->uid = uid;
	hash_add(adev_users, &u->hash, __kuid_val(uid));
found:
	u->files++;
out:
	mutex_unlock(&adev_users_mutex);
	return u;
}

static void adev_user_put(struct adev_user *u)
{
	mutex_lock(&adev_users_mutex);
	if (!--u->files) {
		/* Every request holds a file reference: none is left. */
		WARN_ON_ONCE(atomic_read(&u->queued));
		hash_del(&u->hash);
		kfree(u);
	}
	mutex_unlock(&adev_users_mutex);
}

int adev_open_common(struct inode *inode, struct file *file)
{
	struct miscdevice *misc = file->private_data;
	struct adev_file *af;

	af = kmalloc(sizeof(*af), GFP_KERNEL_ACCOUNT);
	if (!af)
		return -ENOMEM;
	af->user = adev_user_get(current_fsuid());
	if (!af->user) {
		kfree(af);
		return -ENOMEM;
	}
	af->node = container_of(misc, struct adev_node, misc);
	atomic_set(&af->queued, 0);
	file->private_data = af;
	file->f_mode |= FMODE_NOWAIT;
	return 0;
}

int adev_release_common(struct inode *inode, struct file *file)
{
	struct adev_file *af = file->private_data;

	/* Every queued request holds a file reference. */
	WARN_ON_ONCE(atomic_read(&af->queued));
	adev_user_put(af->user);
	kfree(af);
	return 0;
}

/*
 * The v1 view of the timing: the read direction's base and spread, capped
 * at the v1 limits so that a v1 read-modify-write stays valid.
 */
static void adev_get_config(struct adev_node *node, struct asyncdev_config *c)
{
	struct asyncdev_latency l = { .dir = ASYNCDEV_DIR_READ };

	memset(c, 0, sizeof(*c));
	adev_get_latency(node, &l);
	c->latency_ns = min_t(u64, l.base_ns, ASYNCDEV_MAX_LATENCY_NS);
	c->jitter_ns = min_t(u64, l.spread_ns, ASYNCDEV_MAX_JITTER_NS);
	c->channels = READ_ONCE(node->engine.channels);
	if (node->kind == ASYNCDEV_NODE_FIFO)
		c->produce_hz = READ_ONCE(node->fifo.produce_hz);
}

static bool adev_zero(const void *p, size_t n)
{
	return !memchr_inv(p, 0, n);
}

/*
 * Validate and apply a whole configuration; the caller holds
 * node->cfg_mutex, across its read of the old one too if it changes only
 * some fields (a sysfs store), so that concurrent changes do not revert
 * each other. Without @timing the latency and jitter are left alone: a
 * sysfs store of channels keeps the distributions set by
 * ASYNCDEV_IOC_SET_LATENCY.
 */
static int adev_apply_config(struct adev_node *node,
			     const struct asyncdev_config *c, bool timing)
{
	struct adev_engine *e = &node->engine;

	lockdep_assert_held(&node->cfg_mutex);
	if (!adev_zero(c->reserved, sizeof(c->reserved)) ||
	    (timing && c->latency_ns > ASYNCDEV_MAX_LATENCY_NS) ||
	    (timing && c->jitter_ns > ASYNCDEV_MAX_JITTER_NS) ||
	    !c->channels || c->channels > ASYNCDEV_MAX_CHANNELS ||
	    c->produce_hz > ASYNCDEV_MAX_PRODUCE_HZ ||
	    (c->produce_hz && node->kind != ASYNCDEV_NODE_FIFO))
		return -EINVAL;

	adev_engine_set(e, timing, c->latency_ns, c->jitter_ns, c->channels);
	if (node->kind == ASYNCDEV_NODE_FIFO)
		adev_fifo_set_produce_hz(node, c->produce_hz);
	return 0;
}

static int adev_set_config(struct adev_node *node,
			   const struct asyncdev_config *c)
{
	int ret;

	mutex_lock(&node->cfg_mutex);
	ret = adev_apply_config(node, c, true);
	mutex_unlock(&node->cfg_mutex);
	return ret;
}

static int adev_set_fault(struct adev_node *node,
			  const struct asyncdev_fault *fault)
{
	unsigned long flags;

	if (!adev_zero(fault->reserved, sizeof(fault->reserved)))
		return -EINVAL;
	switch (fault->mode) {
	case ASYNCDEV_FAULT_OFF:
		break;
	case ASYNCDEV_FAULT_NEXT:
	case ASYNCDEV_FAULT_EVERY:
		/*
		 * Only errnos userspace can see: 512 and above are the
		 * kernel's own (ERESTARTSYS, EIOCBQUEUED, ...), which must
		 * never leave read_iter or reach ki_complete.
		 */
		if (!fault->count || !fault->error ||
		    fault->error >= ASYNCDEV_FAULT_ERRNO_LIMIT)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	spin_lock_irqsave(&node->fault.lock, flags);
	node->fault.cfg = *fault;
	node->fault.seen = 0;
	spin_unlock_irqrestore(&node->fault.lock, flags);
	return 0;
}

static void adev_get_fault(struct adev_node *node, struct asyncdev_fault *fault)
{
	unsigned long flags;

	spin_lock_irqsave(&node->fault.lock, flags);
	*fault = node->fault.cfg;
	spin_unlock_irqrestore(&node->fault.lock, flags);
}

static u64 adev_stat_sum(struct adev_node *node, enum adev_stat stat)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu_ptr(node->stats, cpu)->v[stat];
	return sum;
}

/*
 * The value of one counter: the per-CPU sum since the last reset. The FIFO
 * level and high-water mark are the FIFO's own; in_flight is never reset.
 */
u64 adev_stat_value(struct adev_node *node, enum adev_stat stat)
{
	bool fifo = node->kind == ASYNCDEV_NODE_FIFO;

	switch (stat) {
	case ADEV_STAT_FIFO_LEVEL:
		return fifo ? adev_fifo_level(node) : 0;
	case ADEV_STAT_FIFO_HIGH_WATER:
		return fifo ? adev_fifo_high_water(node) : 0;
	case ADEV_STAT_IN_FLIGHT:
		/* +1 and -1 may land on different CPUs: never show < 0 */
		return max_t(s64, adev_stat_sum(node, stat), 0);
	default:
		return adev_stat_sum(node, stat) -
		       READ_ONCE(node->stats_base[stat]);
	}
}

/* struct asyncdev_stats is ADEV_NR_STATS __u64 in enum order, then reserved. */
static void adev_get_stats(struct adev_node *node, struct asyncdev_stats *s)
{
	u64 *v = (u64 *)s;
	int i;

	BUILD_BUG_ON(offsetof(struct asyncdev_stats, reserved) !=
		     ADEV_NR_STATS * sizeof(u64));
	BUILD_BUG_ON(offsetof(struct asyncdev_stats, faults_injected) !=
		     ADEV_STAT_FAULTS_INJECTED * sizeof(u64));
	memset(s, 0, sizeof(*s));
	for (i = 0; i < ADEV_NR_STATS; i++)
		v[i] = adev_stat_value(node, i);
}

/*
 * Reset the counters by remembering their sums (the per-CPU values are only
 * ever added to). in_flight and the FIFO level describe the present; the
 * high-water mark restarts from the level.
 */
static void adev_reset_stats(struct adev_node *node)
{
	int i;

	mutex_lock(&node->cfg_mutex);
	for (i = 0; i < ADEV_NR_STATS; i++)
		WRITE_ONCE(node->stats_base[i], adev_stat_sum(node, i));
	mutex_unlock(&node->cfg_mutex);
	if (node->kind == ASYNCDEV_NODE_FIFO)
		adev_fifo_reset_high_water(node);
}

union adev_misbehave_arg {
	struct asyncdev_latency lat;
	struct asyncdev_seed seed;
	struct asyncdev_stall stall;
	struct asyncdev_short shrt;
	struct asyncdev_badblocks bad;
	struct asyncdev_badblocks_list list;
};

/* The SET_ ioctls of the misbehaviour knobs: CAP_SYS_ADMIN, cfg_mutex. */
static long adev_misbehave_set(struct adev_node *node, unsigned int cmd,
			       void __user *argp)
{
	union adev_misbehave_arg u;
	long ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (cmd == ASYNCDEV_IOC_BADBLOCKS && node->kind != ASYNCDEV_NODE_MEM)
		return -ENOTTY;
	if (copy_from_user(&u, argp, _IOC_SIZE(cmd)))
		return -EFAULT;
	mutex_lock(&node->cfg_mutex);
	switch (cmd) {
	case ASYNCDEV_IOC_SET_LATENCY:
		ret = adev_set_latency(node, &u.lat);
		break;
	case ASYNCDEV_IOC_SET_SEED:
		ret = adev_set_seed(node, &u.seed);
		break;
	case ASYNCDEV_IOC_SET_STALL:
		ret = adev_set_stall(node, &u.stall);
		break;
	case ASYNCDEV_IOC_SET_SHORT:
		ret = adev_set_short(node, &u.shrt);
		break;
	default:
		ret = adev_bad_op(node, &u.bad);
		break;
	}
	mutex_unlock(&node->cfg_mutex);
	return ret;
}

/* The misbehaviour ioctls (faults.c); -ENOIOCTLCMD for any other. */
static long adev_misbehave_ioctl(struct file *file, unsigned int cmd,
				 void __user *argp)
{
	struct adev_node *node = adev_node_of(file);
	union adev_misbehave_arg u;
	int ret = 0;

	switch (cmd) {
	case ASYNCDEV_IOC_SET_LATENCY:
	case ASYNCDEV_IOC_SET_SEED:
	case ASYNCDEV_IOC_SET_STALL:
	case ASYNCDEV_IOC_SET_SHORT:
	case ASYNCDEV_IOC_BADBLOCKS:
		return adev_misbehave_set(node, cmd, argp);
	case ASYNCDEV_IOC_GET_LATENCY:
		if (copy_from_user(&u.lat, argp, sizeof(u.lat)))
			return -EFAULT;
		ret = adev_get_latency(node, &u.lat);
		break;
	case ASYNCDEV_IOC_GET_SEED:
		adev_get_seed(node, &u.seed);
		break;
	case ASYNCDEV_IOC_GET_STALL:
		adev_get_stall(node, &u.stall);
		break;
	case ASYNCDEV_IOC_GET_SHORT:
		adev_get_short(node, &u.shrt);
		break;
	case ASYNCDEV_IOC_GET_BADBLOCKS:
		if (node->kind != ASYNCDEV_NODE_MEM)
			return -ENOTTY;
		if (copy_from_user(&u.list, argp, sizeof(u.list)))
			return -EFAULT;
		ret = adev_bad_list(node, &u.list);
		break;
	default:
		return -ENOIOCTLCMD;
	}
	if (ret)
		return ret;
	return copy_to_user(argp, &u, _IOC_SIZE(cmd)) ? -EFAULT : 0;
}

long adev_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct adev_node *node = adev_node_of(file);
	void __user *argp = (void __user *)arg;
	union {
		struct asyncdev_info info;
		struct asyncdev_config config;
		struct asyncdev_stats stats;
		struct asyncdev_fault fault;
	} u;
	long ret;

	ret = adev_misbehave_ioctl(file, cmd, argp);
	if (ret != -ENOIOCTLCMD)
		return ret;

	switch (cmd) {
	case ASYNCDEV_IOC_GET_INFO:
		memset(&u.info, 0, sizeof(u.info));
		u.info.abi_version = ASYNCDEV_ABI_VERSION;
		u.info.node = node->kind;
		u.info.capacity = node->kind == ASYNCDEV_NODE_FIFO ?
				  node->fifo.size : node->mem_size;
		u.info.record_size = sizeof(struct asyncdev_record);
		return copy_to_user(argp, &u.info, sizeof(u.info)) ? -EFAULT : 0;
	case ASYNCDEV_IOC_GET_CONFIG:
		adev_get_config(node, &u.config);
		return copy_to_user(argp, &u.config, sizeof(u.config)) ?
		       -EFAULT : 0;
	case ASYNCDEV_IOC_SET_CONFIG:
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		if (copy_from_user(&u.config, argp, sizeof(u.config)))
			return -EFAULT;
		return adev_set_config(node, &u.config);
	case ASYNCDEV_IOC_GET_STATS:
		adev_get_stats(node, &u.stats);
		return copy_to_user(argp, &u.stats, sizeof(u.stats)) ?
		       -EFAULT : 0;
	case ASYNCDEV_IOC_RESET_STATS:
		if (!(file->f_mode & FMODE_WRITE))
			return -EBADF;
		adev_reset_stats(node);
		return 0;
	case ASYNCDEV_IOC_FLUSH:
		if (node->kind != ASYNCDEV_NODE_FIFO)
			return -ENOTTY;
		if (!(file->f_mode & FMODE_WRITE))
			return -EBADF;
		adev_fifo_flush(node);
		return 0;
	case ASYNCDEV_IOC_SET_FAULT:
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		if (copy_from_user(&u.fault, argp, sizeof(u.fault)))
			return -EFAULT;
		return adev_set_fault(node, &u.fault);
	case ASYNCDEV_IOC_GET_FAULT:
		adev_get_fault(node, &u.fault);
		return copy_to_user(argp, &u.fault, sizeof(u.fault)) ?
		       -EFAULT : 0;
	default:
		return -ENOTTY;
	}
}

/* sysfs: /sys/class/misc/<node>/{latency_ns,jitter_ns,channels,produce_hz} */

static struct adev_node *adev_dev_node(struct device *dev)
{
	struct miscdevice *misc = dev_get_drvdata(dev);

	return container_of(misc, struct adev_node, misc);
}

/* One attribute per config field, handled by one show and one store. */
enum adev_cfg_field { ADEV_CFG_LATENCY, ADEV_CFG_JITTER, ADEV_CFG_CHANNELS,
		      ADEV_CFG_PRODUCE_HZ };

struct adev_cfg_attr {
	struct device_attribute dattr;
	enum adev_cfg_field field;
};

static u64 *adev_cfg_field(struct asyncdev_config *c, enum adev_cfg_field f,
			   u64 *tmp)
{
	switch (f) {
	case ADEV_CFG_LATENCY:
		return &c->latency_ns;
	case ADEV_CFG_JITTER:
		return &c->jitter_ns;
	case ADEV_CFG_CHANNELS:
		*tmp = c->channels;
		return tmp;
	default:
		*tmp = c->produce_hz;
		return tmp;
	}
}

static ssize_t adev_cfg_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct adev_cfg_attr *ca = container_of(attr, struct adev_cfg_attr,
						dattr);
	struct asyncdev_config c;
	u64 tmp;

	adev_get_config(adev_dev_node(dev), &c);
	return sysfs_emit(buf, "%llu\n", *adev_cfg_field(&c, ca->field, &tmp));
}

static ssize_t adev_cfg_store(struct device *dev, struct device_attribute *attr,
			      const char *buf, size_t count)
{
	struct adev_cfg_attr *ca = container_of(attr, struct adev_cfg_attr,
						dattr);
	struct adev_node *node = adev_dev_node(dev);
	struct asyncdev_config c;
	u64 val;
	int ret;

	ret = kstrtou64(buf, 0, &val);
	if (ret)
		return ret;
	mutex_lock(&node->cfg_mutex);
	adev_get_config(node, &c);
	switch (ca->field) {
	case ADEV_CFG_LATENCY:
		c.latency_ns = val;
		break;
	case ADEV_CFG_JITTER:
		c.jitter_ns = val;
		break;
	case ADEV_CFG_CHANNELS:
	case ADEV_CFG_PRODUCE_HZ:
		if (val > U32_MAX) {
			ret = -EINVAL;
			break;
		}
		if (ca->field == ADEV_CFG_CHANNELS)
			c.channels = val;
		else
			c.produce_hz = val;
		break;
	}
	if (!ret)
		ret = adev_apply_config(node, &c,
					ca->field == ADEV_CFG_LATENCY ||
					ca->field == ADEV_CFG_JITTER);
	mutex_unlock(&node->cfg_mutex);
	return ret ? ret : count;
}

#define ADEV_CFG_ATTR(_name, _field) {					\
	.dattr = __ATTR(_name, 0644, adev_cfg_show, adev_cfg_store),	\
	.field = (_field),						\
}

static struct adev_cfg_attr adev_cfg_attrs[] = {
	ADEV_CFG_ATTR(latency_ns, ADEV_CFG_LATENCY),
	ADEV_CFG_ATTR(jitter_ns, ADEV_CFG_JITTER),
	ADEV_CFG_ATTR(channels, ADEV_CFG_CHANNELS),
	ADEV_CFG_ATTR(produce_hz, ADEV_CFG_PRODUCE_HZ),
};

static struct attribute *adev_config_attrs[] = {
	&adev_cfg_attrs[0].dattr.attr,
	&adev_cfg_attrs[1].dattr.attr,
	&adev_cfg_attrs[2].dattr.attr,
	&adev_cfg_attrs[3].dattr.attr,
	NULL
};

static umode_t adev_config_visible(struct kobject *kobj, struct attribute *a,
				   int n)
{
	struct adev_node *node = adev_dev_node(kobj_to_dev(kobj));

	if (n == ADEV_CFG_PRODUCE_HZ && node->kind != ASYNCDEV_NODE_FIFO)
		return 0;
	return a->mode;
}

static const struct attribute_group adev_config_group = {
	.attrs = adev_config_attrs,
	.is_visible = adev_config_visible,
};

/*
 * sysfs: the misbehaviour knobs, each a line of words parsed into the same
 * structure the ioctl takes and applied by the same function:
 *   seed			a u64
 *   read_latency, write_latency	<fixed|uniform|exp> <base_ns> [<spread_ns>
 *				[<tail_ppm> <tail_mult>]]
 *   stall			off | <r|w|rw> <every> <ppm>
 *   short			off | <r|w|rw> <every> <ppm> <bytes> <permille>
 *   badblocks (asyncmem)	+start-end | -start-end | clear; lists ranges
 *   bad_writes (asyncmem)	pass | fail | clear
 * A malformed line or a value out of range is -EINVAL, as for the ioctl.
 */
#define ADEV_MAX_WORDS	6

/* Split @buf into at most @max words; -EINVAL for more. */
static int adev_words(const char *buf, char *tmp, size_t size, char **w,
		      int max)
{
	char *p = tmp, *t;
	int n = 0;

	if (strscpy(tmp, buf, size) < 0)
		return -EINVAL;
	while ((t = strsep(&p, " \t\n"))) {
		if (!*t)
			continue;
		if (n == max)
			return -EINVAL;
		w[n++] = t;
	}
	return n;
}

/* Parse optional numeric words w[from..n) into @v[], 0 when missing. */
static int adev_words_u64(char **w, int n, int from, u64 *v, int nv)
{
	int i;

	for (i = 0; i < nv; i++) {
		v[i] = 0;
		if (from + i < n && kstrtou64(w[from + i], 0, &v[i]))
			return -EINVAL;
	}
	return n - from <= nv ? 0 : -EINVAL;
}

static const char * const adev_dist_names[] = { "fixed", "uniform", "exp" };
static const char * const adev_dirs_names[] = { "off", "r", "w", "rw" };
static const char * const adev_bad_writes_names[] = { "pass", "fail", "clear" };

/* A u64 that must fit in u32, for a u32 field: else -EINVAL. */
static int adev_u32(u64 v, u32 *out)
{
	if (v > U32_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

static int adev_parse_trigger(char **w, int n, struct asyncdev_trigger *t,
			      u64 *v, int nv)
{
	int dirs;

	if (n < 1)
		return -EINVAL;
	dirs = match_string(adev_dirs_names, ARRAY_SIZE(adev_dirs_names), w[0]);
	if (dirs < 0)
		return -EINVAL;
	t->dirs = dirs;
	if (!dirs)
		return n == 1 ? 0 : -EINVAL;
	if (n < 3 || adev_words_u64(w, n, 1, v, nv))
		return -EINVAL;
	t->every = v[0];
	return adev_u32(v[1], &t->ppm);
}

enum adev_misc_attr { ADEV_ATTR_SEED, ADEV_ATTR_READ_LAT, ADEV_ATTR_WRITE_LAT,
		      ADEV_ATTR_STALL, ADEV_ATTR_SHORT, ADEV_ATTR_BADBLOCKS,
		      ADEV_ATTR_BAD_WRITES };

struct adev_misc_attr_def {
	struct device_attribute dattr;
	enum adev_misc_attr which;
};

static ssize_t adev_misc_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	struct adev_misc_attr_def *ma = container_of(attr,
				struct adev_misc_attr_def, dattr);
	struct adev_node *node = adev_dev_node(dev);
	struct asyncdev_badblocks_list bl = {};
	struct asyncdev_latency l = {};
	struct asyncdev_seed seed;
	struct asyncdev_stall st;
	struct asyncdev_short sh;

	switch (ma->which) {
	case ADEV_ATTR_SEED:
		adev_get_seed(node, &seed);
		return sysfs_emit(buf, "%llu\n", seed.seed);
	case ADEV_ATTR_READ_LAT:
	case ADEV_ATTR_WRITE_LAT:
		l.dir = ma->which == ADEV_ATTR_READ_LAT ? ASYNCDEV_DIR_READ :
							   ASYNCDEV_DIR_WRITE;
		adev_get_latency(node, &l);
		return sysfs_emit(buf, "%s %llu %llu %u %u\n",
				  adev_dist_names[l.dist], l.base_ns,
				  l.spread_ns, l.tail_ppm, l.tail_mult);
	case ADEV_ATTR_STALL:
		adev_get_stall(node, &st);
		if (!st.when.dirs)
			return sysfs_emit(buf, "off\n");
		return sysfs_emit(buf, "%s %llu %u\n",
				  adev_dirs_names[st.when.dirs],
				  st.when.every, st.when.ppm);
	case ADEV_ATTR_SHORT:
		adev_get_short(node, &sh);
		if (!sh.when.dirs)
			return sysfs_emit(buf, "off\n");
		return sysfs_emit(buf, "%s %llu %u %llu %u\n",
				  adev_dirs_names[sh.when.dirs],
				  sh.when.every, sh.when.ppm, sh.bytes,
				  sh.permille);
	case ADEV_ATTR_BADBLOCKS:
		return adev_bad_show(node, buf);
	case ADEV_ATTR_BAD_WRITES:
		adev_bad_list(node, &bl);
		return sysfs_emit(buf, "%s\n",
				  adev_bad_writes_names[bl.writes]);
	}
	return -EINVAL;
}

/* "+start-end" or "-start-end" into @b. */
static int adev_parse_range(const char *s, struct asyncdev_badblocks *b)
{
	char tmp[48], *end;

	if (strscpy(tmp, s + 1, sizeof(tmp)) < 0)
		return -EINVAL;
	end = strchr(tmp, '-');
	if (!end)
		return -EINVAL;
	*end++ = 0;
	if (kstrtou64(tmp, 0, &b->start) || kstrtou64(end, 0, &b->end))
		return -EINVAL;
	b->op = s[0] == '+' ? ASYNCDEV_BAD_ADD : ASYNCDEV_BAD_CLEAR;
	return 0;
}

/* Parse a store into the ioctl's structure and apply it; under cfg_mutex. */
static int adev_misc_apply(struct adev_node *node, enum adev_misc_attr which,
			   char **w, int n)
{
	struct asyncdev_badblocks bad = {};
	struct asyncdev_latency l = {};
	struct asyncdev_seed seed = {};
	struct asyncdev_stall st = {};
	struct asyncdev_short sh = {};
	u64 v[4];
	int ret;

	if (n < 1)
		return -EINVAL;
	switch (which) {
	case ADEV_ATTR_SEED:
		if (n != 1 || kstrtou64(w[0], 0, &seed.seed))
			return -EINVAL;
		return adev_set_seed(node, &seed);
	case ADEV_ATTR_READ_LAT:
	case ADEV_ATTR_WRITE_LAT:
		ret = match_string(adev_dist_names, ARRAY_SIZE(adev_dist_names),
				   w[0]);
		if (ret < 0 || n < 2 || n == 4 || adev_words_u64(w, n, 1, v, 4))
			return -EINVAL;
		l.dir = which == ADEV_ATTR_READ_LAT ? ASYNCDEV_DIR_READ :
						      ASYNCDEV_DIR_WRITE;
		l.dist = ret;
		l.base_ns = v[0];
		l.spread_ns = v[1];
		if (adev_u32(v[2], &l.tail_ppm) || adev_u32(v[3], &l.tail_mult))
			return -EINVAL;
		return adev_set_latency(node, &l);
	case ADEV_ATTR_STALL:
		ret = adev_parse_trigger(w, n, &st.when, v, 2);
		return ret ? ret : adev_set_stall(node, &st);
	case ADEV_ATTR_SHORT:
		ret = adev_parse_trigger(w, n, &sh.when, v, 4);
		if (ret)
			return ret;
		if (sh.when.dirs && n != 5)
			return -EINVAL;
		sh.bytes = v[2];
		if (sh.when.dirs && adev_u32(v[3], &sh.permille))
			return -EINVAL;
		return adev_set_short(node, &sh);
	case ADEV_ATTR_BADBLOCKS:
		if (n != 1)
			return -EINVAL;
		if (!strcmp(w[0], "clear"))
			bad.op = ASYNCDEV_BAD_CLEAR_ALL;
		else if ((w[0][0] != '+' && w[0][0] != '-') ||
			 adev_parse_range(w[0], &bad))
			return -EINVAL;
		return adev_bad_op(node, &bad);
	case ADEV_ATTR_BAD_WRITES:
		ret = match_string(adev_bad_writes_names,
				   ARRAY_SIZE(adev_bad_writes_names), w[0]);
		if (ret < 0 || n != 1)
			return -EINVAL;
		bad.op = ASYNCDEV_BAD_SET_WRITES;
		bad.writes = ret;
		return adev_bad_op(node, &bad);
	}
	return -EINVAL;
}

static ssize_t adev_misc_store(struct device *dev,
			       struct device_attribute *attr, const char *buf,
			       size_t count)
{
	struct adev_misc_attr_def *ma = container_of(attr,
				struct adev_misc_attr_def, dattr);
	struct adev_node *node = adev_dev_node(dev);
	char tmp[128], *w[ADEV_MAX_WORDS];
	int n, ret;

	n = adev_words(buf, tmp, sizeof(tmp), w, ADEV_MAX_WORDS);
	if (n < 0)
		return n;
	mutex_lock(&node->cfg_mutex);
	ret = adev_misc_apply(node, ma->which, w, n);
	mutex_unlock(&node->cfg_mutex);
	return ret ? ret : count;
}

#define ADEV_MISC_ATTR(_name, _which) {					\
	.dattr = __ATTR(_name, 0644, adev_misc_show, adev_misc_store),	\
	.which = (_which),						\
}

static struct adev_misc_attr_def adev_misc_attr_defs[] = {
	ADEV_MISC_ATTR(seed, ADEV_ATTR_SEED),
	ADEV_MISC_ATTR(read_latency, ADEV_ATTR_READ_LAT),
	ADEV_MISC_ATTR(write_latency, ADEV_ATTR_WRITE_LAT),
	ADEV_MISC_ATTR(stall, ADEV_ATTR_STALL),
	ADEV_MISC_ATTR(short, ADEV_ATTR_SHORT),
	ADEV_MISC_ATTR(badblocks, ADEV_ATTR_BADBLOCKS),
	ADEV_MISC_ATTR(bad_writes, ADEV_ATTR_BAD_WRITES),
};

static struct attribute *adev_misc_attrs[] = {
	&adev_misc_attr_defs[0].dattr.attr,
	&adev_misc_attr_defs[1].dattr.attr,
	&adev_misc_attr_defs[2].dattr.attr,
	&adev_misc_attr_defs[3].dattr.attr,
	&adev_misc_attr_defs[4].dattr.attr,
	&adev_misc_attr_defs[5].dattr.attr,
	&adev_misc_attr_defs[6].dattr.attr,
	NULL
};

static umode_t adev_misc_visible(struct kobject *kobj, struct attribute *a,
				 int n)
{
	struct adev_node *node = adev_dev_node(kobj_to_dev(kobj));

	if ((n == ADEV_ATTR_BADBLOCKS || n == ADEV_ATTR_BAD_WRITES) &&
	    node->kind != ASYNCDEV_NODE_MEM)
		return 0;
	return a->mode;
}

static const struct attribute_group adev_misc_group = {
	.attrs = adev_misc_attrs,
	.is_visible = adev_misc_visible,
};

/* sysfs: /sys/class/misc/<node>/stats/<counter>, read-only */

struct adev_stat_attr {
	struct device_attribute dattr;
	enum adev_stat stat;
};

static ssize_t adev_stat_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	struct adev_stat_attr *sa = container_of(attr, struct adev_stat_attr,
						 dattr);

	return sysfs_emit(buf, "%llu\n",
			  adev_stat_value(adev_dev_node(dev), sa->stat));
}

#define ADEV_STAT_ATTR(_name, _stat) {					\
	.dattr = __ATTR(_name, 0444, adev_stat_show, NULL),		\
	.stat = (_stat),						\
}

static struct adev_stat_attr adev_stat_attrs[ADEV_NR_STATS] = {
	ADEV_STAT_ATTR(bytes_read, ADEV_STAT_BYTES_READ),
	ADEV_STAT_ATTR(bytes_written, ADEV_STAT_BYTES_WRITTEN),
	ADEV_STAT_ATTR(reads, ADEV_STAT_READS),
	ADEV_STAT_ATTR(writes, ADEV_STAT_WRITES),
	ADEV_STAT_ATTR(async_queued, ADEV_STAT_ASYNC_QUEUED),
	ADEV_STAT_ATTR(async_completed, ADEV_STAT_ASYNC_COMPLETED),
	ADEV_STAT_ATTR(async_cancelled, ADEV_STAT_ASYNC_CANCELLED),
	ADEV_STAT_ATTR(signals_sent, ADEV_STAT_SIGNALS_SENT),
	ADEV_STAT_ATTR(fifo_level, ADEV_STAT_FIFO_LEVEL),
	ADEV_STAT_ATTR(fifo_high_water, ADEV_STAT_FIFO_HIGH_WATER),
	ADEV_STAT_ATTR(in_flight, ADEV_STAT_IN_FLIGHT),
	ADEV_STAT_ATTR(producer_records, ADEV_STAT_PRODUCER_RECORDS),
	ADEV_STAT_ATTR(producer_overruns, ADEV_STAT_PRODUCER_OVERRUNS),
	ADEV_STAT_ATTR(faults_injected, ADEV_STAT_FAULTS_INJECTED),
};

/* Filled from adev_stat_attrs by adev_ctl_init(). */
static struct attribute *adev_stats_attrs[ADEV_NR_STATS + 1];

static const struct attribute_group adev_stats_group = {
	.name = "stats",
	.attrs = adev_stats_attrs,
};

const struct attribute_group *adev_groups[] = {
	&adev_config_group,
	&adev_misc_group,
	&adev_stats_group,
	NULL
};

void adev_ctl_init(void)
{
	int i;

	for (i = 0; i < ADEV_NR_STATS; i++)
		adev_stats_attrs[i] = &adev_stat_attrs[i].dattr.attr;
}
