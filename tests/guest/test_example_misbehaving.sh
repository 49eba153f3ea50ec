#!/bin/sh
# The README's "Testing your code against a misbehaving device" example,
# run as written (each command echoed with "# "), with its outcomes checked,
# so the README shows what the device really does. Restores the defaults.
fails=0
run() { echo "# $*"; sh -c "$*" 2>&1; }
check() { if eval "$1"; then :; else echo "FAIL: $2"; fails=$((fails + 1)); fi; }

run asyncdevctl --device /dev/asyncmem badblocks add 4096-8191
run dd if=/dev/asyncmem of=/dev/null bs=4096 skip=1 count=1
check '! dd if=/dev/asyncmem of=/dev/null bs=4096 skip=1 count=1 2>/dev/null' "bad range readable"
run asyncdevctl --device /dev/asyncmem badblocks
run asyncdevctl --device /dev/asyncmem badblocks clear-all

run asyncdevctl --device /dev/asyncmem short r every=2 bytes=100
run "dd if=/dev/asyncmem of=/dev/null bs=4096 count=4"
n=$(dd if=/dev/asyncmem bs=4096 count=4 2>/dev/null | wc -c)
check '[ "$n" = 8392 ]' "short reads: $n bytes, not 2*4096+2*100"
run asyncdevctl --device /dev/asyncmem short off

run asyncdevctl --device /dev/asyncmem seed 1
run asyncdevctl --device /dev/asyncmem latency
run asyncdev-bench --quiet --models libaio,uring --depth 8 --latency-ns 100us --ops 1000 --warmup-ops 100
out=$(asyncdev-bench --quiet --models libaio,uring --depth 8 --latency-ns 100us \
	--dist exp:100us:10000:50 --ops 1000 --warmup-ops 100 2>&1)
echo "# asyncdev-bench --quiet --models libaio,uring --depth 8 --latency-ns 100us --dist exp:100us:10000:50 --ops 1000 --warmup-ops 100"
echo "$out"
check 'echo "$out" | grep -q "service time distribution: exp:100us:10000:50"' "bench names the distribution"
run asyncdevctl --device /dev/asyncmem latency
run asyncdevctl --device /dev/asyncmem seed 0
[ "$fails" = 0 ]
