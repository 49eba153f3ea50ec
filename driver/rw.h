/* SPDX-License-Identifier: GPL-2.0 */
/*
 * adev_rw(): what read_iter and write_iter of both nodes do before the node
 * moves any data. It is inlined into each node's read_iter and write_iter
 * with that node's constant adev_rw_ops, so that the compiler turns the
 * ops into direct calls: no indirect call (a retpoline on x86) on the path
 * of a request while nothing is armed. The armed path stays out of line
 * (faults.c: adev_rw_armed).
 */
#ifndef ASYNCDEV_RW_H
#define ASYNCDEV_RW_H

#include "asyncdev.h"
#include "trace.h"

/*
 * Any misbehaviour armed on @node: fault injection, a service time, stalls
 * or short transfers. Four words read without a lock, as each check of
 * adev_rw_armed() does first: a request that raced with a change sees it
 * or not.
 */
static inline bool adev_misbehaving(const struct adev_node *node)
{
	const struct adev_engine *e = &node->engine;

	return READ_ONCE(node->fault.cfg.mode) || READ_ONCE(e->slow) ||
	       READ_ONCE(e->stall.when.dirs) || READ_ONCE(e->shrt.when.dirs);
}

/*
 * The asyncdev_submit event, the node's argument checks (@ops->validate:
 * an invalid request never reaches the device), then, while nothing is
 * armed, the node's device-side checks (@ops->check) and @ops->serve with
 * no service time; else adev_rw_armed().
 */
static __always_inline ssize_t adev_rw(struct kiocb *iocb,
				       struct iov_iter *iter, bool write,
				       const struct adev_rw_ops *ops)
{
	struct adev_file *af = iocb->ki_filp->private_data;
	struct adev_node *node = af->node;
	struct adev_submit sub = {};
	ssize_t ret;

	if (!iov_iter_count(iter))
		return 0;
	trace_asyncdev_submit(node, iocb, iter, write, &sub);
	if (ops->validate) {
		ret = ops->validate(iocb, iter);
		if (ret)
			return ret;
	}
	if (unlikely(adev_misbehaving(node)))
		return adev_rw_armed(iocb, iter, write, ops, &sub);
	if (ops->check) {
		ret = ops->check(iocb, iov_iter_count(iter), write);
		if (ret)
			return ret;
	}
	return ops->serve(af, iocb, iter, write, 0, &sub);
}

#endif /* ASYNCDEV_RW_H */
