/* SPDX-License-Identifier: GPL-2.0 */
/*
 * asyncdev internal objects and their locks.
 *
 * Request ownership, in one place:
 *  - A synchronous request lives on the caller's stack and is owned by the
 *    caller throughout.
 *  - An asynchronous request (struct adev_req) is owned by exactly one queue
 *    at a time: the FIFO's reader or writer list (fifo->lock), the engine's
 *    waiting list (engine->lock), or its own hrtimer (in service). Whoever
 *    takes it off a queue under that queue's lock owns it and must either
 *    move it to the next queue or complete it. Completion (ki_complete) is
 *    always called with none of our locks held, and the request is freed only
 *    after ki_complete returned, so an aio cancel callback racing with the
 *    completion still sees valid memory (fs/aio serialises them on its
 *    ctx_lock).
 *  - An aio request is cancellable (kiocb_set_cancel_fn) from the moment it
 *    can wait anywhere: when it joins a FIFO list, or at the latest when it
 *    is handed to the engine. The cancel callback runs under fs/aio's
 *    ctx_lock with interrupts off and takes fifo->lock, then engine->lock,
 *    so it sees a request's state as whoever last changed it left it; it
 *    never completes a request itself but hands it to its hrtimer with zero
 *    delay, or marks it (@cancel_pending) for the context that owns it.
 */
#ifndef ASYNCDEV_H
#define ASYNCDEV_H

#include <linux/aio.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/uio.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "uapi/asyncdev.h"

struct adev_node;
struct adev_req;

/* Writes up to this size are never split nor interleaved (PIPE_BUF). */
#define ADEV_ATOMIC_WRITE	4096

/**
 * struct adev_engine - simulated device timing and misbehaviour of one node
 * @lock:	protects every field below except @chan_wait and @stall_wait;
 *		taken from process, softirq (timers) and aio-cancel (irqs
 *		off) context: irqsave. The configuration fields are written
 *		under it and node->cfg_mutex; the ones marked READ_ONCE are
 *		also sampled without it on fast paths.
 * @lat:	service time distribution, [0] reads, [1] writes
 * @slow:	some service time may be non-zero (READ_ONCE)
 * @channels:	requests in service at once (READ_ONCE)
 * @busy:	channels in use now (async timers armed, sync callers asleep)
 * @waiting:	async requests waiting for a free channel, in arrival order
 * @serving:	async requests holding a channel (@in_service), for the
 *		debugfs listing
 * @stalled:	stalled aio requests (adev_req.list), until cancelled or
 *		their file is closed
 * @chan_wait:	synchronous callers waiting for a free channel
 * @stall_wait:	stalled synchronous callers (see adev_file.flush_gen)
 * @seed:	the seed @prng last restarted from
 * @prng:	state of the node's PRNG (faults.c); every random choice of
 *		the node comes from it, so a seed replays them
 * @stall:	which requests stall; @stall.when.dirs also READ_ONCE
 * @stall_seen:	requests of @stall's directions counted since it was set
 * @shrt:	which requests are shortened, and by how much
 * @short_seen:	as @stall_seen, for @shrt
 */
struct adev_engine {
	spinlock_t lock;		/* see above */
	struct asyncdev_latency lat[2];
	bool slow;
	u32 channels;
	unsigned int busy;
	struct list_head waiting;
	struct list_head serving;
	struct list_head stalled;
	wait_queue_head_t chan_wait;
	wait_queue_head_t stall_wait;
	u64 seed;
	u64 prng;
	struct asyncdev_stall stall;
	u64 stall_seen;
	struct asyncdev_short shrt;
	u64 short_seen;
};

/**
 * struct adev_draw - the choices made for one request at submission
 * @service_ns:	its service time (0: completes at once)
 * @short_len:	bytes it may move at most, 0 = all
 * @stall:	it stalls
 */
struct adev_draw {
	u64 service_ns;
	size_t short_len;
	bool stall;
};

/**
 * struct adev_bad_range - bytes [@start, @end] of /dev/asyncmem are bad
 * @start:	first bad byte
 * @end:	last bad byte
 */
struct adev_bad_range {
	u64 start;
	u64 end;
};

