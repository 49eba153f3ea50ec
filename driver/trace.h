/* SPDX-License-Identifier: GPL-2.0 */
/*
 * asyncdev tracepoints: the life of every request on both nodes.
 * docs/tracing.md documents each event, its fields and their units.
 *
 * Every derived value (identifiers, timestamps, counts, times left) is
 * computed in TP_fast_assign, which runs only while the event is enabled:
 * a disabled event costs its static branch and nothing else. Fields:
 * id (the request identifier, 0 for a synchronous caller inside the
 * engine: match it by pid), node (1 fifo, 2 mem), durations in ns.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM asyncdev

#if !defined(ASYNCDEV_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define ASYNCDEV_TRACE_H

#include <linux/fs.h>
#include <linux/sched.h>
#include <linux/signal.h>
#include <linux/tracepoint.h>

#include "asyncdev.h"

TRACE_DEFINE_ENUM(ADEV_PATH_SYNC);
TRACE_DEFINE_ENUM(ADEV_PATH_AIO);
TRACE_DEFINE_ENUM(ADEV_PATH_URING);
TRACE_DEFINE_ENUM(ADEV_PATH_IOWQ);
TRACE_DEFINE_ENUM(ADEV_REQ_SUBMITTING);
TRACE_DEFINE_ENUM(ADEV_REQ_QUEUED);
TRACE_DEFINE_ENUM(ADEV_REQ_ACTIVE);
TRACE_DEFINE_ENUM(ADEV_REQ_ENGINE);

#define adev_show_node(n)						\
	__print_symbolic(n, { ASYNCDEV_NODE_FIFO, "fifo" },		\
			 { ASYNCDEV_NODE_MEM, "mem" })
#define adev_show_rw(w)	((w) ? "write" : "read")
#define adev_show_path(p)						\
	__print_symbolic(p, { ADEV_PATH_SYNC, "sync" },		\
			 { ADEV_PATH_AIO, "io_submit" },		\
			 { ADEV_PATH_URING, "io_uring" },		\
			 { ADEV_PATH_IOWQ, "io-wq" })
#define adev_show_state(s)						\
	__print_symbolic(s, { ADEV_REQ_SUBMITTING, "submitting" },	\
			 { ADEV_REQ_QUEUED, "queued" },			\
			 { ADEV_REQ_ACTIVE, "active" },			\
			 { ADEV_REQ_ENGINE, "engine" })

/* read_iter/write_iter entered; gives the call its identifier and t0. */
TRACE_EVENT(asyncdev_submit,

	TP_PROTO(const struct adev_node *node, struct kiocb *iocb,
		 const struct iov_iter *iter, bool write,
		 struct adev_submit *sub),

	TP_ARGS(node, iocb, iter, write, sub),

	TP_STRUCT__entry(
		__field(u64, id)
		__field(u64, bytes)
		__field(s64, pos)
		__field(u8, node)
		__field(u8, write)
		__field(u8, path)
		__field(u8, nowait)
	),

	TP_fast_assign(
		sub->id = adev_new_id();
		sub->t0 = ktime_get_ns();
		__entry->id = sub->id;
		__entry->bytes = iov_iter_count(iter);
		__entry->pos = iocb->ki_pos;
		__entry->node = node->kind;
		__entry->write = write;
		__entry->path = adev_req_path(iocb);
		__entry->nowait = !!(iocb->ki_flags & IOCB_NOWAIT) ||
				  !!(iocb->ki_filp->f_flags & O_NONBLOCK);
	),

	TP_printk("node=%s id=%llu %s path=%s bytes=%llu pos=%lld nowait=%u",
		  adev_show_node(__entry->node), __entry->id,
		  adev_show_rw(__entry->write), adev_show_path(__entry->path),
		  __entry->bytes, __entry->pos, __entry->nowait)
);

/* read_iter/write_iter returned a result (not -EIOCBQUEUED). */
TRACE_EVENT(asyncdev_done,

	TP_PROTO(const struct adev_node *node, const struct adev_submit *sub,
		 bool write, long res),

	TP_ARGS(node, sub, write, res),

	TP_STRUCT__entry(
		__field(u64, id)
		__field(s64, res)
		__field(u64, latency_ns)
		__field(u8, node)
		__field(u8, write)
	),

	TP_fast_assign(
		__entry->id = sub->id;
		__entry->res = res;
		__entry->latency_ns = sub->t0 ? ktime_get_ns() - sub->t0 : 0;
		__entry->node = node->kind;
		__entry->write = write;
	),

	TP_printk("node=%s id=%llu %s res=%lld latency_ns=%llu",
		  adev_show_node(__entry->node), __entry->id,
		  adev_show_rw(__entry->write), __entry->res,
		  __entry->latency_ns)
);

