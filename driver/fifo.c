// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/asyncdev: a FIFO with pipe(7) semantics (without SIGPIPE), SIGIO,
 * and truly asynchronous reads and writes.
 *
 * Every reader, synchronous or not, takes a place in fifo->readers and only
 * the first one consumes; writers likewise in fifo->writers. So sleeping
 * callers and queued io_submit requests are served in arrival order, a write
 * of at most ADEV_ATOMIC_WRITE bytes is stored in one piece when there is
 * room for all of it, and a larger write is never interleaved with another.
 * A call that finds nobody ahead of it and can be served at once is served
 * in one locked section without taking a place (fifo_read_inline,
 * fifo_write_inline): the common exchange never touches the lists.
 *
 * A synchronous caller copies its own data. A queued aio request is served
 * by fifo->work, a work item that borrows the submitter's mm
 * (kthread_use_mm) and copies through the request's own copy of the iovec,
 * as f_fs does: the caller's iovec is gone when read_iter returns.
 *
 * A user copy can fault and sleep, so it never runs under fifo->lock with
 * page faults enabled. The inline paths copy under the lock with page
 * faults disabled and take the queued path if the user's pages are not
 * there. Otherwise readers copy out of the ring under fifo->read_mutex
 * without the lock; the head writer
 * reserves the room right after the stored bytes, copies straight into it,
 * then commits what it copied under the lock. While it copies, the producer
 * appends its records after the reservation (fifo->behind); the commit
 * closes the gap a short copy left. If the copy faults nothing is consumed
 * or stored and the call fails with -EFAULT.
 */
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "asyncdev.h"
#include "rw.h"
#include "trace.h"

/* What a change of state calls for, done after fifo->lock is dropped. */
struct fifo_events {
	bool wake_readers;
	bool wake_writers;
	bool sig_in;
	bool sig_out;
	bool work;
};

static struct adev_node *fifo_node(struct adev_fifo *f)
{
	return container_of(f, struct adev_node, fifo);
}

static size_t fifo_room(const struct adev_fifo *f)
{
	return f->size - f->len - f->reserved - f->behind;
}

/*
 * Writable, for poll, means a write of ADEV_ATOMIC_WRITE bytes would not
 * block for room: the pipe's "a free page" rule.
 */
static bool fifo_writable(const struct adev_fifo *f)
{
	return fifo_room(f) >= ADEV_ATOMIC_WRITE;
}

static struct adev_qent *fifo_head(struct list_head *list)
{
	return list_first_entry_or_null(list, struct adev_qent, list);
}

static bool fifo_can_read(const struct adev_fifo *f, const struct adev_qent *q)
{
	return f->len >= q->need;
}

static bool fifo_can_write(const struct adev_fifo *f, const struct adev_qent *q)
{
	return fifo_room(f) >= q->need;
}

/* Wake or schedule the first reader and writer if they can progress. */
static void fifo_check_heads(struct adev_fifo *f, struct fifo_events *ev)
{
	struct adev_qent *r = fifo_head(&f->readers);
	struct adev_qent *w = fifo_head(&f->writers);

	if (r && fifo_can_read(f, r)) {
		if (!r->req)
			ev->wake_readers = true;
		else if (r->req->state == ADEV_REQ_QUEUED)
			ev->work = true;
	}
	if (w && fifo_can_write(f, w)) {
		if (!w->req)
			ev->wake_writers = true;
		else if (w->req->state == ADEV_REQ_QUEUED)
			ev->work = true;
	}
}

/*
 * Note the consequences of f->len having changed from @old. As fs/pipe.c
 * does since 5.15, every store of data wakes readers and pollers and raises
 * POLL_IN, and every read that frees room wakes writers and raises
 * POLL_OUT, not only the empty and full edges: an EPOLLET or multishot
 * poll user, or a SIGIO handler that reads one record per signal, gets one
 * event per write.
 */
static void fifo_changed(struct adev_fifo *f, size_t old, struct fifo_events *ev)
{
	if (f->len > old) {
		ev->wake_readers = true;
		ev->sig_in = true;
	} else if (f->len < old) {
		ev->wake_writers = true;
		ev->sig_out = true;
	}
	fifo_check_heads(f, ev);
}

static void fifo_signal(struct adev_fifo *f, struct fasync_struct **fa,
			int band)
{
	if (READ_ONCE(*fa))
		adev_stat_add(fifo_node(f), ADEV_STAT_SIGNALS_SENT, 1);
	trace_asyncdev_sigio(f, fa, band);
	kill_fasync(fa, SIGIO, band);
}

static void fifo_fire(struct adev_fifo *f, const struct fifo_events *ev)
{
	/*
	 * The barrier in wq_has_sleeper() orders our change of f->len (made
	 * under f->lock) before the check, pairing with the one a sleeper
	 * sets its task state with before it tests its condition, and with
	 * the smp_mb() in fifo_poll() after poll_wait().
	 */
	if (ev->wake_readers && wq_has_sleeper(&f->rwait))
		wake_up_interruptible_poll(&f->rwait, EPOLLIN | EPOLLRDNORM);
	if (ev->wake_writers && wq_has_sleeper(&f->wwait))
		wake_up_interruptible_poll(&f->wwait, EPOLLOUT | EPOLLWRNORM);
	if (ev->sig_in)
		fifo_signal(f, &f->fasync_readers, POLL_IN);
	if (ev->sig_out)
		fifo_signal(f, &f->fasync_writers, POLL_OUT);
	if (ev->work)
		queue_work(adev_wq, &f->work);
}

