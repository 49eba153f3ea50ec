#!/bin/sh
# Invalid module parameters are refused at load, with a clear log line.
set -u
ko=${ASYNCDEV_KO:?}
rc=0
check_refused() {	# check_refused PARAM=VALUE EXPECTED-LOG-TEXT
	if insmod "$ko" "$1" 2>/dev/null; then
		echo "FAIL: insmod $1 succeeded"; rmmod asyncdev; rc=1; return
	fi
	if dmesg | tail -n 3 | grep -q "$2"; then
		echo "ok: $1 refused: $(dmesg | grep "$2" | tail -n 1)"
	else
		echo "FAIL: $1 refused without the log line '$2'"; rc=1
	fi
}
check_refused fifo_bytes=100 "asyncdev: fifo_bytes=100 is invalid"
check_refused fifo_bytes=134217728 "asyncdev: fifo_bytes=134217728 is invalid"
check_refused mem_bytes=0 "asyncdev: mem_bytes=0 is invalid"
check_refused max_queued=0 "asyncdev: max_queued=0 is invalid"
# A valid non-default size is used.
if insmod "$ko" fifo_bytes=4096; then
	lvl=$(cat /sys/module/asyncdev/parameters/fifo_bytes)
	[ "$lvl" = 4096 ] && echo "ok: fifo_bytes=4096 loaded" || { echo "FAIL: fifo_bytes reads $lvl"; rc=1; }
	rmmod asyncdev || rc=1
else
	echo "FAIL: insmod fifo_bytes=4096"; rc=1
fi
exit $rc