/* An io_submit request joined a FIFO list (-EIOCBQUEUED follows). */
TRACE_EVENT(asyncdev_fifo_queue,

	TP_PROTO(const struct adev_req *req, const struct adev_fifo *f),

	TP_ARGS(req, f),

	TP_STRUCT__entry(
		__field(u64, id)
		__field(u64, need)
		__field(u64, level)
		__field(u8, write)
		__field(u8, head)
	),

	TP_fast_assign(
		__entry->id = req->id;
		__entry->need = req->q.need;
		__entry->level = f->len;
		__entry->write = req->write;
		__entry->head = list_first_entry(req->write ? &f->writers :
						 &f->readers,
						 struct adev_qent, list) ==
				&req->q;
	),

	TP_printk("id=%llu %s need=%llu level=%llu head=%u", __entry->id,
		  adev_show_rw(__entry->write), __entry->need, __entry->level,
		  __entry->head)
);

/* The work item takes a queued request at the head of its list. */
TRACE_EVENT(asyncdev_fifo_head,

	TP_PROTO(const struct adev_req *req, const struct adev_fifo *f),

	TP_ARGS(req, f),

	TP_STRUCT__entry(
		__field(u64, id)
		__field(u64, level)
		__field(u64, done)
		__field(u8, write)
	),

	TP_fast_assign(
		__entry->id = req->id;
		__entry->level = f->len;
		__entry->done = req->done;
		__entry->write = req->write;
	),

	TP_printk("id=%llu %s level=%llu done=%llu", __entry->id,
		  adev_show_rw(__entry->write), __entry->level, __entry->done)
);

/*
 * The engine gets a request whose data has moved: an async one (@req) with
 * its result, or a synchronous caller (@req NULL) about to sleep for its
 * service time. @now: completes at once (no latency, or cancelled).
 */
TRACE_EVENT(asyncdev_engine,

	TP_PROTO(const struct adev_node *node, const struct adev_req *req,
		 long res, bool now),

	TP_ARGS(node, req, res, now),

	TP_STRUCT__entry(
		__field(u64, id)
		__field(s64, res)
		__field(u32, busy)
		__field(u32, channels)
		__field(u8, node)
		__field(u8, now)
	),

	TP_fast_assign(
		__entry->id = req ? req->id : 0;
		__entry->res = res;
		__entry->busy = READ_ONCE(node->engine.busy);
		__entry->channels = READ_ONCE(node->engine.channels);
		__entry->node = node->kind;
		__entry->now = now;
	),

	TP_printk("node=%s id=%llu res=%lld busy=%u channels=%u now=%u",
		  adev_show_node(__entry->node), __entry->id, __entry->res,
		  __entry->busy, __entry->channels, __entry->now)
);

/* Every channel is busy: the request (or sync caller, id 0) waits. */
TRACE_EVENT_CONDITION(asyncdev_chan_wait,

	TP_PROTO(const struct adev_node *node, const struct adev_req *req),

	TP_ARGS(node, req),

	TP_CONDITION(READ_ONCE(node->engine.busy) >=
		     READ_ONCE(node->engine.channels)),

	TP_STRUCT__entry(
		__field(u64, id)
		__field(u32, busy)
		__field(u32, channels)
		__field(u8, node)
	),

	TP_fast_assign(
		__entry->id = req ? req->id : 0;
		__entry->busy = READ_ONCE(node->engine.busy);
		__entry->channels = READ_ONCE(node->engine.channels);
		__entry->node = node->kind;
	),

	TP_printk("node=%s id=%llu busy=%u channels=%u",
		  adev_show_node(__entry->node), __entry->id, __entry->busy,
		  __entry->channels)
);

/*
 * A request took a channel for @ns (a sync caller), or for the service
 * time drawn at its submission (@req, @ns 0).
 */
TRACE_EVENT(asyncdev_service_start,

	TP_PROTO(const struct adev_node *node, const struct adev_req *req,
		 u64 ns),

	TP_ARGS(node, req, ns),

	TP_STRUCT__entry(
		__field(u64, id)
		__field(s64, service_ns)
		__field(u32, busy)
		__field(u32, channels)
		__field(u8, node)
	),

	TP_fast_assign(
		__entry->id = req ? req->id : 0;
		__entry->service_ns = req ? req->service_ns : ns;
		__entry->busy = READ_ONCE(node->engine.busy);
		__entry->channels = READ_ONCE(node->engine.channels);
		__entry->node = node->kind;
	),

	TP_printk("node=%s id=%llu service_ns=%lld busy=%u channels=%u",
		  adev_show_node(__entry->node), __entry->id,
		  __entry->service_ns, __entry->busy, __entry->channels)
);

/*
 * A request's timer fired (@req: in_service 0 means it completes outside a
 * channel, cancelled or failed), or a sync caller woke (@res 0 or
 * -ERESTARTSYS).
 */
TRACE_EVENT(asyncdev_service_end,

	TP_PROTO(const struct adev_node *node, const struct adev_req *req,
		 long res),

	TP_ARGS(node, req, res),

	TP_STRUCT__entry(
		__field(u64, id)
		__field(s64, res)
		__field(u8, node)
		__field(u8, in_service)
	),

	TP_fast_assign(
		__entry->id = req ? req->id : 0;
		__entry->res = req ? req->res : res;
		__entry->node = node->kind;
		__entry->in_service = req ? req->in_service : 1;
	),

	TP_printk("node=%s id=%llu res=%lld in_service=%u",
		  adev_show_node(__entry->node), __entry->id, __entry->res,
		  __entry->in_service)
);

