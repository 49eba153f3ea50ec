#!/bin/sh
# The demo shown by `make demo` (runs inside the guest). Every step must
# succeed: the script exits non-zero at the first failure (set -e), and
# run.sh reports the guest's exit status.
set -e
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say "Load the module"
insmod /lib/modules/asyncdev.ko
dmesg | grep 'asyncdev:' | tail -n 1 | sed 's/^\[[ 0-9.]*\] //'	# the terminal hides kernel lines
ls -l /dev/asyncdev /dev/asyncmem
asyncdevctl show

say "Write to the FIFO, read it back"
echo "hello from the asyncdev FIFO" > /dev/asyncdev
echo "level: $(cat /sys/class/misc/asyncdev/stats/fifo_level) bytes"
dd if=/dev/asyncdev bs=4096 count=1 2>/dev/null

say "Producer at 50 Hz, read with signal-driven I/O (asyncdev-watch --mode sigio)"
asyncdevctl reset
asyncdev-watch --mode sigio --count 8 --duration 10 &
watch=$!
sleep 0.5	# let it start: records it did not wait for would show old timestamps
asyncdevctl producer start 50
wait $watch
asyncdevctl producer stop
asyncdevctl flush

say "Queue depth hides latency: 16 reads of /dev/asyncmem at 2 ms each"
asyncdev-bench --batch 16 --latency-ns 2ms

say "Seven I/O models, same reads, same device (asyncdev-bench)"
asyncdev-bench --depth 8 --size 4096 --latency-ns 200us --ops 600 --warmup-ops 60 \
	--json /tmp/bench.json --quiet
# The guest has no gnuplot: the JSON goes to the console, between markers,
# for `asyncdev-bench --plot-from FILE.json --plot out.png` on the host.
echo "ASYNCDEV-BENCH-JSON-BEGIN"
cat /tmp/bench.json
echo "ASYNCDEV-BENCH-JSON-END"

say "Where each read's time went: the io_submit batches under asyncdev-trace"
asyncdev-trace --path io_submit --requests 16 -- \
	sh -c 'asyncdev-bench --batch 16 --latency-ns 2ms > /dev/null'

say "Statistics of /dev/asyncdev (asyncdevctl stats)"
asyncdevctl stats
if [ -x /opt/asyncdev/tests/guest_demo_extra ]; then /opt/asyncdev/tests/guest_demo_extra; fi

say "Unload"
rmmod asyncdev && echo "module unloaded"
