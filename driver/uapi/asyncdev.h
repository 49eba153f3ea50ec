/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * asyncdev userspace API: ioctls, control structures and the producer
 * record layout. Usable unchanged from C and C++ (kernel and userspace).
 *
 * Nodes:
 *   /dev/asyncdev  a FIFO with pipe semantics (stream, no seeking)
 *   /dev/asyncmem  seekable memory of mem_bytes bytes
 *
 * Every structure has a fixed size that is encoded in its ioctl number;
 * a future layout gets a new number. Reserved fields must be zero on input
 * (-EINVAL otherwise) and are zero on output.
 */
#ifndef _UAPI_LINUX_ASYNCDEV_H
#define _UAPI_LINUX_ASYNCDEV_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define ASYNCDEV_ABI_VERSION	1

/* Upper bounds enforced by ASYNCDEV_IOC_SET_CONFIG and sysfs. */
#define ASYNCDEV_MAX_LATENCY_NS	1000000000ULL	/* 1 s */
#define ASYNCDEV_MAX_JITTER_NS	1000000000ULL	/* 1 s */
#define ASYNCDEV_MAX_CHANNELS	4096
#define ASYNCDEV_MAX_PRODUCE_HZ	100000

/**
 * struct asyncdev_config - simulated device settings of one node
 * @latency_ns:	service time of each request, in nanoseconds
 * @jitter_ns:	uniform random extra service time in [0, jitter_ns]
 * @channels:	requests in service at once (1..ASYNCDEV_MAX_CHANNELS)
 * @produce_hz:	producer records per second, 0 = off (FIFO node only;
 *		must be 0 on /dev/asyncmem)
 * @reserved:	must be zero
 */
struct asyncdev_config {
	__u64 latency_ns;
	__u64 jitter_ns;
	__u32 channels;
	__u32 produce_hz;
	__u64 reserved[4];
};

/* asyncdev_fault.error must be below this: the kernel's own are 512 and up. */
#define ASYNCDEV_FAULT_ERRNO_LIMIT	512

/* Values of asyncdev_fault.mode. */
#define ASYNCDEV_FAULT_OFF	0	/* no injection */
#define ASYNCDEV_FAULT_NEXT	1	/* fail the next @count requests */
#define ASYNCDEV_FAULT_EVERY	2	/* fail every @count-th request */

/**
 * struct asyncdev_fault - fault injection on one node
 * @mode:	ASYNCDEV_FAULT_*
 * @error:	positive errno the failed requests complete with (1..511;
 *		512 and above are kernel-internal, refused with EINVAL)
 * @count:	see @mode; must be non-zero unless mode is OFF
 * @reserved:	must be zero
 *
 * Injection applies to read and write requests, sync and async, at
 * submission: a failed request moves no data.
 */
struct asyncdev_fault {
	__u32 mode;
	__u32 error;
	__u64 count;
	__u64 reserved[2];
};

/**
 * struct asyncdev_stats - counters of one node since load or last reset
 * @bytes_read:		bytes moved to userspace
 * @bytes_written:	bytes moved from userspace
 * @reads:		read requests completed successfully
 * @writes:		write requests completed successfully
 * @async_queued:	async requests that returned -EIOCBQUEUED
 * @async_completed:	async requests completed through ki_complete
 * @async_cancelled:	async requests completed by cancellation
 * @signals_sent:	SIGIO notifications raised (kill_fasync calls)
 * @fifo_level:		bytes in the FIFO now (not reset)
 * @fifo_high_water:	largest FIFO level seen
 * @in_flight:		requests in the device now (not reset)
 * @producer_records:	records the producer appended
 * @producer_overruns:	records the producer dropped on a full FIFO
 * @faults_injected:	requests failed by fault injection
 * @reserved:		zero
 */
struct asyncdev_stats {
	__u64 bytes_read;
	__u64 bytes_written;
	__u64 reads;
	__u64 writes;
	__u64 async_queued;
	__u64 async_completed;
	__u64 async_cancelled;
	__u64 signals_sent;
	__u64 fifo_level;
	__u64 fifo_high_water;
	__u64 in_flight;
	__u64 producer_records;
	__u64 producer_overruns;
	__u64 faults_injected;
	__u64 reserved[4];
};

/**
 * struct asyncdev_info - static facts about the node (read-only)
 * @abi_version:	ASYNCDEV_ABI_VERSION of the driver
 * @node:		ASYNCDEV_NODE_FIFO or ASYNCDEV_NODE_MEM
 * @capacity:		FIFO capacity (fifo_bytes) or memory size (mem_bytes)
 * @record_size:	sizeof(struct asyncdev_record)
 * @reserved:		zero
 */
struct asyncdev_info {
	__u32 abi_version;
	__u32 node;
	__u64 capacity;
	__u32 record_size;
	__u32 reserved[5];
};

#define ASYNCDEV_NODE_FIFO	1
#define ASYNCDEV_NODE_MEM	2

/*
 * A producer record, appended atomically to the FIFO. payload[i] is
 * (__u8)(seq + i). Records are little-endian host order (same machine).
 */
#define ASYNCDEV_RECORD_MAGIC	0x41535944	/* "ASYD" */
struct asyncdev_record {
	__u32 magic;
	__u32 size;		/* sizeof(struct asyncdev_record) */
	__u64 seq;		/* 0, 1, 2, ... since the producer started;
				 * a record dropped on a full FIFO (an
				 * overrun) leaves a gap
				 */
	__u64 timestamp_ns;	/* CLOCK_MONOTONIC when appended */
	__u8 payload[40];
};

#define ASYNCDEV_IOC_MAGIC	0xad

/* All nodes. */
#define ASYNCDEV_IOC_GET_INFO	_IOR(ASYNCDEV_IOC_MAGIC, 0x00, struct asyncdev_info)
#define ASYNCDEV_IOC_GET_CONFIG	_IOR(ASYNCDEV_IOC_MAGIC, 0x01, struct asyncdev_config)
/* Needs CAP_SYS_ADMIN. */
#define ASYNCDEV_IOC_SET_CONFIG	_IOW(ASYNCDEV_IOC_MAGIC, 0x02, struct asyncdev_config)
#define ASYNCDEV_IOC_GET_STATS	_IOR(ASYNCDEV_IOC_MAGIC, 0x03, struct asyncdev_stats)
/* Needs the file open for writing. */
#define ASYNCDEV_IOC_RESET_STATS _IO(ASYNCDEV_IOC_MAGIC, 0x04)
/* Discard FIFO contents (-ENOTTY on /dev/asyncmem). Needs FMODE_WRITE. */
#define ASYNCDEV_IOC_FLUSH	_IO(ASYNCDEV_IOC_MAGIC, 0x05)
/* Needs CAP_SYS_ADMIN. */
#define ASYNCDEV_IOC_SET_FAULT	_IOW(ASYNCDEV_IOC_MAGIC, 0x06, struct asyncdev_fault)
#define ASYNCDEV_IOC_GET_FAULT	_IOR(ASYNCDEV_IOC_MAGIC, 0x07, struct asyncdev_fault)

#endif /* _UAPI_LINUX_ASYNCDEV_H */