/* Ring index of the byte @off bytes after the tail. */
static size_t fifo_index(const struct adev_fifo *f, size_t off)
{
	size_t i = f->tail + off;

	return i >= f->size ? i - f->size : i;
}

/* The page holding ring index @i, and @i's offset in it in *@off. */
static struct page *fifo_page(const struct adev_fifo *f, size_t i, size_t *off)
{
	size_t a = offset_in_page(f->buf) + i;

	*off = offset_in_page(a);
	return f->pages[a >> PAGE_SHIFT];
}

/*
 * Copy @n bytes at ring index @i (wrapping at the end of the ring) to
 * @iter, or from it into the ring with @in, page by page as fs/pipe.c does:
 * hardened usercopy checks every copy from a kmalloc or vmalloc pointer
 * (__check_object_size: 6 % of a 64-byte round trip's time under TCG), not
 * a copy from a page. Returns the bytes copied.
 */
static size_t fifo_copy(const struct adev_fifo *f, size_t i, size_t n,
			struct iov_iter *iter, bool in)
{
	size_t done = 0;

	while (done < n) {
		size_t off, want, c;
		struct page *page = fifo_page(f, i, &off);

		want = min3(n - done, PAGE_SIZE - off, f->size - i);
		c = in ? copy_page_from_iter(page, off, want, iter) :
			 copy_page_to_iter(page, off, want, iter);
		done += c;
		if (c < want)
			break;
		i += c;
		if (i == f->size)
			i = 0;
	}
	return done;
}

static size_t fifo_copy_out(const struct adev_fifo *f, size_t i, size_t n,
			    struct iov_iter *to)
{
	return fifo_copy(f, i, n, to, false);
}

static size_t fifo_copy_in(struct adev_fifo *f, size_t i, size_t n,
			   struct iov_iter *from)
{
	return fifo_copy(f, i, n, from, true);
}

/* Copy @n bytes into the ring @off bytes after the tail; under f->lock. */
static void fifo_put(struct adev_fifo *f, size_t off, const void *src,
		     size_t n)
{
	size_t i = fifo_index(f, off);
	size_t first = min(n, f->size - i);

	memcpy(f->buf + i, src, first);
	memcpy(f->buf, src + first, n - first);
}

/* Make @n more bytes after the stored ones visible; under f->lock. */
static void fifo_grow(struct adev_fifo *f, size_t n)
{
	WRITE_ONCE(f->len, f->len + n);
	if (f->len > f->high_water)
		WRITE_ONCE(f->high_water, f->len);
}

/*
 * Move the @n bytes at @from (bytes after the tail) back to @to < @from,
 * in ring order; under f->lock.
 */
static void fifo_move(struct adev_fifo *f, size_t to, size_t from, size_t n)
{
	while (n) {
		size_t d = fifo_index(f, to), s = fifo_index(f, from);
		size_t c = min3(n, f->size - d, f->size - s);

		memmove(f->buf + d, f->buf + s, c);
		to += c;
		from += c;
		n -= c;
	}
}

/*
 * Drop @n bytes from the tail; the caller holds f->lock, and f->read_mutex
 * or saw it free under f->lock (no copy out of the ring runs).
 * A ring left empty, with no writer copying into it, starts over at offset
 * 0 (as a pipe reuses its spare page): small write/read exchanges then keep
 * touching the same warm page instead of walking the whole ring.
 */
static void fifo_drop(struct adev_fifo *f, size_t n)
{
	WRITE_ONCE(f->len, f->len - n);
	if (!f->len && !f->reserved) {
		f->tail = 0;
		return;
	}
	f->tail += n;
	if (f->tail >= f->size)
		f->tail -= f->size;
}

/*
 * Take a place in @list; with @nowait only if nobody is ahead and @need
 * bytes of data (reader) or room (writer) are there now.
 */
static int fifo_enqueue(struct adev_fifo *f, struct list_head *list,
			struct adev_qent *q, bool nowait, size_t need)
{
	bool write = list == &f->writers;
	unsigned long flags;
	int ret = 0;

	spin_lock_irqsave(&f->lock, flags);
	if (nowait && !(list_empty(list) &&
			(write ? fifo_room(f) : f->len) >= need))
		ret = -EAGAIN;
	else
		list_add_tail(&q->list, list);
	spin_unlock_irqrestore(&f->lock, flags);
	return ret;
}

static void fifo_leave(struct adev_fifo *f, struct adev_qent *q)
{
	struct fifo_events ev = {};
	unsigned long flags;

	spin_lock_irqsave(&f->lock, flags);
	list_del_init(&q->list);
	fifo_check_heads(f, &ev);
	spin_unlock_irqrestore(&f->lock, flags);
	fifo_fire(f, &ev);
}

/* Wait condition of a sleeping caller: first in @list and able to progress. */
static bool fifo_turn(struct adev_fifo *f, struct list_head *list,
		      struct adev_qent *q)
{
	unsigned long flags;
	bool ok;

