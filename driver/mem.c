// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/asyncmem: seekable memory behind the simulated device engine.
 *
 * Like null_blk with memory_backed=1, an async request moves its data when
 * it is submitted (in the submitter's context, straight through the
 * caller's iterator) and completes after its service time from the engine's
 * timer. Without a device latency every request completes inline.
 */
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "asyncdev.h"

static ssize_t mem_copy(struct adev_node *node, struct kiocb *iocb,
			struct iov_iter *iter, bool write)
{
	loff_t pos = iocb->ki_pos;
	size_t n, c;

	if (pos < 0)
		return -EINVAL;
	if (pos >= node->mem_size)
		return write ? -ENOSPC : 0;
	n = min_t(u64, iov_iter_count(iter), node->mem_size - pos);
	if (write)
		c = copy_from_iter(node->mem + pos, n, iter);
	else
		c = copy_to_iter(node->mem + pos, n, iter);
	if (!c)
		return -EFAULT;
	iocb->ki_pos += c;
	adev_stat_add(node, write ? ADEV_STAT_BYTES_WRITTEN :
				    ADEV_STAT_BYTES_READ, c);
	return c;
}

static ssize_t mem_rw(struct kiocb *iocb, struct iov_iter *iter, bool write)
{
	struct adev_file *af = iocb->ki_filp->private_data;
	struct adev_node *node = af->node;
	struct adev_req *req;
	ssize_t ret;
	bool slow;

	if (!iov_iter_count(iter))
		return 0;
	ret = adev_fault_check(node);
	if (ret)
		return ret;
	slow = READ_ONCE(node->engine.latency_ns) ||
	       READ_ONCE(node->engine.jitter_ns);

	if (is_sync_kiocb(iocb) || !slow) {
		if (slow && (iocb->ki_flags & IOCB_NOWAIT))
			return -EAGAIN;
		ret = adev_engine_sleep(node);
		if (!ret)
			ret = mem_copy(node, iocb, iter, write);
		if (ret > 0)
			adev_stat_add(node, write ? ADEV_STAT_WRITES :
						    ADEV_STAT_READS, 1);
		return ret;
	}

	req = adev_req_alloc(af, iocb, write);
	if (IS_ERR(req))
		return PTR_ERR(req);
	ret = mem_copy(node, iocb, iter, write);
	if (ret <= 0) {
		adev_req_free(req);
		return ret;
	}
	/* Cancellable from here: adev_engine_submit() sees to it. */
	adev_stat_add(node, ADEV_STAT_ASYNC_QUEUED, 1);
	adev_engine_submit(req, ret);
	return -EIOCBQUEUED;
}

static ssize_t mem_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	return mem_rw(iocb, to, false);
}

static ssize_t mem_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	return mem_rw(iocb, from, true);
}

static loff_t mem_llseek(struct file *file, loff_t offset, int whence)
{
	return generic_file_llseek_size(file, offset, whence, MAX_LFS_FILESIZE,
					adev_node_of(file)->mem_size);
}

int adev_mem_init(struct adev_node *node, size_t size)
{
	node->mem = vzalloc(size);
	if (!node->mem)
		return -ENOMEM;
	node->mem_size = size;
	return 0;
}

void adev_mem_exit(struct adev_node *node)
{
	vfree(node->mem);
}

const struct file_operations adev_mem_fops = {
	.owner		= THIS_MODULE,
	.open		= adev_open_common,
	.release	= adev_release_common,
	.read_iter	= mem_read_iter,
	.write_iter	= mem_write_iter,
	.llseek		= mem_llseek,
	.unlocked_ioctl	= adev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};
