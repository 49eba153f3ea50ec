// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/asyncdev/<node>/requests: every request the node holds
 * (on a FIFO list, waiting for an engine channel, in service, or stalled
 * by the stall knob; stalled synchronous callers are not listed), with its
 * state, age, submitter, size and path: what someone debugging a hung
 * program needs first.
 *
 * The lists are walked under the locks that protect them (asyncdev.h), in
 * their usual order, fifo->lock then engine->lock, with interrupts off;
 * seq_printf only formats into the seq_file buffer, which never sleeps. A
 * buffer that fills up makes seq_file run the whole walk again with a
 * larger one, and at most ADEV_DEBUGFS_MAX lines per list keep the time
 * spent with interrupts off bounded.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "asyncdev.h"

#define ADEV_DEBUGFS_MAX	4096

static struct dentry *adev_debugfs_root;

static const char *const adev_path_names[] = {
	[ADEV_PATH_SYNC]	= "sync",
	[ADEV_PATH_AIO]		= "io_submit",
	[ADEV_PATH_URING]	= "io_uring",
	[ADEV_PATH_IOWQ]	= "io-wq",
};

static void adev_show_req(struct seq_file *m, const struct adev_req *req,
			  const char *state, u64 now)
{
	s64 left = -1;

	if (req->in_service)
		left = ktime_to_ns(ktime_sub(hrtimer_get_softexpires(&req->timer),
					     ktime_get()));
	seq_printf(m, "%-8llu %-10s %-5s %-9s %7d %10zu %10zu %12llu %12lld\n",
		   req->id, state, req->write ? "write" : "read",
		   adev_path_names[req->path], req->pid, req->bytes, req->done,
		   div_u64(now - req->submit_ns, NSEC_PER_USEC),
		   left < 0 ? -1 : div_s64(left, NSEC_PER_USEC));
}

/* A FIFO list: async requests, and sleeping synchronous callers. */
static void adev_show_fifo_list(struct seq_file *m, struct list_head *list,
				bool write, u64 now)
{
	struct adev_qent *q;
	unsigned int n = 0;

	list_for_each_entry(q, list, list) {
		if (++n > ADEV_DEBUGFS_MAX)
			continue;
		if (q->req)
			adev_show_req(m, q->req,
				      q->req->state == ADEV_REQ_ACTIVE ?
				      "active" : "queued", now);
		else
			seq_printf(m, "%-8s %-10s %-5s %-9s %7s %10zu\n", "-",
				   "sync-wait", write ? "write" : "read",
				   "sync", "-", q->need);
	}
	if (n > ADEV_DEBUGFS_MAX)
		seq_printf(m, "# ... and %u more\n", n - ADEV_DEBUGFS_MAX);
}

static void adev_show_engine_list(struct seq_file *m, struct list_head *list,
				  const char *state, bool serving, u64 now)
{
	struct adev_req *req;
	unsigned int n = 0;

	if (serving) {
		list_for_each_entry(req, list, serve)
			if (++n <= ADEV_DEBUGFS_MAX)
				adev_show_req(m, req, "service", now);
	} else {
		list_for_each_entry(req, list, list)
			if (++n <= ADEV_DEBUGFS_MAX)
				adev_show_req(m, req, state, now);
	}
	if (n > ADEV_DEBUGFS_MAX)
		seq_printf(m, "# ... and %u more\n", n - ADEV_DEBUGFS_MAX);
}

static unsigned int adev_count(struct list_head *list)
{
	struct list_head *p;
	unsigned int n = 0;

	list_for_each(p, list)
		n++;
	return n;
}

/* Under engine->lock, and fifo->lock for the FIFO node, irqs off. */
static void adev_show_node(struct seq_file *m, struct adev_node *node)
{
	struct adev_engine *e = &node->engine;
	struct adev_fifo *f = &node->fifo;
	bool fifo = node->kind == ASYNCDEV_NODE_FIFO;
	u64 now = ktime_get_ns();

	seq_printf(m, "# %s: read_base_ns %llu write_base_ns %llu channels %u busy %u (sync callers %u)",
		   node->misc.name, e->lat[0].base_ns, e->lat[1].base_ns,
		   READ_ONCE(e->channels), e->busy,
		   e->busy - adev_count(&e->serving));
	if (fifo)
		seq_printf(m, " level %zu/%zu", f->len, f->size);
	seq_puts(m, "\n# id     state      rw    path          pid      bytes       done       age_us  svc_left_us\n");
	if (fifo) {
		adev_show_fifo_list(m, &f->readers, false, now);
		adev_show_fifo_list(m, &f->writers, true, now);
	}
	adev_show_engine_list(m, &e->waiting, "chan-wait", false, now);
	adev_show_engine_list(m, &e->serving, "service", true, now);
	adev_show_engine_list(m, &e->stalled, "stalled", false, now);
}

static int adev_requests_show(struct seq_file *m, void *v)
{
	struct adev_node *node = m->private;
	struct adev_engine *e = &node->engine;
	struct adev_fifo *f = &node->fifo;
	unsigned long flags;

	if (node->kind == ASYNCDEV_NODE_FIFO) {
		spin_lock_irqsave(&f->lock, flags);
		spin_lock(&e->lock);
		adev_show_node(m, node);
		spin_unlock(&e->lock);
		spin_unlock_irqrestore(&f->lock, flags);
	} else {
		spin_lock_irqsave(&e->lock, flags);
		adev_show_node(m, node);
		spin_unlock_irqrestore(&e->lock, flags);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(adev_requests);

/* Errors are not fatal: the module works without its debugfs files. */
void adev_debugfs_init(struct adev_node *nodes, unsigned int n)
{
	struct dentry *dir;
	unsigned int i;

	adev_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
	for (i = 0; i < n; i++) {
		dir = debugfs_create_dir(nodes[i].misc.name, adev_debugfs_root);
		debugfs_create_file("requests", 0400, dir, &nodes[i],
				    &adev_requests_fops);
	}
}

/* Waits for readers of the files still inside adev_requests_show. */
void adev_debugfs_exit(void)
{
	debugfs_remove_recursive(adev_debugfs_root);
}