/**
 * struct adev_bad - the bad ranges of /dev/asyncmem
 * @lock:	protects @nr, @writes and the contents of @r; process context
 *		only (read_iter, write_iter, ioctl, sysfs)
 * @nr:		ranges in @r, sorted, disjoint and not adjacent
 * @writes:	ASYNCDEV_BAD_WRITES_*
 * @r:		ASYNCDEV_BAD_MAX_RANGES entries, allocated (charged to the
 *		caller's memcg) by the first ADD under node->cfg_mutex,
 *		freed at unload
 */
struct adev_bad {
	spinlock_t lock;		/* nr, writes, r[] */
	unsigned int nr;
	u32 writes;
	struct adev_bad_range *r;
};

/**
 * struct adev_fault - fault injection state of one node, under @lock
 * @lock:	protects the fields below
 * @cfg:	the injection set by ASYNCDEV_IOC_SET_FAULT
 * @seen:	requests counted since @cfg was set (EVERY mode)
 */
struct adev_fault {
	spinlock_t lock;		/* protects cfg, seen */
	struct asyncdev_fault cfg;
	u64 seen;
};

/* Counters, in the order of the fields of struct asyncdev_stats. */
enum adev_stat {
	ADEV_STAT_BYTES_READ,
	ADEV_STAT_BYTES_WRITTEN,
	ADEV_STAT_READS,
	ADEV_STAT_WRITES,
	ADEV_STAT_ASYNC_QUEUED,
	ADEV_STAT_ASYNC_COMPLETED,
	ADEV_STAT_ASYNC_CANCELLED,
	ADEV_STAT_SIGNALS_SENT,
	ADEV_STAT_FIFO_LEVEL,		/* computed when read */
	ADEV_STAT_FIFO_HIGH_WATER,
	ADEV_STAT_IN_FLIGHT,
	ADEV_STAT_PRODUCER_RECORDS,
	ADEV_STAT_PRODUCER_OVERRUNS,
	ADEV_STAT_FAULTS_INJECTED,
	ADEV_NR_STATS
};

/* Per-CPU counters, indexed by enum adev_stat (see adev_stat_value). */
struct adev_stats_pcpu {
	u64 v[ADEV_NR_STATS];
};

/**
 * struct adev_fifo - the ring buffer behind /dev/asyncdev
 * @lock:	protects @tail, @len, @reserved, @behind, @readers, @writers
 *		and the state of every request on those lists, and the ring
 *		bytes an inline read or write (fifo.c) copies under it with
 *		page faults disabled; taken from process, softirq (producer)
 *		and aio-cancel (irqs off) context: irqsave
 * @read_mutex:	held by the one consumer copying out of the ring without
 *		@lock (the head reader), and by flush; the bytes it reads
 *		must not be discarded under it, so an inline read consumes
 *		only if it sees @read_mutex free under @lock
 * @buf:	@size bytes of ring storage (kvmalloc)
 * @pages:	the pages of @buf, from the one holding its first byte on;
 *		user copies go through them (fifo_copy_out), set at init
 * @size:	capacity (fifo_bytes)
 * @tail:	offset of the oldest byte
 * @len:	bytes stored
 * @readers:	read requests (sync and async) in arrival order; only the
 *		first one may consume
 * @writers:	write requests in arrival order; only the first one may
 *		store
 * @reserved:	bytes right after the @len stored ones that the head writer
 *		is copying user data into without @lock (the copy may fault)
 * @behind:	producer records stored after the reservation meanwhile; the
 *		writer's commit makes them visible
 * @rwait:	sleeping readers and pollers wait for data or their turn
 * @wwait:	sleeping writers and pollers wait for room or their turn
 * @fasync_mutex: serialises fifo_fasync's update of both lists below
 * @fasync_readers: SIGIO (POLL_IN) subscribers open for reading
 * @fasync_writers: SIGIO (POLL_OUT) subscribers open for writing; each
 *		list has fasync_helper's own locking
 * @work:	serves async requests that reached the head of a list
 * @producer:	hrtimer appending producer records (softirq)
 * @produce_hz:	producer rate; written under @lock
 * @produce_seq: next producer sequence number, under @lock
 * @high_water:	highest @len since the last statistics reset, under @lock
 */
