// SPDX-License-Identifier: GPL-2.0
/*
 * The simulated device engine shared by both nodes: service time (latency
 * plus jitter), a fixed number of channels in service at once, completion of
 * async requests from an hrtimer, and fault injection.
 *
 * Completion runs from a softirq hrtimer (HRTIMER_MODE_REL_SOFT), like
 * null_blk's irqmode=2 but out of hardirq context: ki_complete of fs/aio and
 * io_uring is safe there, a timer per request gives each its own service
 * time without a scan, and a timer is cheaper than a work item per request.
 */
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "asyncdev.h"
#include "trace.h"

static struct kmem_cache *adev_req_cache;

void adev_engine_init(struct adev_engine *e)
{
	spin_lock_init(&e->lock);
	INIT_LIST_HEAD(&e->waiting);
	INIT_LIST_HEAD(&e->serving);
	INIT_LIST_HEAD(&e->stalled);
	init_waitqueue_head(&e->chan_wait);
	init_waitqueue_head(&e->stall_wait);
	e->channels = 1;
	e->lat[0].tail_mult = 1;
	e->lat[1].tail_mult = 1;
	adev_engine_reseed(e, adev_seed);
}

static bool adev_channel_free(struct adev_engine *e)
{
	return e->busy < READ_ONCE(e->channels);
}

/*
 * A service time may end up to 1/8 of it (at most 50 us, the default timer
 * slack of a task) late, so that requests submitted together expire in one
 * timer interrupt instead of one each, as interrupt coalescing does.
 */
static u64 adev_service_slack(u64 ns)
{
	return min_t(u64, ns >> 3, 50 * NSEC_PER_USEC);
}

static void adev_req_start_timer(struct adev_req *req, u64 ns)
{
	hrtimer_start_range_ns(&req->timer, ns_to_ktime(ns),
			       adev_service_slack(ns), HRTIMER_MODE_REL_SOFT);
}

/*
 * Give free channels to the oldest waiting async requests, then wake the
 * synchronous callers waiting for one. Called with e->lock held.
 */
static void adev_channels_refill(struct adev_engine *e)
{
	struct adev_req *next;

	while (adev_channel_free(e)) {
		next = list_first_entry_or_null(&e->waiting, struct adev_req,
						list);
		if (!next) {
			wake_up(&e->chan_wait);
			return;
		}
		list_del_init(&next->list);
		next->in_service = true;
		list_add_tail(&next->serve, &e->serving);
		e->busy++;
		adev_req_start_timer(next, next->service_ns);
		trace_asyncdev_service_start(next->node, next, 0);
	}
}

/*
 * Release what a request holds besides its memory: the per-file and
 * per-user places and the mm reference. The reference is normally gone
 * already (the FIFO's work item drops it in process context); a request
 * cancelled while queued drops it here, possibly from the timer's softirq.
 * That is never the last reference: fs/aio's exit_aio(), which runs before
 * the owner's final mmdrop() in __mmput(), waits for every request of the
 * mm to complete, and mmdrop() is called with interrupts off by the
 * scheduler itself (finish_task_switch).
 */
static void adev_req_release(struct adev_req *req)
{
	if (req->mm)
		mmdrop(req->mm);
	kfree(req->iov);
	atomic_dec(&req->file->user->queued);
	atomic_dec(&req->file->queued);
	adev_stat_add(req->node, ADEV_STAT_IN_FLIGHT, -1);
}

/*
 * Hand the result to fs/aio or io_uring. No lock of ours is held. The
 * request's own resources and the per-file count are released first, since
 * ki_complete may drop the last reference to the file; the request memory
 * itself is freed after ki_complete returned (see asyncdev.h).
 */
static void adev_req_finish(struct adev_req *req)
{
	struct adev_node *node = req->node;
	struct kiocb *iocb = req->kiocb;
	long res = req->res;

	adev_stat_add(node, ADEV_STAT_ASYNC_COMPLETED, 1);
	if (req->cancelled)
		adev_stat_add(node, ADEV_STAT_ASYNC_CANCELLED, 1);
	if (res >= 0)
		adev_stat_add(node, req->write ? ADEV_STAT_WRITES :
						 ADEV_STAT_READS, 1);
	adev_req_release(req);

	trace_asyncdev_complete(req);
	adev_ki_complete(iocb, res);
	kmem_cache_free(adev_req_cache, req);
}

