// SPDX-License-Identifier: MIT
// The tracefs side of asyncdev-trace, in C: <tracefs.h> does not compile as
// C++. One tracefs instance ("asyncdev-trace") with every asyncdev event
// enabled, CLOCK_MONOTONIC timestamps, read back from its binary ring
// buffer and decoded by libtraceevent.
#ifndef ASYNCDEV_TRACE_CAPTURE_H
#define ASYNCDEV_TRACE_CAPTURE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One decoded event: its name without "asyncdev_", the task it ran in,
/// and its numeric fields (common_* left out), signed values sign-extended.
struct adev_trace_event {
	unsigned long long ts;
	const char *name;
	int pid;
	int nfields;
	const char *const *keys;
	const long long *vals;
	long long missed;	/* events the buffer dropped before this one */
};

/// Creates the instance and enables the events, tracing off. Returns 0, or
/// -1 with a message in @err.
int adev_trace_open(unsigned long buffer_kb, char *err, size_t errlen);
int adev_trace_on(void);
int adev_trace_off(void);
/// Calls @cb for every recorded event; returns 0 or -1.
int adev_trace_read(void (*cb)(void *ctx, const struct adev_trace_event *ev), void *ctx);
/// Disables the events and removes the instance (safe to call twice).
void adev_trace_close(void);

#ifdef __cplusplus
}
#endif

#endif