	spin_lock_irqsave(&f->lock, flags);
	ok = fifo_head(list) == q &&
	     (list == &f->writers ? fifo_can_write(f, q) : fifo_can_read(f, q));
	spin_unlock_irqrestore(&f->lock, flags);
	return ok;
}

/*
 * The head reader @q, holding f->read_mutex, copies @n bytes at ring offset
 * @off out, consumes what it copied and leaves the list. Releases
 * f->read_mutex. Returns the bytes read, or -EFAULT if none could be copied
 * (nothing is consumed).
 */
static ssize_t fifo_read_copy(struct adev_fifo *f, struct adev_qent *q,
			      struct iov_iter *to, size_t n, size_t off)
{
	struct fifo_events ev = {};
	unsigned long flags;
	size_t c;

	c = fifo_copy_out(f, off, n, to);

	spin_lock_irqsave(&f->lock, flags);
	if (c) {
		size_t old = f->len;

		fifo_drop(f, c);
		fifo_changed(f, old, &ev);
	}
	list_del_init(&q->list);
	fifo_check_heads(f, &ev);
	spin_unlock_irqrestore(&f->lock, flags);
	mutex_unlock(&f->read_mutex);
	fifo_fire(f, &ev);

	adev_stat_add(fifo_node(f), ADEV_STAT_BYTES_READ, c);
	return c ? c : -EFAULT;
}

/*
 * The head reader @q copies up to iov_iter_count(@to) bytes out of the ring.
 * Returns the bytes read, or -EFAULT if none could be copied (nothing is
 * consumed); in both cases @q has left the list. Returns 0, still queued,
 * if the FIFO was flushed under it.
 */
static ssize_t fifo_read_step(struct adev_fifo *f, struct adev_qent *q,
			      struct iov_iter *to)
{
	unsigned long flags;
	size_t n, off;

	mutex_lock(&f->read_mutex);
	spin_lock_irqsave(&f->lock, flags);
	n = min(f->len, iov_iter_count(to));
	off = f->tail;
	spin_unlock_irqrestore(&f->lock, flags);
	if (!n) {
		mutex_unlock(&f->read_mutex);
		return 0;
	}
	return fifo_read_copy(f, q, to, n, off);
}

/*
 * The idle case, in one locked section and never visible on the list:
 * nobody reads or flushes (no reader queued, f->read_mutex free, so no
 * copy out of the ring runs without f->lock), there is data, at most
 * ADEV_ATOMIC_WRITE bytes of it go to @to, and @to's pages are there. The
 * copy runs under f->lock with page faults disabled; if it comes up short,
 * nothing is consumed and @to is as it was. Returns the bytes read, or 0
 * when the caller must take the queued path.
 */
static ssize_t fifo_read_inline(struct adev_fifo *f, struct iov_iter *to)
{
	struct fifo_events ev = {};
	unsigned long flags;
	size_t n, c, old;

	spin_lock_irqsave(&f->lock, flags);
	n = min(f->len, iov_iter_count(to));
	if (!n || n > ADEV_ATOMIC_WRITE || !list_empty(&f->readers) ||
	    mutex_is_locked(&f->read_mutex)) {
		spin_unlock_irqrestore(&f->lock, flags);
		return 0;
	}
	pagefault_disable();
	c = fifo_copy_out(f, f->tail, n, to);
	pagefault_enable();
	if (c < n) {
		spin_unlock_irqrestore(&f->lock, flags);
		iov_iter_revert(to, c);
		return 0;
	}
	old = f->len;
	fifo_drop(f, n);
	fifo_changed(f, old, &ev);
	spin_unlock_irqrestore(&f->lock, flags);
	fifo_fire(f, &ev);

	adev_stat_add(fifo_node(f), ADEV_STAT_BYTES_READ, n);
	return n;
}

/*
 * The common case, in one locked section: no reader is ahead of @q and
 * there is data. Returns what fifo_read_step returns, or 0 with @q not
 * queued when the caller must take the slow path.
 */
static ssize_t fifo_read_fast(struct adev_fifo *f, struct adev_qent *q,
			      struct iov_iter *to)
{
	unsigned long flags;
	size_t n = 0, off = 0;

	/* Busy means another reader (so not our turn) or a flush. */
	if (!mutex_trylock(&f->read_mutex))
		return 0;
	spin_lock_irqsave(&f->lock, flags);
	if (list_empty(&f->readers) && f->len) {
		list_add_tail(&q->list, &f->readers);
		n = min(f->len, iov_iter_count(to));
		off = f->tail;
	}
	spin_unlock_irqrestore(&f->lock, flags);
	if (!n) {
		mutex_unlock(&f->read_mutex);
		return 0;
	}
	return fifo_read_copy(f, q, to, n, off);
}

/*
 * Promise the head writer the room after the stored bytes for its next
 * piece; under f->lock. Returns its size, and its ring index in *@head.
 */
static size_t fifo_reserve(struct adev_fifo *f, size_t count, size_t *head)
{
	size_t n = min3(count, fifo_room(f), (size_t)ADEV_ATOMIC_WRITE);

	WRITE_ONCE(f->reserved, n);
	*head = fifo_index(f, f->len);
	return n;
}