static enum hrtimer_restart adev_req_timer_fn(struct hrtimer *timer)
{
	struct adev_req *req = container_of(timer, struct adev_req, timer);
	struct adev_engine *e = &req->node->engine;
	unsigned long flags;

	trace_asyncdev_service_end(req->node, req, 0);
	if (req->in_service) {
		spin_lock_irqsave(&e->lock, flags);
		req->in_service = false;
		list_del(&req->serve);
		e->busy--;
		adev_channels_refill(e);
		spin_unlock_irqrestore(&e->lock, flags);
	}
	adev_req_finish(req);
	return HRTIMER_NORESTART;
}

/*
 * Make an aio request cancellable through io_cancel() and io_destroy(), once
 * (a second kiocb_set_cancel_fn() would corrupt fs/aio's list). io_uring
 * kiocbs have no cancel hook (see compat.h): theirs complete within the
 * engine's bounded service time.
 */
void adev_req_set_cancel(struct adev_req *req, kiocb_cancel_fn *cancel)
{
	if (req->cancellable || !adev_kiocb_is_aio(req->kiocb))
		return;
	req->cancellable = true;
	kiocb_set_cancel_fn(req->kiocb, cancel);
}

/*
 * The request has moved its data; deliver @res after its service time, or
 * at once if a cancel arrived before the engine got it. The caller owns
 * @req and holds none of our locks. An aio request that is not cancellable
 * yet becomes so here, before it can wait for a channel.
 */
void adev_engine_submit(struct adev_req *req, long res)
{
	struct adev_engine *e = &req->node->engine;
	unsigned long flags;
	bool now;

	req->res = res;
	adev_req_set_cancel(req, adev_engine_cancel);
	spin_lock_irqsave(&e->lock, flags);
	req->state = ADEV_REQ_ENGINE;
	now = req->cancel_pending || !req->service_ns;
	trace_asyncdev_engine(req->node, req, res, now);
	if (now) {
		/* finished below */
	} else if (adev_channel_free(e)) {
		e->busy++;
		req->in_service = true;
		list_add_tail(&req->serve, &e->serving);
		adev_req_start_timer(req, req->service_ns);
		trace_asyncdev_service_start(req->node, req, 0);
	} else {
		trace_asyncdev_chan_wait(req->node, req);
		list_add_tail(&req->list, &e->waiting);
	}
	spin_unlock_irqrestore(&e->lock, flags);
	if (now) {
		req->cancelled = req->cancel_pending;
		adev_req_finish(req);
	}
}

/* Complete @req from its timer as soon as possible, outside any channel. */
void adev_req_complete_now(struct adev_req *req, long res)
{
	req->res = res;
	req->in_service = false;
	adev_req_start_timer(req, 0);
}

/*
 * The engine's part of an fs/aio cancel, under fs/aio's ctx_lock with
 * interrupts off (and under fifo->lock for a FIFO request). A request not
 * yet handed to the engine (SUBMITTING, or ACTIVE in the FIFO's work item)
 * is marked, and whoever hands it over completes it at once. One waiting
 * for a channel has moved its data: it completes now with its real result.
 * One in service finishes on its own within its service time: -EAGAIN, as
 * fs/aio expects for a request it could not cancel.
 */
int adev_engine_cancel_req(struct adev_req *req)
{
	struct adev_engine *e = &req->node->engine;
	unsigned long flags;
	bool waiting = false;
	int ret = 0;

	spin_lock_irqsave(&e->lock, flags);
	if (req->state != ADEV_REQ_ENGINE)
		req->cancel_pending = true;
	else if (!list_empty(&req->list))
		waiting = true;
	else
		ret = -EAGAIN;
	if (waiting)
		list_del_init(&req->list);
	spin_unlock_irqrestore(&e->lock, flags);
	if (waiting) {
		req->cancelled = true;
		adev_req_complete_now(req, req->res);
	}
	return ret;
}

/* fs/aio cancel callback of a request that is never on a FIFO list. */
int adev_engine_cancel(struct kiocb *iocb)
{
	trace_asyncdev_cancel(iocb->private);
	return adev_engine_cancel_req(iocb->private);
}

/*
 * A synchronous caller takes a channel and sleeps for its service time @ns
 * (drawn at submission). Returns 0, or -ERESTARTSYS when a signal
 * interrupts the wait (the caller then does nothing). Callers with
 * IOCB_NOWAIT must not get here.
 */
