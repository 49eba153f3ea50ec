// SPDX-License-Identifier: GPL-2.0
/*
 * The asyncdev tracepoints (trace.h) are created here, with what they and
 * the debugfs listing need: request identifiers and subscriber counts.
 */
#include <linux/atomic.h>
#include <linux/ktime.h>
#include <linux/rcupdate.h>

#include "asyncdev.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

static atomic64_t adev_ids = ATOMIC64_INIT(0);

/* A new request identifier: 1, 2, ... for the module's lifetime. */
u64 adev_new_id(void)
{
	return atomic64_inc_return(&adev_ids);
}

/*
 * Give an async request, before anyone else can see it, the identity the
 * debugfs listing shows and the tracepoints report: the asyncdev_submit
 * event's identifier and time when it was enabled for this call, new ones
 * otherwise (async requests only: a synchronous call pays nothing).
 */
void adev_req_track(struct adev_req *req, const struct adev_submit *sub,
		    const struct iov_iter *iter)
{
	req->id = sub->id ? sub->id : adev_new_id();
	req->submit_ns = sub->t0 ? sub->t0 : ktime_get_ns();
	req->bytes = iov_iter_count(iter);
	req->pid = task_tgid_nr(current);
	req->path = adev_req_path(req->kiocb);
}

/* The files subscribed to @fa, for the asyncdev_sigio event. */
unsigned int adev_fasync_count(struct fasync_struct **fa)
{
	struct fasync_struct *p;
	unsigned int n = 0;

	/* As kill_fasync walks it; the pointers are not annotated __rcu. */
	rcu_read_lock();
	for (p = READ_ONCE(*fa); p; p = READ_ONCE(p->fa_next))
		if (READ_ONCE(p->fa_file))
			n++;
	rcu_read_unlock();
	return n;
}
