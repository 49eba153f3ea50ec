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

/*
 * Misbehaviour (ABI v1 additions: new ioctl numbers, v1 programs are not
 * affected). Every SET needs CAP_SYS_ADMIN. Every random choice comes from
 * one PRNG per node, seeded by ASYNCDEV_IOC_SET_SEED (or the seed module
 * parameter): the same seed and the same sequence of requests give the same
 * latencies, stalls and short transfers.
 */

/* Directions, as a bit mask. */
#define ASYNCDEV_DIR_READ	1
#define ASYNCDEV_DIR_WRITE	2
#define ASYNCDEV_DIR_BOTH	(ASYNCDEV_DIR_READ | ASYNCDEV_DIR_WRITE)

/* Probabilities are in parts per million. */
#define ASYNCDEV_PPM		1000000

/* Upper bounds of struct asyncdev_latency. */
#define ASYNCDEV_MAX_SERVICE_NS	10000000000ULL	/* 10 s, also the cap */
#define ASYNCDEV_MAX_TAIL_MULT	1000

/* Values of asyncdev_latency.dist. */
#define ASYNCDEV_LAT_FIXED	0	/* base_ns */
#define ASYNCDEV_LAT_UNIFORM	1	/* base_ns + uniform [0, spread_ns] */
#define ASYNCDEV_LAT_EXP	2	/* base_ns + exponential, mean spread_ns */

/**
 * struct asyncdev_latency - service time distribution of one direction
 * @dir:	SET: ASYNCDEV_DIR_READ, _WRITE or _BOTH; GET: _READ or _WRITE
 * @dist:	ASYNCDEV_LAT_*
 * @base_ns:	fixed part (0..ASYNCDEV_MAX_SERVICE_NS)
 * @spread_ns:	uniform width or exponential mean (0..ASYNCDEV_MAX_SERVICE_NS;
 *		must be 0 for FIXED)
 * @tail_ppm:	probability that a service time is multiplied by @tail_mult
 * @tail_mult:	1..ASYNCDEV_MAX_TAIL_MULT (0 is read as 1 when @tail_ppm is 0)
 * @reserved:	must be zero
 *
 * A service time is capped at ASYNCDEV_MAX_SERVICE_NS. ASYNCDEV_IOC_SET_CONFIG
 * sets both directions to UNIFORM(latency_ns, jitter_ns) without a tail;
 * ASYNCDEV_IOC_GET_CONFIG reports the read direction's base and spread.
 */
struct asyncdev_latency {
	__u32 dir;
	__u32 dist;
	__u64 base_ns;
	__u64 spread_ns;
	__u32 tail_ppm;
	__u32 tail_mult;
	__u64 reserved[2];
};

/**
 * struct asyncdev_seed - the PRNG seed of a node
 * @seed:	any value; setting it restarts the PRNG and the every-N
 *		counters of stalls and short transfers
 * @reserved:	must be zero
 */
struct asyncdev_seed {
	__u64 seed;
	__u64 reserved[3];
};

/**
 * struct asyncdev_trigger - which requests a misbehaviour hits
 * @dirs:	ASYNCDEV_DIR_* mask of the directions concerned; 0 = off
 * @ppm:	probability per request, parts per million (0..ASYNCDEV_PPM)
 * @every:	every @every-th request of those directions (0 = not by count)
 *
 * A request is hit if it is the @every-th or wins the @ppm draw; with
 * @dirs set, @every or @ppm must be non-zero.
 */
struct asyncdev_trigger {
	__u32 dirs;
	__u32 ppm;
	__u64 every;
};

/**
 * struct asyncdev_stall - requests that do not complete on their own
 * @when:	which requests stall
 * @reserved:	must be zero
 *
 * A stalled request moves no data. An io_submit request completes with
 * -ECANCELED when io_cancel or io_destroy cancels it, -EIO when its file is
 * closed; a blocking call (read(2), io_uring's worker) returns when a
 * signal or io_uring's cancel interrupts it, or -EIO when the file is
 * closed. A call that must not block (O_NONBLOCK, RWF_NOWAIT) gets -EAGAIN.
 * While stalls are on, io_uring requests of those directions are served by
 * io_uring's worker, where they can be cancelled. A held request keeps its
 * file, hence the module, busy: rmmod is refused, never left hanging.
 */
struct asyncdev_stall {
	struct asyncdev_trigger when;
	__u64 reserved[2];
};

