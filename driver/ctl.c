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

static void adev_get_config(struct adev_node *node, struct asyncdev_config *c)
{
	memset(c, 0, sizeof(*c));
	c->latency_ns = READ_ONCE(node->engine.latency_ns);
	c->jitter_ns = READ_ONCE(node->engine.jitter_ns);
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
 * each other.
 */
static int adev_apply_config(struct adev_node *node,
			     const struct asyncdev_config *c)
{
	lockdep_assert_held(&node->cfg_mutex);
	if (!adev_zero(c->reserved, sizeof(c->reserved)) ||
	    c->latency_ns > ASYNCDEV_MAX_LATENCY_NS ||
	    c->jitter_ns > ASYNCDEV_MAX_JITTER_NS ||
	    !c->channels || c->channels > ASYNCDEV_MAX_CHANNELS ||
	    c->produce_hz > ASYNCDEV_MAX_PRODUCE_HZ ||
	    (c->produce_hz && node->kind != ASYNCDEV_NODE_FIFO))
		return -EINVAL;

	adev_engine_set(&node->engine, c->latency_ns, c->jitter_ns,
			c->channels);
	if (node->kind == ASYNCDEV_NODE_FIFO)
		adev_fifo_set_produce_hz(node, c->produce_hz);
	return 0;
}

static int adev_set_config(struct adev_node *node,
			   const struct asyncdev_config *c)
{
	int ret;

	mutex_lock(&node->cfg_mutex);
	ret = adev_apply_config(node, c);
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
		ret = adev_apply_config(node, &c);
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
	&adev_stats_group,
	NULL
};

void adev_ctl_init(void)
{
	int i;

	for (i = 0; i < ADEV_NR_STATS; i++)
		adev_stats_attrs[i] = &adev_stat_attrs[i].dattr.attr;
}