/*
 * The head writer @q copies @chunk bytes from @from into the room reserved
 * for it, which starts at ring index @head, and commits them: all of them
 * if it is an atomic write (q->need > 1 or a single byte), else what could
 * be copied. Returns the bytes stored, or -EFAULT if nothing could be
 * copied. *@left tells whether @q has left the list: the write is complete
 * or faulted.
 */
static ssize_t fifo_write_copy(struct adev_fifo *f, struct adev_qent *q,
			       struct iov_iter *from, size_t head,
			       size_t chunk, bool *left)
{
	size_t count = iov_iter_count(from);
	struct fifo_events ev = {};
	unsigned long flags;
	size_t c;

	c = fifo_copy_in(f, head, chunk, from);
	if (c < chunk && q->need > 1)
		c = 0;		/* an atomic write is stored whole or not at all */

	spin_lock_irqsave(&f->lock, flags);
	if (c < chunk && f->behind)
		fifo_move(f, f->len + c, f->len + chunk, f->behind);
	WRITE_ONCE(f->reserved, 0);
	if (c || f->behind) {
		size_t old = f->len;

		fifo_grow(f, c + f->behind);
		f->behind = 0;
		fifo_changed(f, old, &ev);
	}
	*left = c < chunk || c == count;
	if (*left) {
		list_del_init(&q->list);
		fifo_check_heads(f, &ev);
	}
	spin_unlock_irqrestore(&f->lock, flags);
	fifo_fire(f, &ev);

	adev_stat_add(fifo_node(f), ADEV_STAT_BYTES_WRITTEN, c);
	return c ? c : -EFAULT;
}

/*
 * The head writer @q stores the next piece of @from: all of it if it is an
 * atomic write, else as much as fits, at most ADEV_ATOMIC_WRITE bytes.
 * Returns what fifo_write_copy returns, or 0 if there is no room (still
 * queued, *@left false).
 */
static ssize_t fifo_write_step(struct adev_fifo *f, struct adev_qent *q,
			       struct iov_iter *from, bool *left)
{
	unsigned long flags;
	size_t chunk, head;

	spin_lock_irqsave(&f->lock, flags);
	if (!fifo_can_write(f, q)) {
		spin_unlock_irqrestore(&f->lock, flags);
		*left = false;
		return 0;
	}
	chunk = fifo_reserve(f, iov_iter_count(from), &head);
	spin_unlock_irqrestore(&f->lock, flags);
	return fifo_write_copy(f, q, from, head, chunk, left);
}

/*
 * As fifo_read_inline, for a write: no writer queued (so none copying into
 * reserved room), the whole write, at most ADEV_ATOMIC_WRITE bytes, fits
 * now, and @from's pages are there. Copied under f->lock with page faults
 * disabled and stored at once, or not at all (0, @from as it was).
 */
static ssize_t fifo_write_inline(struct adev_fifo *f, struct iov_iter *from)
{
	size_t count = iov_iter_count(from);
	struct fifo_events ev = {};
	unsigned long flags;
	size_t c, old;

	if (count > ADEV_ATOMIC_WRITE)
		return 0;
	spin_lock_irqsave(&f->lock, flags);
	if (!list_empty(&f->writers) || fifo_room(f) < count) {
		spin_unlock_irqrestore(&f->lock, flags);
		return 0;
	}
	pagefault_disable();
	c = fifo_copy_in(f, fifo_index(f, f->len), count, from);
	pagefault_enable();
	if (c < count) {
		spin_unlock_irqrestore(&f->lock, flags);
		iov_iter_revert(from, c);
		return 0;
	}
	old = f->len;
	fifo_grow(f, count);
	fifo_changed(f, old, &ev);
	spin_unlock_irqrestore(&f->lock, flags);
	fifo_fire(f, &ev);

	adev_stat_add(fifo_node(f), ADEV_STAT_BYTES_WRITTEN, count);
	return count;
}

/*
 * The common case, in one locked section: no writer is ahead of @q and
 * there is room for @need bytes. Returns what fifo_write_step returns, or 0
 * with @q not queued when the caller must take the slow path.
 */
static ssize_t fifo_write_fast(struct adev_fifo *f, struct adev_qent *q,
			       struct iov_iter *from, size_t need, bool *left)
{
	unsigned long flags;
	size_t chunk, head;

	spin_lock_irqsave(&f->lock, flags);
	if (!list_empty(&f->writers) || fifo_room(f) < need) {
		spin_unlock_irqrestore(&f->lock, flags);
		return 0;
	}
	list_add_tail(&q->list, &f->writers);
	chunk = fifo_reserve(f, iov_iter_count(from), &head);
	spin_unlock_irqrestore(&f->lock, flags);
	return fifo_write_copy(f, q, from, head, chunk, left);
}

static size_t fifo_write_need(size_t count)
{
	return count <= ADEV_ATOMIC_WRITE ? count : 1;
}