/**
 * struct asyncdev_short - transfers that move fewer bytes than asked
 * @when:	which requests are shortened
 * @bytes:	move at most this many bytes, or
 * @permille:	move this fraction of the request (1..999), at least 1 byte
 * @reserved0:	must be zero
 * @reserved:	must be zero
 *
 * With @when set, exactly one of @bytes and @permille is non-zero. A request
 * of one byte, or no larger than @bytes, is not shortened. A FIFO write that
 * was shortened is still stored in one piece, never interleaved.
 */
struct asyncdev_short {
	struct asyncdev_trigger when;
	__u64 bytes;
	__u32 permille;
	__u32 reserved0;
	__u64 reserved[2];
};

/* asyncdev_badblocks.op */
#define ASYNCDEV_BAD_ADD	1	/* mark [start, end] bad */
#define ASYNCDEV_BAD_CLEAR	2	/* mark [start, end] good */
#define ASYNCDEV_BAD_CLEAR_ALL	3	/* no bad byte left */
#define ASYNCDEV_BAD_SET_WRITES	4	/* writes := ASYNCDEV_BAD_WRITES_* */

/* What a write overlapping a bad range does. */
#define ASYNCDEV_BAD_WRITES_PASS	0	/* succeeds, the range stays bad */
#define ASYNCDEV_BAD_WRITES_FAIL	1	/* fails with EIO, as a read */
#define ASYNCDEV_BAD_WRITES_CLEAR	2	/* succeeds and clears what it wrote */

/* Most ranges a node keeps (ADD beyond it: ENOSPC). */
#define ASYNCDEV_BAD_MAX_RANGES		1024

/**
 * struct asyncdev_badblocks - change the bad ranges of /dev/asyncmem
 * @op:		ASYNCDEV_BAD_*
 * @writes:	ASYNCDEV_BAD_WRITES_* for SET_WRITES, else 0
 * @start:	first byte of the range (ADD, CLEAR)
 * @end:	last byte of the range, inclusive, below the device size
 * @reserved:	must be zero
 *
 * A read (and with WRITES_FAIL a write) that touches a bad byte fails with
 * EIO and moves nothing. Adjacent and overlapping ranges merge.
 */
struct asyncdev_badblocks {
	__u32 op;
	__u32 writes;
	__u64 start;
	__u64 end;
	__u64 reserved[2];
};

/**
 * struct asyncdev_badblocks_list - read the bad ranges of /dev/asyncmem
 * @ranges:	user pointer to room for @max pairs of __u64 (start, end)
 * @max:	pairs @ranges has room for (may be 0)
 * @count:	out: ranges in the list (the first min(count, max) copied)
 * @writes:	out: ASYNCDEV_BAD_WRITES_*
 * @reserved0:	must be zero
 * @reserved:	must be zero
 */
struct asyncdev_badblocks_list {
	__u64 ranges;
	__u32 max;
	__u32 count;
	__u32 writes;
	__u32 reserved0;
	__u64 reserved[2];
};

#define ASYNCDEV_IOC_SET_LATENCY _IOW(ASYNCDEV_IOC_MAGIC, 0x08, struct asyncdev_latency)
#define ASYNCDEV_IOC_GET_LATENCY _IOWR(ASYNCDEV_IOC_MAGIC, 0x09, struct asyncdev_latency)
#define ASYNCDEV_IOC_SET_SEED	_IOW(ASYNCDEV_IOC_MAGIC, 0x0a, struct asyncdev_seed)
#define ASYNCDEV_IOC_GET_SEED	_IOR(ASYNCDEV_IOC_MAGIC, 0x0b, struct asyncdev_seed)
#define ASYNCDEV_IOC_SET_STALL	_IOW(ASYNCDEV_IOC_MAGIC, 0x0c, struct asyncdev_stall)
#define ASYNCDEV_IOC_GET_STALL	_IOR(ASYNCDEV_IOC_MAGIC, 0x0d, struct asyncdev_stall)
#define ASYNCDEV_IOC_SET_SHORT	_IOW(ASYNCDEV_IOC_MAGIC, 0x0e, struct asyncdev_short)
#define ASYNCDEV_IOC_GET_SHORT	_IOR(ASYNCDEV_IOC_MAGIC, 0x0f, struct asyncdev_short)
/* /dev/asyncmem only (-ENOTTY on the FIFO). */
#define ASYNCDEV_IOC_BADBLOCKS	_IOW(ASYNCDEV_IOC_MAGIC, 0x10, struct asyncdev_badblocks)
#define ASYNCDEV_IOC_GET_BADBLOCKS _IOWR(ASYNCDEV_IOC_MAGIC, 0x11, struct asyncdev_badblocks_list)

#endif /* _UAPI_LINUX_ASYNCDEV_H */