int adev_engine_sleep(struct adev_node *node, u64 ns)
{
	struct adev_engine *e = &node->engine;
	ktime_t deadline;
	int ret;

	if (!ns)
		return 0;

	spin_lock_irq(&e->lock);
	trace_asyncdev_engine(node, NULL, 0, false);
	trace_asyncdev_chan_wait(node, NULL);
	ret = wait_event_interruptible_lock_irq(e->chan_wait,
						adev_channel_free(e), e->lock);
	if (!ret)
		e->busy++;
	spin_unlock_irq(&e->lock);
	if (ret)
		return ret;

	trace_asyncdev_service_start(node, NULL, ns);
	deadline = ktime_add_ns(ktime_get(), ns);
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (!schedule_hrtimeout_range(&deadline, adev_service_slack(ns),
					      HRTIMER_MODE_ABS))
			break;
		if (signal_pending(current)) {
			ret = -ERESTARTSYS;
			break;
		}
	}
	__set_current_state(TASK_RUNNING);
	trace_asyncdev_service_end(node, NULL, ret);

	spin_lock_irq(&e->lock);
	e->busy--;
	adev_channels_refill(e);
	spin_unlock_irq(&e->lock);
	return ret;
}

/*
 * Allocate an async request for @iocb, charged to the caller's memory cgroup
 * and counted against the per-file and per-user limits (-EAGAIN beyond
 * them). An IOCB_NOWAIT caller (io_uring's first attempt) must not sleep in
 * the allocation: it gets -EAGAIN and io_uring retries from a worker.
 */
struct adev_req *adev_req_alloc(struct adev_file *af, struct kiocb *iocb,
				bool write)
{
	bool nowait = iocb->ki_flags & IOCB_NOWAIT;
	struct adev_req *req;

	if (atomic_inc_return(&af->queued) > adev_max_queued)
		goto err_file;
	if (atomic_inc_return(&af->user->queued) > adev_max_user_queued)
		goto err_user;
	req = kmem_cache_zalloc(adev_req_cache, nowait ?
				GFP_NOWAIT | __GFP_NOWARN : GFP_KERNEL);
	if (!req) {
		atomic_dec(&af->user->queued);
		atomic_dec(&af->queued);
		return ERR_PTR(nowait ? -EAGAIN : -ENOMEM);
	}
	req->kiocb = iocb;
	req->file = af;
	req->node = af->node;
	req->write = write;
	req->q.req = req;
	INIT_LIST_HEAD(&req->q.list);
	INIT_LIST_HEAD(&req->list);
	adev_hrtimer_setup(&req->timer, adev_req_timer_fn, CLOCK_MONOTONIC,
			   HRTIMER_MODE_REL_SOFT);
	iocb->private = req;
	adev_stat_add(af->node, ADEV_STAT_IN_FLIGHT, 1);
	return req;

err_user:
	atomic_dec(&af->user->queued);
err_file:
	atomic_dec(&af->queued);
	return ERR_PTR(-EAGAIN);
}

/* Free a request that was never handed to fs/aio or io_uring. */
void adev_req_free(struct adev_req *req)
{
	adev_req_release(req);
	kmem_cache_free(adev_req_cache, req);
}

/*
 * Fault injection: returns the negative errno the current request must fail
 * with, or 0.
 */
int adev_fault_check(struct adev_node *node)
{
	struct adev_fault *f = &node->fault;
	unsigned long flags;
	int err = 0;

	if (!READ_ONCE(f->cfg.mode))
		return 0;
	spin_lock_irqsave(&f->lock, flags);
	switch (f->cfg.mode) {
	case ASYNCDEV_FAULT_NEXT:
		err = -(int)f->cfg.error;
		if (!--f->cfg.count)
			f->cfg.mode = ASYNCDEV_FAULT_OFF;
		break;
	case ASYNCDEV_FAULT_EVERY:
		if (++f->seen % f->cfg.count == 0)
			err = -(int)f->cfg.error;
		break;
	}
	spin_unlock_irqrestore(&f->lock, flags);
	trace_asyncdev_fault(node, err);
	if (err)
		adev_stat_add(node, ADEV_STAT_FAULTS_INJECTED, 1);
	return err;
}

int adev_req_cache_init(void)
{
	adev_req_cache = KMEM_CACHE(adev_req, SLAB_ACCOUNT);
	return adev_req_cache ? 0 : -ENOMEM;
}

void adev_req_cache_exit(void)
{
	kmem_cache_destroy(adev_req_cache);
}

/*
 * Apply a v1 configuration: @channels, and with @timing both directions
 * UNIFORM(latency, jitter) without a tail. Requests already submitted keep
 * their service time.
 */