/* read(2) semantics: wait for the turn and for data, return what is there. */
static ssize_t fifo_read_sync(struct adev_fifo *f, struct iov_iter *to,
			      bool nowait)
{
	struct adev_qent q = { .need = 1 };
	ssize_t ret;

	ret = fifo_read_inline(f, to);
	if (ret)
		return ret;
	ret = fifo_read_fast(f, &q, to);
	if (ret)
		return ret;
	ret = fifo_enqueue(f, &f->readers, &q, nowait, q.need);
	if (ret)
		return ret;
	for (;;) {
		if (!nowait) {
			ret = wait_event_interruptible(f->rwait,
						       fifo_turn(f, &f->readers,
								 &q));
			if (ret)
				break;
		}
		ret = fifo_read_step(f, &q, to);
		if (ret)
			return ret;
		if (nowait) {
			ret = -EAGAIN;
			break;
		}
	}
	fifo_leave(f, &q);
	return ret;
}

/*
 * write(2) semantics: wait for the turn and for room; an atomic write waits
 * for room for all of it. With @nowait, store what fits now, or -EAGAIN;
 * @whole makes a nowait write succeed only if all of it fits now.
 */
static ssize_t fifo_write_sync(struct adev_fifo *f, struct iov_iter *from,
			       bool nowait, bool whole)
{
	size_t count = iov_iter_count(from);
	struct adev_qent q = { .need = fifo_write_need(count) };
	bool left = false;
	ssize_t done = 0;
	ssize_t ret;

	ret = fifo_write_inline(f, from);
	if (ret)
		return ret;
	ret = fifo_write_fast(f, &q, from, whole ? count : q.need, &left);
	if (ret < 0)
		return ret;
	if (ret) {
		done = ret;
	} else {
		ret = fifo_enqueue(f, &f->writers, &q, nowait,
				   whole ? count : q.need);
		if (ret)
			return ret;
	}
	while (!left) {
		if (!nowait) {
			ret = wait_event_interruptible(f->wwait,
						       fifo_turn(f, &f->writers,
								 &q));
			if (ret)
				break;
		}
		ret = fifo_write_step(f, &q, from, &left);
		if (ret > 0)
			done += ret;
		else if (ret < 0 || nowait)
			break;
	}
	if (!left)
		fifo_leave(f, &q);
	if (done)
		return done;
	return ret ? ret : -EAGAIN;
}

/*
 * fs/aio cancel callback, under fs/aio's ctx_lock with interrupts off. A
 * request waiting in a FIFO list completes (from its timer) with
 * -ECANCELED, or with the bytes a large write already stored; one being
 * served is completed by the work item when it is done with it; the engine
 * decides for the others (asyncdev.h). Returns 0 when the request will
 * complete early, -EAGAIN when it completes on its own.
 */
static int fifo_cancel(struct kiocb *iocb)
{
	struct adev_req *req = iocb->private;
	struct adev_fifo *f = &req->node->fifo;
	struct fifo_events ev = {};
	unsigned long flags;
	bool now = false;
	int ret = 0;

	spin_lock_irqsave(&f->lock, flags);
	trace_asyncdev_cancel(req);
	switch (req->state) {
	case ADEV_REQ_QUEUED:
		list_del_init(&req->q.list);
		req->state = ADEV_REQ_ENGINE;
		fifo_check_heads(f, &ev);
		now = true;
		break;
	case ADEV_REQ_ACTIVE:
		req->cancel_pending = true;
		break;
	default:
		ret = adev_engine_cancel_req(req);
		break;
	}
	spin_unlock_irqrestore(&f->lock, flags);
	fifo_fire(f, &ev);

	if (now) {
		req->cancelled = true;
		adev_req_complete_now(req, req->done ? req->done : -ECANCELED);
	}
	return ret;
}

/*
 * Queue an aio request that cannot be served now. It keeps its own copy of
 * the iovec and a reference on the submitter's mm for the work item.
 */
static ssize_t fifo_queue_aio(struct adev_fifo *f, struct adev_req *req,
			      struct iov_iter *iter)
{
	struct list_head *list = req->write ? &f->writers : &f->readers;
	struct fifo_events ev = {};
	unsigned long flags;

	/* io_submit gives user memory; a kernel iterator is not ours to keep. */
	if (WARN_ON_ONCE(!user_backed_iter(iter)))
		return -EINVAL;
	/* NULL for a single-buffer (ITER_UBUF) iterator: nothing to copy. */
	req->iov = dup_iter(&req->iter, iter, GFP_KERNEL_ACCOUNT);
	if (!req->iov && iter_is_iovec(iter))
		return -ENOMEM;
	mmgrab(current->mm);
	req->mm = current->mm;
	req->q.need = req->write ? fifo_write_need(iov_iter_count(iter)) : 1;
	req->state = ADEV_REQ_SUBMITTING;
	adev_req_set_cancel(req, fifo_cancel);

	spin_lock_irqsave(&f->lock, flags);
	if (req->cancel_pending) {
		spin_unlock_irqrestore(&f->lock, flags);
		return -ECANCELED;
	}
	req->state = ADEV_REQ_QUEUED;
	list_add_tail(&req->q.list, list);
	trace_asyncdev_fifo_queue(req, f);
	fifo_check_heads(f, &ev);
	spin_unlock_irqrestore(&f->lock, flags);
	fifo_fire(f, &ev);

	adev_stat_add(fifo_node(f), ADEV_STAT_ASYNC_QUEUED, 1);
	return -EIOCBQUEUED;
}