struct adev_fifo {
	spinlock_t lock;		/* ring state and lists, see above */
	struct mutex read_mutex;	/* the consumer copying out */
	u8 *buf;
	struct page **pages;
	size_t size;
	size_t tail;
	size_t len;
	struct list_head readers;
	struct list_head writers;
	size_t reserved;
	size_t behind;
	wait_queue_head_t rwait;
	wait_queue_head_t wwait;
	struct mutex fasync_mutex;	/* both fasync lists, in fifo_fasync */
	struct fasync_struct *fasync_readers;
	struct fasync_struct *fasync_writers;
	struct work_struct work;
	struct hrtimer producer;
	u32 produce_hz;
	u64 produce_seq;
	size_t high_water;
};

/**
 * struct adev_node - one misc device node
 * @misc:	the misc device (name, fops, sysfs groups)
 * @kind:	ASYNCDEV_NODE_FIFO or ASYNCDEV_NODE_MEM
 * @engine:	timing simulation
 * @fault:	fault injection
 * @stats:	counters per CPU (this_cpu_add: no lock, any context)
 * @stats_base:	their sums at the last reset, under @cfg_mutex
 * @fifo:	FIFO state (FIFO node only)
 * @mem:	memory (mem node only, vmalloc'd, @mem_size bytes)
 * @mem_pages:	the pages of @mem, in order (looked up once at init)
 * @mem_size:	size of @mem
 * @bad:	bad ranges (mem node only)
 * @cfg_mutex:	serialises configuration changes (ioctl and sysfs) and
 *		statistics resets
 */
struct adev_node {
	struct miscdevice misc;
	u32 kind;
	struct adev_engine engine;
	struct adev_fault fault;
	struct adev_stats_pcpu __percpu *stats;
	u64 stats_base[ADEV_NR_STATS];
	struct adev_fifo fifo;
	u8 *mem;
	struct page **mem_pages;
	size_t mem_size;
	struct adev_bad bad;
	struct mutex cfg_mutex;		/* configuration changes */
};

static inline void adev_stat_add(struct adev_node *node, enum adev_stat stat,
				 s64 n)
{
	this_cpu_add(node->stats->v[stat], n);
}

/**
 * struct adev_user - async requests queued by one user, on both nodes
 * @hash:	entry in ctl.c's table of users, under its mutex
 * @uid:	the user (the opener's fsuid; a passed file stays charged to it)
 * @files:	open files charged to this user, under ctl.c's mutex
 * @queued:	requests allocated and not yet freed (max_user_queued)
 */
struct adev_user {
	struct hlist_node hash;
	kuid_t uid;
	unsigned int files;
	atomic_t queued;
};

/**
 * struct adev_file - per open file
 * @node:	the node
 * @user:	the user the file's requests are charged to
 * @queued:	requests allocated and not yet freed (max_queued)
 * @flush_gen:	bumped under engine->lock by every close (.flush) of the
 *		file: a stalled synchronous caller waits for it to change
 */
struct adev_file {
	struct adev_node *node;
	struct adev_user *user;
	atomic_t queued;
	unsigned int flush_gen;
};

/**
 * struct adev_qent - a place in a FIFO reader or writer list
 * @list:	entry on fifo->readers or fifo->writers, under fifo->lock
 * @req:	the async request, or NULL for a sleeping synchronous caller
 * @need:	bytes of data (reader) or room (writer) it needs to progress
 */
struct adev_qent {
	struct list_head list;
	struct adev_req *req;
	size_t need;
};

/*
 * States of an async request. SUBMITTING, QUEUED and ACTIVE change under
 * fifo->lock; the move to ENGINE happens under engine->lock.
 */
enum adev_req_state {
	ADEV_REQ_SUBMITTING,	/* read_iter/write_iter still setting it up */
	ADEV_REQ_QUEUED,	/* on a FIFO list, may be cancelled */
	ADEV_REQ_ACTIVE,	/* being served by the work item */
	ADEV_REQ_ENGINE,	/* owned by the engine */
};

/* How a request reached read_iter/write_iter (tracepoints, debugfs). */
enum adev_path {
	ADEV_PATH_SYNC,		/* read(2), write(2), preadv2 ... */
	ADEV_PATH_AIO,		/* io_submit (fs/aio) */
	ADEV_PATH_URING,	/* io_uring, issued inline (IOCB_NOWAIT) */
	ADEV_PATH_IOWQ,		/* io_uring's blocking retry from io-wq */
};

