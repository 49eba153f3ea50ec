#!/bin/sh
# 100 insmod/rmmod cycles, with and without files open and the producer
# running, and the module parameters at their edge values.
set -u
ko=${ASYNCDEV_KO:?}
rc=0
fail() { echo "FAIL: $*"; rc=1; }

for i in $(seq 1 100); do
	insmod "$ko" || { fail "insmod, cycle $i"; break; }
	case $((i % 4)) in
	1)	# a file open across an rmmod attempt
		exec 3<>/dev/asyncdev
		rmmod asyncdev 2>/dev/null && fail "rmmod succeeded while open (cycle $i)"
		exec 3<&- ;;
	2)	# producer running at the highest rate with no reader
		echo 100000 > /sys/class/misc/asyncdev/produce_hz ;;
	3)	# data left in the FIFO and a latency set
		echo queued > /dev/asyncdev
		echo 1000000 > /sys/class/misc/asyncmem/latency_ns ;;
	esac
	rmmod asyncdev || { fail "rmmod, cycle $i"; break; }
done
[ $rc = 0 ] && echo "ok: 100 insmod/rmmod cycles"

for p in fifo_bytes=4096 fifo_bytes=67108864 mem_bytes=4096 max_queued=1 max_queued=1048576; do
	if insmod "$ko" "$p"; then
		echo x > /dev/asyncdev || fail "write with $p"
		rmmod asyncdev || fail "rmmod with $p"
		echo "ok: loads with $p"
	else
		fail "insmod $p (a valid edge value)"
	fi
done
exit $rc
