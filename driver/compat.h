/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel APIs asyncdev uses that changed between 5.15 and 6.12.
 * Keep every version check here.
 */
#ifndef ASYNCDEV_COMPAT_H
#define ASYNCDEV_COMPAT_H

#include <linux/fs.h>
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

#endif /* ASYNCDEV_COMPAT_H */