/*
 * Serve a queued aio request that reached the head, in the submitter's mm.
 * Returns true if it moved data or completed.
 *
 * The mm_users reference taken for the copy is dropped with mmput_async():
 * if the submitter exited meanwhile it is the last one, and __mmput() runs
 * exit_aio(), which waits for this very request; only this work item can
 * complete it (binder does the same for the same reason). Once the request
 * leaves the FIFO its mm is dropped here, in process context.
 */
static bool fifo_serve(struct adev_fifo *f, struct adev_req *req)
{
	struct fifo_events ev = {};
	unsigned long flags;
	bool left = true;
	ssize_t ret;

	if (!mmget_not_zero(req->mm)) {
		ret = -EFAULT;
		fifo_leave(f, &req->q);
		goto done;
	}
	kthread_use_mm(req->mm);
	if (req->write) {
		do {
			ret = fifo_write_step(f, &req->q, &req->iter, &left);
			if (ret > 0)
				req->done += ret;
		} while (ret > 0 && !left);
	} else {
		ret = fifo_read_step(f, &req->q, &req->iter);
		left = ret != 0;
		if (ret > 0)
			req->done = ret;
	}
	kthread_unuse_mm(req->mm);
	mmput_async(req->mm);

	if (!left) {
		spin_lock_irqsave(&f->lock, flags);
		if (req->cancel_pending) {
			list_del_init(&req->q.list);
			left = true;
		} else {
			req->state = ADEV_REQ_QUEUED;
		}
		fifo_check_heads(f, &ev);
		spin_unlock_irqrestore(&f->lock, flags);
		fifo_fire(f, &ev);
		if (!left)
			return ret > 0;
		ret = -ECANCELED;
	}
done:
	mmdrop(req->mm);
	req->mm = NULL;
	/* With a cancel pending, the engine completes it at once. */
	adev_engine_submit(req, req->done ? req->done : ret);
	return true;
}

/* Serve the first request of @list if it is a queued aio one that can progress. */
static bool fifo_serve_head(struct adev_fifo *f, struct list_head *list)
{
	struct adev_req *req = NULL;
	struct adev_qent *q;
	unsigned long flags;

	spin_lock_irqsave(&f->lock, flags);
	q = fifo_head(list);
	if (q && q->req && q->req->state == ADEV_REQ_QUEUED &&
	    (list == &f->writers ? fifo_can_write(f, q) : fifo_can_read(f, q))) {
		req = q->req;
		req->state = ADEV_REQ_ACTIVE;
		trace_asyncdev_fifo_head(req, f);
	}
	spin_unlock_irqrestore(&f->lock, flags);
	return req && fifo_serve(f, req);
}

static void fifo_work_fn(struct work_struct *work)
{
	struct adev_fifo *f = container_of(work, struct adev_fifo, work);
	bool progress;

	do {
		progress = fifo_serve_head(f, &f->readers);
		progress |= fifo_serve_head(f, &f->writers);
	} while (progress);
}

/*
 * Serve a read or write whose service time @service_ns was drawn.
 *  - read(2)/write(2), and io_uring's blocking retry from an io-wq worker:
 *    sleep for the device's service time, then block as a pipe does.
 *  - A synchronous call that must not block (O_NONBLOCK, RWF_NOWAIT) never
 *    waits, not for data, room, a channel nor the service time: it moves
 *    what it can now or fails with -EAGAIN. It cannot complete later, and
 *    poll's promise that a ready fd does not block must hold.
 *  - IOCB_NOWAIT on an async kiocb (io_uring's first attempt) and io_submit:
 *    served at once if possible; an io_submit request that cannot be is
 *    queued (-EIOCBQUEUED), an io_uring one gets -EAGAIN (io_uring polls,
 *    then retries).
 * With a service time, async requests that moved data complete after it
 * through the engine.
 */
static ssize_t fifo_serve_rw(struct adev_file *af, struct kiocb *iocb,
			     struct iov_iter *iter, bool write, u64 service_ns,
			     const struct adev_submit *sub)
{
	struct adev_node *node = af->node;
	struct adev_fifo *f = &node->fifo;
	bool aio = !is_sync_kiocb(iocb) && adev_kiocb_is_aio(iocb);
	bool nowait = iocb->ki_flags & IOCB_NOWAIT;
	struct adev_req *req = NULL;
	ssize_t ret;

	if (is_sync_kiocb(iocb) || (!aio && !nowait)) {
		nowait |= !!(iocb->ki_filp->f_flags & O_NONBLOCK);
		if (!nowait && service_ns) {
			ret = adev_engine_sleep(node, service_ns);
			if (ret)
				return ret;
		}
		ret = write ? fifo_write_sync(f, iter, nowait, false) :
			      fifo_read_sync(f, iter, nowait);
		goto out;
	}

	if (service_ns) {
		req = adev_req_alloc(af, iocb, write);
		if (IS_ERR(req))
			return PTR_ERR(req);
		adev_req_track(req, sub, iter);
	}
	ret = write ? fifo_write_sync(f, iter, true, aio) :
		      fifo_read_sync(f, iter, true);
	if (ret == -EAGAIN && aio && !nowait) {
		if (!req) {
			req = adev_req_alloc(af, iocb, write);
			if (IS_ERR(req))
				return PTR_ERR(req);
			adev_req_track(req, sub, iter);
		}
		req->service_ns = service_ns;
		ret = fifo_queue_aio(f, req, iter);
		if (ret != -EIOCBQUEUED)
			adev_req_free(req);
		return ret;
	}
	if (req && ret > 0) {
		/* Cancellable from here: adev_engine_submit() sees to it. */
		req->service_ns = service_ns;
		adev_stat_add(node, ADEV_STAT_ASYNC_QUEUED, 1);
		adev_engine_submit(req, ret);
		return -EIOCBQUEUED;
	}
	if (req)
		adev_req_free(req);
out:
	if (ret > 0)
		adev_stat_add(node, write ? ADEV_STAT_WRITES : ADEV_STAT_READS, 1);
	trace_asyncdev_done(node, sub, write, ret);
	return ret;
}