static inline u8 adev_req_path(struct kiocb *iocb)
{
	if (is_sync_kiocb(iocb))
		return ADEV_PATH_SYNC;
	if (adev_kiocb_is_aio(iocb))
		return ADEV_PATH_AIO;
	return current->flags & PF_IO_WORKER ? ADEV_PATH_IOWQ :
					       ADEV_PATH_URING;
}

/**
 * struct adev_submit - what the asyncdev_submit event gave one call
 * @id:	its request identifier, 0 while the event is disabled
 * @t0:	its submission time (ktime_get_ns), 0 while disabled
 *
 * A local of read_iter/write_iter, written only by the tracepoint, so that
 * a disabled event computes nothing.
 */
struct adev_submit {
	u64 id;
	u64 t0;
};

/**
 * struct adev_req - an asynchronous request
 * @kiocb:	the caller's kiocb; ->private points back here
 * @file:	per-file state (queued-request accounting)
 * @node:	the node the request is for
 * @q:		its place in a FIFO list (state QUEUED or ACTIVE)
 * @list:	entry on the engine's waiting or stalled list, under
 *		engine->lock
 * @timer:	service-time timer; also used to complete it "now"
 * @state:	enum adev_req_state, see there for its locks
 * @in_service:	holds an engine channel until its timer fires (engine->lock)
 * @cancellable: kiocb_set_cancel_fn() was called (owner only)
 * @cancel_pending: a cancel arrived while SUBMITTING or ACTIVE; set under
 *		fifo->lock (FIFO) and engine->lock, read under either: the
 *		context that moves the request on completes it at once
 * @cancelled:	completed by cancellation (for the statistics)
 * @write:	true for a write
 * @res:	result passed to ki_complete (bytes or -errno)
 * @service_ns:	its service time, drawn at submission
 * @done:	bytes moved so far (FIFO)
 * @iter:	our own copy of the caller's iterator (FIFO, aio only)
 * @iov:	the iovec array @iter points into (from dup_iter)
 * @mm:		the submitter's mm, pinned with mmgrab while queued in the
 *		FIFO (aio only); dropped by the work item once served
 * @serve:	entry on engine->serving while @in_service (engine->lock)
 * @id:		request identifier of the tracepoints and debugfs (see
 *		adev_req_track); the following four are set once before the
 *		request is visible anywhere, then only read
 * @submit_ns:	submission time (ktime_get_ns)
 * @bytes:	bytes asked for at submission
 * @pid:	submitting process (tgid)
 * @path:	enum adev_path
 */
struct adev_req {
	struct kiocb *kiocb;
	struct adev_file *file;
	struct adev_node *node;
	struct adev_qent q;
	struct list_head list;
	struct hrtimer timer;
	enum adev_req_state state;
	bool in_service;
	bool cancellable;
	bool cancel_pending;
	bool cancelled;
	bool write;
	long res;
	u64 service_ns;
	size_t done;
	struct iov_iter iter;
	const void *iov;
	struct mm_struct *mm;
	struct list_head serve;
	u64 id;
	u64 submit_ns;
	size_t bytes;
	pid_t pid;
	u8 path;
};

/**
 * struct adev_rw_ops - what a node adds to adev_rw (rw.h)
 * @validate:	optional; the request's arguments, checked before fault
 *		injection (a device never sees an invalid request): 0 or
 *		-errno
 * @check:	optional; failures the device itself reports before any
 *		choice is drawn for the request (bad ranges): 0 or -errno
 * @serve:	moves the data of a request that does not stall, given the
 *		service time drawn for it; returns what read_iter/write_iter
 *		return
 */
struct adev_rw_ops {
	int (*validate)(struct kiocb *iocb, const struct iov_iter *iter);
	int (*check)(struct kiocb *iocb, size_t count, bool write);
	ssize_t (*serve)(struct adev_file *af, struct kiocb *iocb,
			 struct iov_iter *iter, bool write, u64 service_ns,
			 const struct adev_submit *sub);
};

extern struct workqueue_struct *adev_wq;
extern unsigned int adev_max_queued;
extern unsigned int adev_max_user_queued;

