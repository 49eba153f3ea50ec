// SPDX-License-Identifier: MIT
// See trace_capture.h.
#include "trace_capture.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event-parse.h>
#include <tracefs.h>

#define MAX_FIELDS 32

static struct tracefs_instance *inst;
static struct tep_handle *tep;

int adev_trace_open(unsigned long buffer_kb, char *err, size_t errlen)
{
	static const char *const systems[] = { "asyncdev", NULL };
	char kb[32];

	if (!tracefs_tracing_dir()) {
		snprintf(err, errlen, "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)");
		return -1;
	}
	tep = tracefs_local_events_system(NULL, systems);
	if (!tep || !tep_find_event_by_name(tep, "asyncdev", "asyncdev_submit")) {
		snprintf(err, errlen, "no asyncdev events in tracefs: is the asyncdev module loaded, and are you root?");
		return -1;
	}
	inst = tracefs_instance_create("asyncdev-trace");
	if (!inst) {
		snprintf(err, errlen, "cannot create the tracefs instance asyncdev-trace: %s", strerror(errno));
		return -1;
	}
	tracefs_trace_off(inst);
	/* CLOCK_MONOTONIC, the clock of asyncdev records and of the tools. */
	if (tracefs_instance_file_write(inst, "trace_clock", "mono") < 0) {
		snprintf(err, errlen, "cannot set trace_clock=mono");
		return -1;
	}
	snprintf(kb, sizeof(kb), "%lu", buffer_kb);
	if (tracefs_instance_file_write(inst, "buffer_size_kb", kb) < 0) {
		snprintf(err, errlen, "cannot set buffer_size_kb=%s", kb);
		return -1;
	}
	tracefs_instance_file_clear(inst, "trace");
	if (tracefs_event_enable(inst, "asyncdev", NULL) < 0) {
		snprintf(err, errlen, "cannot enable the asyncdev events: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int adev_trace_on(void)
{
	return tracefs_trace_on(inst);
}

int adev_trace_off(void)
{
	return tracefs_trace_off(inst);
}

struct reader {
	void (*cb)(void *ctx, const struct adev_trace_event *ev);
	void *ctx;
};

static int on_record(struct tep_event *event, struct tep_record *rec, int cpu, void *arg)
{
	struct reader *r = arg;
	const char *keys[MAX_FIELDS];
	long long vals[MAX_FIELDS];
	struct adev_trace_event ev = { 0 };
	struct tep_format_field *f;
	int n = 0;

	(void)cpu;
	if (strncmp(event->name, "asyncdev_", 9))
		return 0;
	for (f = event->format.fields; f && n < MAX_FIELDS; f = f->next) {
		unsigned long long v;
		long long sv;

		if (tep_read_number_field(f, rec->data, &v))
			continue;
		sv = (long long)v;
		if ((f->flags & TEP_FIELD_IS_SIGNED) && f->size < 8) {
			int shift = 64 - 8 * f->size;

			sv = (long long)(v << shift) >> shift;
		}
		keys[n] = f->name;
		vals[n++] = sv;
	}
	ev.ts = rec->ts;
	ev.name = event->name + 9;
	ev.pid = tep_data_pid(tep, rec);
	ev.nfields = n;
	ev.keys = keys;
	ev.vals = vals;
	ev.missed = rec->missed_events > 0 ? rec->missed_events : 0;
	r->cb(r->ctx, &ev);
	return 0;
}

int adev_trace_read(void (*cb)(void *ctx, const struct adev_trace_event *ev), void *ctx)
{
	struct reader r = { cb, ctx };

	return tracefs_iterate_raw_events(tep, inst, NULL, 0, on_record, &r) < 0 ? -1 : 0;
}

void adev_trace_close(void)
{
	if (inst) {
		tracefs_trace_off(inst);
		tracefs_event_disable(inst, "asyncdev", NULL);
		tracefs_instance_destroy(inst);
		tracefs_instance_free(inst);
		inst = NULL;
	}
	if (tep) {
		tep_free(tep);
		tep = NULL;
	}
}