/*
 * read_iter and write_iter: fault injection and the choices drawn for the
 * request (rw.h: adev_rw), then fifo_serve_rw(). A shortened request
 * sees a truncated iterator: a short write is stored in one piece (it is at
 * most what was asked, so atomic if that was), never interleaved.
 */
static const struct adev_rw_ops fifo_rw_ops = {
	.serve		= fifo_serve_rw,
};

static ssize_t fifo_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	return adev_rw(iocb, to, false, &fifo_rw_ops);
}

static ssize_t fifo_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	return adev_rw(iocb, from, true, &fifo_rw_ops);
}

/*
 * As pipe_poll: readability for files open for reading, writability for
 * those open for writing, and only the wait queue of the events asked for
 * (an aio IOCB_CMD_POLL accepts a single queue).
 */
static __poll_t fifo_poll(struct file *file, poll_table *wait)
{
	struct adev_fifo *f = &adev_node_of(file)->fifo;
	__poll_t want = poll_requested_events(wait);
	bool rd = (file->f_mode & FMODE_READ) &&
		  (want & (EPOLLIN | EPOLLRDNORM));
	bool wr = (file->f_mode & FMODE_WRITE) &&
		  (want & (EPOLLOUT | EPOLLWRNORM));
	__poll_t mask = 0;
	unsigned long flags;
	bool readable, writable;

	if (rd)
		poll_wait(file, &f->rwait, wait);
	if (wr)
		poll_wait(file, &f->wwait, wait);
	/*
	 * Wakers test wq_has_sleeper() after changing the state: order our
	 * wait queue entry before the state is sampled (as sock_poll_wait).
	 */
	if (!poll_does_not_wait(wait))
		smp_mb(); /* pairs with the one in wq_has_sleeper() */

	spin_lock_irqsave(&f->lock, flags);
	readable = f->len;
	writable = fifo_writable(f);
	spin_unlock_irqrestore(&f->lock, flags);
	if (rd && readable)
		mask |= EPOLLIN | EPOLLRDNORM;
	if (wr && writable)
		mask |= EPOLLOUT | EPOLLWRNORM;
	return mask;
}

/*
 * As a pipe: POLL_IN goes to the files open for reading, POLL_OUT to those
 * open for writing, an O_RDWR file is on both lists.
 */
static int fifo_fasync(int fd, struct file *file, int on)
{
	struct adev_fifo *f = &adev_node_of(file)->fifo;
	int ret = 0;

	mutex_lock(&f->fasync_mutex);
	if (file->f_mode & FMODE_READ)
		ret = fasync_helper(fd, file, on, &f->fasync_readers);
	if ((file->f_mode & FMODE_WRITE) && ret >= 0) {
		ret = fasync_helper(fd, file, on, &f->fasync_writers);
		if (ret < 0 && (file->f_mode & FMODE_READ))
			fasync_helper(-1, file, 0, &f->fasync_readers);
	}
	mutex_unlock(&f->fasync_mutex);
	return ret;
}

static int fifo_open(struct inode *inode, struct file *file)
{
	int ret = adev_open_common(inode, file);

	if (ret)
		return ret;
	return stream_open(inode, file);
}

/*
 * Producer: append one record, or count an overrun. A dropped record uses
 * up its sequence number, so a consumer sees the loss as a gap. Under
 * f->lock.
 */
static void fifo_produce(struct adev_fifo *f, struct fifo_events *ev)
{
	struct adev_node *node = fifo_node(f);
	struct asyncdev_record rec;
	size_t old = f->len;
	int i;

	rec.seq = f->produce_seq++;
	if (fifo_room(f) < sizeof(rec)) {
		trace_asyncdev_overrun(f, rec.seq);
		adev_stat_add(node, ADEV_STAT_PRODUCER_OVERRUNS, 1);
		return;
	}
	rec.magic = ASYNCDEV_RECORD_MAGIC;
	rec.size = sizeof(rec);
	rec.timestamp_ns = ktime_get_ns();
	for (i = 0; i < sizeof(rec.payload); i++)
		rec.payload[i] = (u8)(rec.seq + i);
	if (f->reserved) {
		/* A writer is copying into the room before it: queue behind. */
		fifo_put(f, f->len + f->reserved + f->behind, &rec, sizeof(rec));
		f->behind += sizeof(rec);
	} else {
		fifo_put(f, f->len, &rec, sizeof(rec));
		fifo_grow(f, sizeof(rec));
		fifo_changed(f, old, ev);
	}
	trace_asyncdev_produce(f, rec.seq);
	adev_stat_add(node, ADEV_STAT_PRODUCER_RECORDS, 1);
}

