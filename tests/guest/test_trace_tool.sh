#!/bin/sh
# Guest test of asyncdev-trace on known runs: four synchronous 4 KiB reads
# of /dev/asyncmem with a 1 ms service time, a FIFO read that waits for a
# writer, a 16-read io_submit batch on one channel, and the JSON, exit
# status and usage conventions. Runs with the module loaded (guest-suite.sh).
. "$(dirname "$0")/lib.sh"
out=/tmp/ttr.out err=/tmp/ttr.err json=/tmp/ttr.json out_lines=40
reset() { asyncdevctl set latency_ns=0 jitter_ns=0 channels=1 >/dev/null &&
	asyncdevctl -d /dev/asyncmem set latency_ns=0 jitter_ns=0 channels=1 >/dev/null; }
reset

# 1. Four synchronous reads, 5 ms each: four rows "mem sync read 4096", a
# service time of at least 5000 us each, no channel wait, and the
# breakdown. One reader never waits for the one channel; a wait would last
# a whole service time, so "less than one service time" tells it from a
# vCPU the host preempted for a millisecond (seen: 1014 us against a 1 ms
# service time).
asyncdevctl -d /dev/asyncmem set latency_ns=5ms channels=1 >/dev/null
bounded 120 asyncdev-trace --json "$json" -- dd if=/dev/asyncmem of=/dev/null bs=4096 count=4 > "$out" 2> "$err"
check "trace of dd exits 0" [ $? = 0 ]
rows=$(awk '$2 == "mem" && $3 == "sync" && $4 == "read" && $5 == 4096 && $13 == 4096' "$out" | wc -l)
check "four sync read rows (got $rows)" [ "$rows" = 4 ]
slow=$(awk '$2 == "mem" && $3 == "sync" && ($10 < 5000 || $10 > 100000 || $9 >= 5000)' "$out" | wc -l)
check "service >= 5000 us, channel wait < 5 ms, in every row" [ "$slow" = 0 ]
check "breakdown row 'mem sync read' with n=4" grep -Eq '^mem sync read +4 ' "$out"
n=$(grep -o '"path": "sync"' "$json" | wc -l)
check "JSON: four sync requests (got $n)" [ "$n" = 4 ]
check "JSON: no lost events" grep -q '"lost_events": 0' "$json"
check "JSON: service_ns per request" grep -Eq '"service_ns": [0-9]{7}' "$json"

# 2. A FIFO read that waits 300 ms for its data: all of it is queue time.
asyncdevctl -d /dev/asyncmem set latency_ns=0 >/dev/null
bounded 120 asyncdev-trace -P sync -N fifo -- sh -c \
	'dd if=/dev/asyncdev of=/dev/null bs=5 count=1 2>/dev/null & sleep 0.3; printf hello > /dev/asyncdev; wait' \
	> "$out" 2> "$err"
check "trace of a waiting FIFO read exits 0" [ $? = 0 ]
waited=$(awk '$2 == "fifo" && $4 == "read" && $13 == 5 && $8 >= 250000' "$out" | wc -l)
check "the read's queue time is >= 250 ms" [ "$waited" = 1 ]

# 3. 16 io_submit reads at once on one 2 ms channel: they take it in turn,
# so their service starts (start + queue + channel wait) are at least one
# service time apart and span at least 15 of them. (Not "the last one waits
# 15 service times": on the debug kernel io_submit of the 16 takes long
# enough that the last arrives when several are done.)
asyncdevctl -d /dev/asyncmem set latency_ns=2ms channels=1 >/dev/null
bounded 120 asyncdev-trace -P io_submit -n 16 -- asyncdev-bench --batch 16 --latency-ns 2ms --channels 1 > "$out" 2> "$err"
check "trace of asyncdev-bench --batch 16 exits 0" [ $? = 0 ]
rows=$(awk '$2 == "mem" && $3 == "io_submit" && $4 == "read" && $13 == 4096' "$out" | wc -l)
check "16 io_submit rows printed (got $rows)" [ "$rows" = 16 ]
span=$(awk '$2 == "mem" && $3 == "io_submit" && $13 == 4096 {
	t = $7 * 1000 + $8 + $9; if (n++ == 0 || t < lo) lo = t; if (t > hi) hi = t }
	END { print int(hi - lo) }' "$out")
check "one batch's service starts span >= 15 service times (${span} us)" [ "$span" -ge 29500 ]
maxchan=$(awk '$2 == "mem" && $3 == "io_submit" && $9 > m { m = $9 } END { print int(m) }' "$out")
check "requests of one batch wait for the channel (longest ${maxchan} us)" [ "$maxchan" -ge 10000 ]
sed -n '1,22p' "$out"

# 4. Conventions: the command's failure is ours, usage errors exit 2.
bounded 120 asyncdev-trace -q -- false > "$out" 2> "$err"
check "a failing command makes it exit 1" [ $? = 1 ]
bounded 120 asyncdev-trace --path nope > "$out" 2> "$err"
check "an unknown path is a usage error (exit 2)" [ $? = 2 ]
bounded 120 asyncdev-trace -d 0.2 -q > "$out" 2> "$err"
check "--duration without a command exits 0" [ $? = 0 ]
check "the header counts events" grep -Eq '^asyncdev-trace: [0-9]+ events' "$out"
# SIGTERM while recording for 60 s ends the recording, and the report
# follows (exit 0). Sent once tracing is on in its instance: the handler
# is installed before that.
asyncdev-trace -d 60 -q > "$out" 2> "$err" &
p=$!
on=/sys/kernel/tracing/instances/asyncdev-trace/tracing_on
i=0
while [ $i -lt 200 ] && [ "$(cat $on 2>/dev/null)" != 1 ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM $p
i=0
while [ $i -lt 300 ] && kill -0 $p 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
if kill -0 $p 2>/dev/null; then
	kill -9 $p
	wait $p
	bad "SIGTERM during --duration 60: still running 30 s later"
else
	wait $p
	rc=$?
	check "SIGTERM during --duration 60: report and exit 0 (exit $rc)" [ $rc = 0 ]
	check "SIGTERM during --duration 60: the header counts events" \
		grep -Eq '^asyncdev-trace: [0-9]+ events' "$out"
fi

reset
finish asyncdev-trace
