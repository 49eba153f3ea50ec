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
bench="asyncdev-bench --quiet --models libaio --depth 4 --latency-ns 1ms --ops 400 --warmup-ops 50"
run "$bench"
out=$($bench --dist exp:1ms:10000:20 2>&1)
echo "# $bench --dist exp:1ms:10000:20"
echo "$out"
check 'echo "$out" | grep -q "service time distribution: exp:1ms:10000:20"' "bench names the distribution"
run asyncdevctl --device /dev/asyncmem latency
run asyncdevctl --device /dev/asyncmem seed 0
[ "$fails" = 0 ]