/* ki_complete is called for an async request. */
TRACE_EVENT(asyncdev_complete,

	TP_PROTO(const struct adev_req *req),

	TP_ARGS(req),

	TP_STRUCT__entry(
		__field(u64, id)
		__field(s64, res)
		__field(u64, latency_ns)
		__field(u8, node)
		__field(u8, write)
		__field(u8, path)
		__field(u8, cancelled)
	),

	TP_fast_assign(
		__entry->id = req->id;
		__entry->res = req->res;
		__entry->latency_ns = ktime_get_ns() - req->submit_ns;
		__entry->node = req->node->kind;
		__entry->write = req->write;
		__entry->path = req->path;
		__entry->cancelled = req->cancelled;
	),

	TP_printk("node=%s id=%llu %s path=%s res=%lld latency_ns=%llu cancelled=%u",
		  adev_show_node(__entry->node), __entry->id,
		  adev_show_rw(__entry->write), adev_show_path(__entry->path),
		  __entry->res, __entry->latency_ns, __entry->cancelled)
);

/*
 * fs/aio's cancel callback runs (io_cancel, io_destroy, or exit_aio:
 * @exiting) in the state the request is in; @waiting: on the engine's
 * channel wait list.
 */
TRACE_EVENT(asyncdev_cancel,

	TP_PROTO(const struct adev_req *req),

	TP_ARGS(req),

	TP_STRUCT__entry(
		__field(u64, id)
		__field(s32, by_pid)
		__field(u8, node)
		__field(u8, state)
		__field(u8, waiting)
		__field(u8, in_service)
		__field(u8, exiting)
	),

	TP_fast_assign(
		__entry->id = req->id;
		__entry->by_pid = current->pid;
		__entry->node = req->node->kind;
		__entry->state = READ_ONCE(req->state);
		__entry->waiting = !list_empty_careful(&req->list);
		__entry->in_service = READ_ONCE(req->in_service);
		__entry->exiting = !!(current->flags & PF_EXITING);
	),

	TP_printk("node=%s id=%llu state=%s waiting=%u in_service=%u by_pid=%d exiting=%u",
		  adev_show_node(__entry->node), __entry->id,
		  adev_show_state(__entry->state), __entry->waiting,
		  __entry->in_service, __entry->by_pid, __entry->exiting)
);

/* SIGIO is sent to the subscribers of @fa (a band of POLL_IN/POLL_OUT). */
TRACE_EVENT_CONDITION(asyncdev_sigio,

	TP_PROTO(const struct adev_fifo *f, struct fasync_struct **fa,
		 int band),

	TP_ARGS(f, fa, band),

	TP_CONDITION(READ_ONCE(*fa)),

	TP_STRUCT__entry(
		__field(u64, level)
		__field(u32, subscribers)
		__field(u8, band)
	),

	TP_fast_assign(
		__entry->level = READ_ONCE(f->len);
		__entry->subscribers = adev_fasync_count(fa);
		__entry->band = band;
	),

	TP_printk("band=%s subscribers=%u level=%llu",
		  __print_symbolic(__entry->band, { POLL_IN, "POLL_IN" },
				   { POLL_OUT, "POLL_OUT" }),
		  __entry->subscribers, __entry->level)
);

/* The producer's record @seq and the FIFO's level; under fifo->lock. */
DECLARE_EVENT_CLASS(asyncdev_record,

	TP_PROTO(const struct adev_fifo *f, u64 seq),

	TP_ARGS(f, seq),

	TP_STRUCT__entry(
		__field(u64, seq)
		__field(u64, level)
	),

	TP_fast_assign(
		__entry->seq = seq;
		__entry->level = f->len + f->reserved + f->behind;
	),

	TP_printk("seq=%llu level=%llu", __entry->seq, __entry->level)
);

/* The producer appended record @seq. */
DEFINE_EVENT(asyncdev_record, asyncdev_produce,

	TP_PROTO(const struct adev_fifo *f, u64 seq),

	TP_ARGS(f, seq)
);

/* The producer dropped record @seq: no room. */
DEFINE_EVENT(asyncdev_record, asyncdev_overrun,

	TP_PROTO(const struct adev_fifo *f, u64 seq),

	TP_ARGS(f, seq)
);

/* Fault injection fails the current request with @err. */
TRACE_EVENT_CONDITION(asyncdev_fault,

	TP_PROTO(const struct adev_node *node, int err),

	TP_ARGS(node, err),

	TP_CONDITION(err),

	TP_STRUCT__entry(
		__field(s32, error)
		__field(u8, node)
	),

	TP_fast_assign(
		__entry->error = err;
		__entry->node = node->kind;
	),

	TP_printk("node=%s error=%d", adev_show_node(__entry->node),
		  __entry->error)
);

#endif /* ASYNCDEV_TRACE_H */

/* An out-of-tree module: Kbuild puts driver/ on the include path. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