/* engine.c */
void adev_engine_init(struct adev_engine *e);
void adev_engine_set(struct adev_engine *e, bool timing, u64 latency_ns,
		     u64 jitter_ns, u32 channels);
int adev_engine_sleep(struct adev_node *node, u64 ns);
void adev_req_set_cancel(struct adev_req *req, kiocb_cancel_fn *cancel);
void adev_engine_submit(struct adev_req *req, long res);
int adev_engine_cancel_req(struct adev_req *req);
int adev_engine_cancel(struct kiocb *iocb);
void adev_req_complete_now(struct adev_req *req, long res);
struct adev_req *adev_req_alloc(struct adev_file *af, struct kiocb *iocb,
				bool write);
void adev_req_free(struct adev_req *req);
int adev_fault_check(struct adev_node *node);
int adev_req_cache_init(void);
void adev_req_cache_exit(void);
ssize_t adev_engine_stall(struct adev_file *af, struct kiocb *iocb,
			  const struct iov_iter *iter, bool write,
			  const struct adev_submit *sub);
int adev_flush(struct file *file, fl_owner_t id);

/* faults.c */
u64 adev_prng_next(struct adev_engine *e);
void adev_engine_draw(struct adev_node *node, bool write, size_t count,
		      struct adev_draw *d);
ssize_t adev_rw_armed(struct kiocb *iocb, struct iov_iter *iter, bool write,
		      const struct adev_rw_ops *ops,
		      const struct adev_submit *sub);
void adev_engine_reseed(struct adev_engine *e, u64 seed);
int adev_set_latency(struct adev_node *node, const struct asyncdev_latency *l);
int adev_get_latency(struct adev_node *node, struct asyncdev_latency *l);
int adev_set_seed(struct adev_node *node, const struct asyncdev_seed *s);
void adev_get_seed(struct adev_node *node, struct asyncdev_seed *s);
int adev_set_stall(struct adev_node *node, const struct asyncdev_stall *st);
void adev_get_stall(struct adev_node *node, struct asyncdev_stall *st);
int adev_set_short(struct adev_node *node, const struct asyncdev_short *sh);
void adev_get_short(struct adev_node *node, struct asyncdev_short *sh);
int adev_bad_check(struct adev_node *node, u64 pos, size_t n, bool write);
void adev_bad_written(struct adev_node *node, u64 pos, size_t n);
int adev_bad_op(struct adev_node *node, const struct asyncdev_badblocks *b);
int adev_bad_list(struct adev_node *node,
		  struct asyncdev_badblocks_list *l);
ssize_t adev_bad_show(struct adev_node *node, char *buf);
void adev_bad_init(struct adev_node *node);
void adev_bad_exit(struct adev_node *node);
extern u64 adev_seed;

/* fifo.c */
int adev_fifo_init(struct adev_node *node, size_t size);
void adev_fifo_exit(struct adev_node *node);
extern const struct file_operations adev_fifo_fops;
void adev_fifo_flush(struct adev_node *node);
void adev_fifo_set_produce_hz(struct adev_node *node, u32 hz);
size_t adev_fifo_level(struct adev_node *node);
size_t adev_fifo_high_water(struct adev_node *node);
void adev_fifo_reset_high_water(struct adev_node *node);

/* trace.c */
u64 adev_new_id(void);
void adev_req_track(struct adev_req *req, const struct adev_submit *sub,
		    const struct iov_iter *iter);
unsigned int adev_fasync_count(struct fasync_struct **fa);

/* debugfs.c */
void adev_debugfs_init(struct adev_node *nodes, unsigned int n);
void adev_debugfs_exit(void);

/* mem.c */
int adev_mem_init(struct adev_node *node, size_t size);
void adev_mem_exit(struct adev_node *node);
extern const struct file_operations adev_mem_fops;

/* ctl.c */
u64 adev_stat_value(struct adev_node *node, enum adev_stat stat);
long adev_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
extern const struct attribute_group *adev_groups[];
void adev_ctl_init(void);
int adev_open_common(struct inode *inode, struct file *file);
int adev_release_common(struct inode *inode, struct file *file);

static inline struct adev_node *adev_node_of(struct file *file)
{
	return ((struct adev_file *)file->private_data)->node;
}

#endif /* ASYNCDEV_H */