/* The producer's "interrupt": one record per period, periods missed included. */
static enum hrtimer_restart fifo_producer_fn(struct hrtimer *timer)
{
	struct adev_fifo *f = container_of(timer, struct adev_fifo, producer);
	struct fifo_events ev = {};
	unsigned long flags;
	u64 periods;
	u32 hz;

	spin_lock_irqsave(&f->lock, flags);
	hz = f->produce_hz;
	if (!hz) {
		spin_unlock_irqrestore(&f->lock, flags);
		return HRTIMER_NORESTART;
	}
	periods = hrtimer_forward_now(timer, ns_to_ktime(NSEC_PER_SEC / hz));
	for (periods = min_t(u64, periods, 64); periods; periods--)
		fifo_produce(f, &ev);
	spin_unlock_irqrestore(&f->lock, flags);
	fifo_fire(f, &ev);
	return HRTIMER_RESTART;
}

/* Start, retune or stop the producer. Serialised by node->cfg_mutex. */
void adev_fifo_set_produce_hz(struct adev_node *node, u32 hz)
{
	struct adev_fifo *f = &node->fifo;
	unsigned long flags;
	u32 old;

	spin_lock_irqsave(&f->lock, flags);
	old = f->produce_hz;
	f->produce_hz = hz;
	if (hz && !old)
		f->produce_seq = 0;
	spin_unlock_irqrestore(&f->lock, flags);

	if (hz && !old)
		hrtimer_start(&f->producer, ns_to_ktime(NSEC_PER_SEC / hz),
			      HRTIMER_MODE_REL_SOFT);
	else if (!hz && old)
		hrtimer_cancel(&f->producer);
}

/* Discard the FIFO's contents. Requests waiting in it stay queued. */
void adev_fifo_flush(struct adev_node *node)
{
	struct adev_fifo *f = &node->fifo;
	struct fifo_events ev = {};
	unsigned long flags;
	size_t old;

	mutex_lock(&f->read_mutex);
	spin_lock_irqsave(&f->lock, flags);
	old = f->len;
	fifo_drop(f, old);
	fifo_changed(f, old, &ev);
	spin_unlock_irqrestore(&f->lock, flags);
	mutex_unlock(&f->read_mutex);
	fifo_fire(f, &ev);
}

size_t adev_fifo_level(struct adev_node *node)
{
	return READ_ONCE(node->fifo.len);
}

size_t adev_fifo_high_water(struct adev_node *node)
{
	return READ_ONCE(node->fifo.high_water);
}

void adev_fifo_reset_high_water(struct adev_node *node)
{
	struct adev_fifo *f = &node->fifo;
	unsigned long flags;

	spin_lock_irqsave(&f->lock, flags);
	WRITE_ONCE(f->high_water, f->len);
	spin_unlock_irqrestore(&f->lock, flags);
}

int adev_fifo_init(struct adev_node *node, size_t size)
{
	struct adev_fifo *f = &node->fifo;
	unsigned int i, nr;

	f->buf = kvmalloc(size, GFP_KERNEL);
	if (!f->buf)
		return -ENOMEM;
	nr = DIV_ROUND_UP(offset_in_page(f->buf) + size, PAGE_SIZE);
	f->pages = kvmalloc_array(nr, sizeof(*f->pages), GFP_KERNEL);
	if (!f->pages) {
		kvfree(f->buf);
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++) {
		u8 *a = PTR_ALIGN_DOWN(f->buf, PAGE_SIZE) + i * PAGE_SIZE;

		f->pages[i] = is_vmalloc_addr(a) ? vmalloc_to_page(a) :
						   virt_to_page(a);
	}
	f->size = size;
	spin_lock_init(&f->lock);
	mutex_init(&f->read_mutex);
	mutex_init(&f->fasync_mutex);
	INIT_LIST_HEAD(&f->readers);
	INIT_LIST_HEAD(&f->writers);
	init_waitqueue_head(&f->rwait);
	init_waitqueue_head(&f->wwait);
	INIT_WORK(&f->work, fifo_work_fn);
	adev_hrtimer_setup(&f->producer, fifo_producer_fn, CLOCK_MONOTONIC,
			   HRTIMER_MODE_REL_SOFT);
	return 0;
}

/* No file is open any more: stop the producer, then the work item. */
void adev_fifo_exit(struct adev_node *node)
{
	struct adev_fifo *f = &node->fifo;

	adev_fifo_set_produce_hz(node, 0);
	cancel_work_sync(&f->work);
	kvfree(f->pages);
	kvfree(f->buf);
}

const struct file_operations adev_fifo_fops = {
	.owner		= THIS_MODULE,
	.open		= fifo_open,
	.flush		= adev_flush,
	.release	= adev_release_common,	/* __fput did fasync(-1, 0) */
	.read_iter	= fifo_read_iter,
	.write_iter	= fifo_write_iter,
	.poll		= fifo_poll,
	.fasync		= fifo_fasync,
	.unlocked_ioctl	= adev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};
