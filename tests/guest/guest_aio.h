/* libaio helpers shared by the guest tests. */
#ifndef ASYNCDEV_GUEST_AIO_H
#define ASYNCDEV_GUEST_AIO_H

#include "guest.h"

#include <libaio.h>

static inline io_context_t ctx_new(int n)
{
	io_context_t ctx = 0;

	assert_int_equal(io_setup(n, &ctx), 0);
	return ctx;
}

/* io_getevents(min, max) for up to @ms milliseconds, EINTR retried. */
static inline int get_events(io_context_t ctx, int min, int max,
			     struct io_event *ev, int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	int r;

	do {
		r = io_getevents(ctx, min, max, ev, &ts);
	} while (r == -EINTR);
	return r;
}

#endif