void adev_engine_set(struct adev_engine *e, bool timing, u64 latency_ns,
		     u64 jitter_ns, u32 channels)
{
	struct asyncdev_latency l = {
		.dist = jitter_ns ? ASYNCDEV_LAT_UNIFORM : ASYNCDEV_LAT_FIXED,
		.base_ns = latency_ns,
		.spread_ns = jitter_ns,
		.tail_mult = 1,
	};
	unsigned long flags;

	spin_lock_irqsave(&e->lock, flags);
	if (timing) {
		e->lat[0] = l;
		e->lat[1] = l;
		WRITE_ONCE(e->slow, latency_ns || jitter_ns);
	}
	WRITE_ONCE(e->channels, channels);
	adev_channels_refill(e);
	spin_unlock_irqrestore(&e->lock, flags);
}

/*
 * Stalls. An aio request is parked on e->stalled, cancellable at once; its
 * result is -ECANCELED, which adev_engine_cancel_req() delivers like that
 * of any request waiting in the engine, and adev_flush() replaces with -EIO
 * when its file is closed. A blocking caller sleeps until a signal (or
 * io_uring's cancel of its worker) or a close of the file. A held request
 * holds its file, so the module cannot be unloaded under it.
 */
static ssize_t adev_stall_sync(struct adev_file *af)
{
	struct adev_engine *e = &af->node->engine;
	unsigned int gen = READ_ONCE(af->flush_gen);
	int ret;

	ret = wait_event_interruptible(e->stall_wait,
				       READ_ONCE(af->flush_gen) != gen);
	return ret ? ret : -EIO;
}

static ssize_t adev_stall_aio(struct adev_file *af, struct kiocb *iocb,
			      const struct iov_iter *iter, bool write,
			      const struct adev_submit *sub)
{
	struct adev_engine *e = &af->node->engine;
	struct adev_req *req;
	unsigned long flags;

	req = adev_req_alloc(af, iocb, write);
	if (IS_ERR(req))
		return PTR_ERR(req);
	adev_req_track(req, sub, iter);
	req->res = -ECANCELED;
	req->state = ADEV_REQ_SUBMITTING;
	/* A cancel from now on marks it, or takes it off e->stalled. */
	adev_req_set_cancel(req, adev_engine_cancel);
	adev_stat_add(af->node, ADEV_STAT_ASYNC_QUEUED, 1);
	spin_lock_irqsave(&e->lock, flags);
	req->state = ADEV_REQ_ENGINE;
	if (req->cancel_pending) {
		req->cancelled = true;
		adev_req_complete_now(req, -ECANCELED);
	} else {
		list_add_tail(&req->list, &e->stalled);
	}
	spin_unlock_irqrestore(&e->lock, flags);
	return -EIOCBQUEUED;
}

/*
 * Stall the request @iocb (drawn by adev_engine_draw): park it (io_submit),
 * wait (a blocking call), or -EAGAIN for one that must not block.
 */
ssize_t adev_engine_stall(struct adev_file *af, struct kiocb *iocb,
			  const struct iov_iter *iter, bool write,
			  const struct adev_submit *sub)
{
	if (!is_sync_kiocb(iocb) && adev_kiocb_is_aio(iocb))
		return adev_stall_aio(af, iocb, iter, write, sub);
	if ((iocb->ki_flags & IOCB_NOWAIT) ||
	    (iocb->ki_filp->f_flags & O_NONBLOCK))
		return -EAGAIN;
	return adev_stall_sync(af);
}

/*
 * .flush, at every close of the file: its stalled aio requests complete
 * with -EIO (from their timers), its stalled blocking callers return -EIO.
 */
int adev_flush(struct file *file, fl_owner_t id)
{
	struct adev_file *af = file->private_data;
	struct adev_engine *e = &af->node->engine;
	struct adev_req *req, *tmp;
	unsigned long flags;

	/*
	 * Off the list under the lock, so that a racing cancel finds it in
	 * its timer's hands (-EAGAIN) and the request completes once.
	 */
	spin_lock_irqsave(&e->lock, flags);
	WRITE_ONCE(af->flush_gen, af->flush_gen + 1);
	list_for_each_entry_safe(req, tmp, &e->stalled, list) {
		if (req->file != af)
			continue;
		list_del_init(&req->list);
		adev_req_complete_now(req, -EIO);
	}
	spin_unlock_irqrestore(&e->lock, flags);
	wake_up_all(&e->stall_wait);
	return 0;
}
