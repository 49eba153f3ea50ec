/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel APIs asyncdev uses that changed between 5.15 and today. Keep
 * every version check here, each with the release that made it necessary.
 * Tested (guest suite): Debian's 6.1 and 6.12. Compiled only: the 6.13+
 * branches below, written against the upstream changes they name.
 *
 * Differences handled without a version check:
 *  - .llseek: no_llseek was removed in 6.12; a stream (stream_open) leaves
 *    .llseek NULL, which every version answers with -ESPIPE.
 *  - alloc_workqueue: 6.17 wants WQ_UNBOUND or WQ_PERCPU explicit (the
 *    default becomes unbound); asyncdev passes WQ_UNBOUND, valid everywhere.
 */
#ifndef ASYNCDEV_COMPAT_H
#define ASYNCDEV_COMPAT_H

#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/version.h>

/* ki_complete lost its third argument (res2) in 5.16. */
static inline void adev_ki_complete(struct kiocb *iocb, long res)
{
#if KERNEL_VERSION(5, 16, 0) > LINUX_VERSION_CODE
	iocb->ki_complete(iocb, res, 0);
#else
	iocb->ki_complete(iocb, res);
#endif
}

/*
 * True for a read/write kiocb submitted by io_submit(), the only kind that
 * may be queued indefinitely: fs/aio can cancel it (kiocb_set_cancel_fn).
 * IOCB_AIO_RW appeared in 6.8 and was backported to 6.1.80 and 6.6.19;
 * before it, kiocb_set_cancel_fn() on an io_uring kiocb corrupts memory and
 * the two cannot be told apart, so nothing is treated as aio: such kernels
 * serve io_submit on an empty FIFO by blocking, as a synchronous read.
 */
static inline bool adev_kiocb_is_aio(const struct kiocb *iocb)
{
#ifdef IOCB_AIO_RW
	return iocb->ki_flags & IOCB_AIO_RW;
#else
	return false;
#endif
}

/*
 * O_DIRECT: since 5.19 open() and F_SETFL accept it on a file whose f_mode
 * has FMODE_CAN_ODIRECT (set by ->open); before, they wanted
 * a_ops->direct_IO, which a misc device lacks, so O_DIRECT stays refused
 * (EINVAL) there.
 */
static inline void adev_allow_odirect(struct file *file)
{
#ifdef FMODE_CAN_ODIRECT
	file->f_mode |= FMODE_CAN_ODIRECT;
#endif
}

/*
 * hrtimer_setup() replaced hrtimer_init() plus the ->function assignment in
 * 6.13; hrtimer_init() was removed in 6.15.
 */
static inline void adev_hrtimer_setup(struct hrtimer *timer,
				      enum hrtimer_restart (*fn)(struct hrtimer *),
				      clockid_t clock, enum hrtimer_mode mode)
{
#if KERNEL_VERSION(6, 13, 0) > LINUX_VERSION_CODE
	hrtimer_init(timer, clock, mode);
	timer->function = fn;
#else
	hrtimer_setup(timer, fn, clock, mode);
#endif
}

#endif /* ASYNCDEV_COMPAT_H */
