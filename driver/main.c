// SPDX-License-Identifier: GPL-2.0
/*
 * asyncdev: a virtual character device for signal-driven and asynchronous
 * I/O. Module parameters, node table, load and unload.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/rcupdate.h>

#include "asyncdev.h"

#define ADEV_FIFO_MIN	ADEV_ATOMIC_WRITE
#define ADEV_FIFO_MAX	(64 * 1024 * 1024U)
#define ADEV_MEM_MIN	4096UL
#define ADEV_MEM_MAX	(1024 * 1024 * 1024UL)
#define ADEV_QUEUED_MAX	(1024 * 1024U)

static unsigned int fifo_bytes = 65536;
module_param(fifo_bytes, uint, 0444);
MODULE_PARM_DESC(fifo_bytes, "FIFO capacity in bytes (4096..67108864, default 65536)");

static unsigned long mem_bytes = 16UL << 20;
module_param(mem_bytes, ulong, 0444);
MODULE_PARM_DESC(mem_bytes, "Size of /dev/asyncmem in bytes (4096..1073741824, default 16 MiB)");

unsigned int adev_max_queued = 8192;
module_param_named(max_queued, adev_max_queued, uint, 0444);
MODULE_PARM_DESC(max_queued, "Async requests one open file may have queued (1..1048576, default 8192)");

unsigned int adev_max_user_queued = 16384;
module_param_named(max_user_queued, adev_max_user_queued, uint, 0444);
MODULE_PARM_DESC(max_user_queued, "Async requests one user may have queued on both nodes (1..1048576, default 16384)");

module_param_named(seed, adev_seed, ullong, 0444);
MODULE_PARM_DESC(seed, "Initial PRNG seed of both nodes: every random latency, stall and short transfer replays from it (default 0; per node: the seed sysfs attribute or ASYNCDEV_IOC_SET_SEED)");

struct workqueue_struct *adev_wq;

static struct adev_node adev_nodes[] = {
	{
		.kind = ASYNCDEV_NODE_FIFO,
		.misc = {
			.minor	= MISC_DYNAMIC_MINOR,
			.name	= "asyncdev",
			.fops	= &adev_fifo_fops,
			.mode	= 0666,
			.groups	= adev_groups,
		},
	},
	{
		.kind = ASYNCDEV_NODE_MEM,
		.misc = {
			.minor	= MISC_DYNAMIC_MINOR,
			.name	= "asyncmem",
			.fops	= &adev_mem_fops,
			.mode	= 0666,
			.groups	= adev_groups,
		},
	},
};

static int __init adev_check_params(void)
{
	if (fifo_bytes < ADEV_FIFO_MIN || fifo_bytes > ADEV_FIFO_MAX) {
		pr_err("fifo_bytes=%u is invalid: must be %u..%u\n",
		       fifo_bytes, ADEV_FIFO_MIN, ADEV_FIFO_MAX);
		return -EINVAL;
	}
	if (mem_bytes < ADEV_MEM_MIN || mem_bytes > ADEV_MEM_MAX) {
		pr_err("mem_bytes=%lu is invalid: must be %lu..%lu\n",
		       mem_bytes, ADEV_MEM_MIN, ADEV_MEM_MAX);
		return -EINVAL;
	}
	if (!adev_max_queued || adev_max_queued > ADEV_QUEUED_MAX) {
		pr_err("max_queued=%u is invalid: must be 1..%u\n",
		       adev_max_queued, ADEV_QUEUED_MAX);
		return -EINVAL;
	}
	if (!adev_max_user_queued || adev_max_user_queued > ADEV_QUEUED_MAX) {
		pr_err("max_user_queued=%u is invalid: must be 1..%u\n",
		       adev_max_user_queued, ADEV_QUEUED_MAX);
		return -EINVAL;
	}
	return 0;
}

static int __init adev_node_init(struct adev_node *node)
{
	int ret;

	adev_engine_init(&node->engine);
	spin_lock_init(&node->fault.lock);
	adev_bad_init(node);
	mutex_init(&node->cfg_mutex);
	node->stats = alloc_percpu(struct adev_stats_pcpu);
	if (!node->stats)
		return -ENOMEM;
	if (node->kind == ASYNCDEV_NODE_FIFO)
		ret = adev_fifo_init(node, fifo_bytes);
	else
		ret = adev_mem_init(node, mem_bytes);
	if (ret)
		goto err_stats;
	ret = misc_register(&node->misc);
	if (ret) {
		pr_err("cannot register /dev/%s: %d\n",
		       node->misc.name, ret);
		if (node->kind == ASYNCDEV_NODE_FIFO)
			adev_fifo_exit(node);
		else
			adev_mem_exit(node);
		goto err_stats;
	}
	return 0;

err_stats:
	free_percpu(node->stats);
	return ret;
}

/*
 * No file is open (each holds a module reference), so no request is left;
 * stop the producer and the work item, then wait for a completion timer
 * callback that may still be returning from ki_complete (softirq context,
 * which synchronize_rcu() waits for) before the request cache goes.
 */
static void adev_node_exit(struct adev_node *node)
{
	misc_deregister(&node->misc);
	if (node->kind == ASYNCDEV_NODE_FIFO)
		adev_fifo_exit(node);
	else
		adev_mem_exit(node);
	adev_bad_exit(node);
	WARN_ON(adev_stat_value(node, ADEV_STAT_IN_FLIGHT));
	free_percpu(node->stats);
}

static int __init adev_init(void)
{
	int i, ret;

	ret = adev_check_params();
	if (ret)
		return ret;
	adev_ctl_init();
	ret = adev_req_cache_init();
	if (ret)
		return ret;
	adev_wq = alloc_workqueue("asyncdev", WQ_UNBOUND, 0);
	if (!adev_wq) {
		ret = -ENOMEM;
		goto err_cache;
	}
	for (i = 0; i < ARRAY_SIZE(adev_nodes); i++) {
		ret = adev_node_init(&adev_nodes[i]);
		if (ret)
			goto err_nodes;
	}
	adev_debugfs_init(adev_nodes, ARRAY_SIZE(adev_nodes));
	pr_info("/dev/asyncdev (FIFO, %u bytes), /dev/asyncmem (%lu bytes)\n",
		fifo_bytes, mem_bytes);
	return 0;

err_nodes:
	while (--i >= 0)
		adev_node_exit(&adev_nodes[i]);
	destroy_workqueue(adev_wq);
err_cache:
	adev_req_cache_exit();
	return ret;
}

static void __exit adev_exit(void)
{
	int i;

	adev_debugfs_exit();
	for (i = 0; i < ARRAY_SIZE(adev_nodes); i++)
		adev_node_exit(&adev_nodes[i]);
	destroy_workqueue(adev_wq);
	synchronize_rcu();
	adev_req_cache_exit();
}

module_init(adev_init);
module_exit(adev_exit);

MODULE_DESCRIPTION("Virtual device for signal-driven and asynchronous I/O");
MODULE_AUTHOR("asyncdev developers");
MODULE_LICENSE("GPL");
