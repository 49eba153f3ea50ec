#!/bin/sh
# Guest test of the command-line tools (asyncdevctl, asyncdev-watch,
# asyncdev-feed, asyncdev-bench): usage conventions, error messages, the
# control plane round trip, feed -> watch in every mode, a short bench.
# Runs with the module loaded (guest-suite.sh); POSIX sh (busybox).
# Exits non-zero if any check fails; restores the device defaults.
. "$(dirname "$0")/lib.sh"
out=/tmp/tt.out err=/tmp/tt.err

# wait_term_blocked PID: wait (up to 20 s) until PID blocks SIGTERM, i.e.
# the watcher has set up its signalfd; a SIGTERM before that kills it
# (exit 143) on a slow (debug, loaded) guest.
wait_term_blocked() {
	i=0
	while [ $i -lt 200 ]; do
		blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' /proc/$1/status 2>/dev/null)
		[ -n "$blk" ] && [ $(( 0x$blk & 0x4000 )) != 0 ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

trap restore_nodes EXIT
restore_nodes

echo "== conventions: --help, --version, bad arguments, missing device"
for t in asyncdevctl asyncdev-watch asyncdev-feed asyncdev-bench; do
	expect 0 "$t --help" $t --help && has $out '^Usage: ' "$t --help prints a usage"
	expect 0 "$t --version" $t --version && has $out "^$t \(asyncdev\) " "$t --version names itself"
	expect 2 "$t --no-such-option" $t --no-such-option &&
		has $err "Try '$t --help'" "$t: bad option gives a usage hint"
	expect 2 "$t extra-argument-or-unknown-command" $t bogus-argument
done
expect 2 "asyncdevctl set nokey=1" asyncdevctl set nokey=1 && has $err "unknown key 'nokey'" "names the bad key"
expect 2 "asyncdevctl get BADKEY (a usage error, checked before opening)" asyncdevctl -d /dev/nonexistent get BADKEY &&
	has $err "unknown key 'BADKEY'" "get names the bad key"
expect 2 "asyncdevctl set channels=abc" asyncdevctl set channels=abc
expect 2 "asyncdevctl fault next --errno ENOTANERRNO" asyncdevctl fault next --errno ENOTANERRNO
expect 2 "asyncdevctl fault next --count 0" asyncdevctl fault next --count 0
expect 2 "asyncdevctl producer start (no rate)" asyncdevctl producer start
expect 2 "asyncdevctl --device (no path)" asyncdevctl --device
expect 2 "asyncdev-watch --mode nosuch" asyncdev-watch --mode nosuch && has $err "invalid --mode 'nosuch'" "names the bad mode"
expect 2 "asyncdev-watch --count x" asyncdev-watch --count x
expect 2 "asyncdev-feed --size 10" asyncdev-feed --size 10
expect 2 "asyncdev-feed --burst 0" asyncdev-feed --burst 0
expect 2 "asyncdev-bench --depth 0" asyncdev-bench --depth 0
expect 2 "asyncdev-bench --models nosuch" asyncdev-bench --models nosuch
expect 2 "asyncdev-bench --plot-from without --plot" asyncdev-bench --plot-from x.json
for t in asyncdevctl asyncdev-watch asyncdev-feed; do
	expect 1 "$t --device /dev/nonexistent" $t --device /dev/nonexistent &&
		has $err "^$t: open /dev/nonexistent: No such file or directory" "$t names the missing path"
done
expect 1 "asyncdev-bench --mem /dev/nonexistent" asyncdev-bench --mem /dev/nonexistent &&
	has $err "^asyncdev-bench: open /dev/nonexistent: No such file or directory" "asyncdev-bench names the missing path"
expect 1 "asyncdevctl on a non-asyncdev file" asyncdevctl --device /dev/null stats &&
	has $err "/dev/null: get stats: ioctl\(ASYNCDEV_IOC_GET_STATS\): Inappropriate ioctl" "names the ioctl"

echo "== asyncdevctl: set/show round trip, stats, flush, fault, producer"
expect 0 "set latency_ns=1500 jitter_ns=100 channels=3" asyncdevctl set latency_ns=1500 jitter_ns=100 channels=3
expect 0 "show" asyncdevctl show
has $out '^latency_ns +1500$' "show: latency_ns 1500"
has $out '^jitter_ns +100$' "show: jitter_ns 100"
has $out '^channels +3$' "show: channels 3"
has $out '^node +fifo$' "show: node fifo"
[ "$(cat /sys/class/misc/asyncdev/latency_ns)" = 1500 ] && ok "sysfs agrees: latency_ns 1500" || bad "sysfs latency_ns is $(cat /sys/class/misc/asyncdev/latency_ns)"
expect 0 "set latency=2us (suffix)" asyncdevctl set latency=2us
[ "$(asyncdevctl get latency_ns)" = 2000 ] && ok "get latency_ns = 2000" || bad "get latency_ns gave $(asyncdevctl get latency_ns)"
expect 0 "show --json" asyncdevctl show --json && has $out '"latency_ns": 2000,' "show --json has latency_ns"
expect 1 "set channels=0 (refused by the driver)" asyncdevctl set channels=0 &&
	has $err 'ioctl\(ASYNCDEV_IOC_SET_CONFIG\): Invalid argument' "names the ioctl and errno"
expect 1 "set produce_hz=10 on asyncmem" asyncdevctl -d /dev/asyncmem set produce_hz=10
expect 0 "set latency_ns=0 jitter_ns=0 channels=1" asyncdevctl set latency_ns=0 jitter_ns=0 channels=1
expect 0 "reset" asyncdevctl reset
printf 'hello tools\n' > /dev/asyncdev
expect 0 "stats" asyncdevctl stats
has $out '^bytes_written +12$' "stats: bytes_written 12"
has $out '^fifo_level +12$' "stats: fifo_level 12"
expect 0 "stats --json" asyncdevctl stats --json && has $out '"bytes_written": 12,' "stats --json: bytes_written 12"
expect 0 "flush" asyncdevctl flush
[ "$(asyncdevctl get fifo_level)" = 0 ] && ok "flush emptied the FIFO" || bad "fifo_level after flush: $(asyncdevctl get fifo_level)"
expect 0 "fault next --errno ENOSPC --count 2" asyncdevctl fault next --errno ENOSPC --count 2
expect 0 "fault (show)" asyncdevctl fault && has $out '^next count=2 errno=ENOSPC$' "fault shows next count=2 errno=ENOSPC"
expect 1 "asyncdev-feed hits the injected fault" asyncdev-feed --count 1 --quiet &&
	has $err 'write /dev/asyncdev: No space left on device' "feed reports the injected errno"
expect 0 "fault every --errno 5 --count 3" asyncdevctl fault every --errno 5 --count 3
asyncdevctl fault > $out 2> $err
has $out '^every count=3 errno=EIO$' "errno 5 is EIO"
expect 0 "fault off" asyncdevctl fault off
[ "$(asyncdevctl fault)" = off ] && ok "fault is off" || bad "fault: $(asyncdevctl fault)"
# The watcher first, then the producer: each record raises a signal.
asyncdevctl flush
asyncdev-watch --mode sigio --count 10 --duration 20 > $out 2> $err &
wpid=$!
sleep 0.5
expect 0 "producer start 200" asyncdevctl producer start 200
[ "$(asyncdevctl get produce_hz)" = 200 ] && ok "produce_hz 200" || bad "produce_hz $(asyncdevctl get produce_hz)"
wait $wpid
rc=$?
[ $rc = 0 ] && ok "asyncdev-watch --mode sigio --count 10 (producer records): exit 0" ||
	bad "asyncdev-watch --mode sigio --count 10: exit $rc"
n=$(grep -c '^seq=[0-9]* size=64 latency=' $out)
[ "$n" = 10 ] && ok "10 record lines" || bad "$n record lines, expected 10"
has $out '^records +10 ' "summary: 10 records"
has $out '^latency +p50 [0-9.]+ us, p99 [0-9.]+ us, max' "summary: latency percentiles"
has $out '^signals +[1-9][0-9]* received' "summary: signals received"
has $out '^overruns +[0-9]+ \(producer_overruns delta\)' "summary: overruns"
has $out '0 bad records' "producer records are valid"
expect 0 "producer stop" asyncdevctl producer stop
[ "$(asyncdevctl get produce_hz)" = 0 ] && ok "produce_hz 0" || bad "produce_hz $(asyncdevctl get produce_hz)"
asyncdevctl flush

echo "== asyncdev-feed -> asyncdev-watch, every mode"
for m in sigio epoll blocking posix-aio libaio uring; do
	asyncdevctl flush
	asyncdev-feed --count 40 --rate 2000 --size 200 --burst 2 --quiet &
	fpid=$!
	expect 0 "watch --mode $m receives 40 fed records" \
		asyncdev-watch --mode $m --count 40 --duration 20 --quiet
	wait $fpid && ok "feed exited 0" || bad "feed failed"
	has $out '^records +40 \(8000 bytes\)' "$m: 40 records of 200 bytes"
	has $out '0 seq gaps, 0 bad records, 0 non-record bytes' "$m: in order and intact"
done
asyncdevctl flush
expect 0 "watch --duration ends without data" asyncdev-watch --mode epoll --duration 0.3 --quiet
expect 1 "watch --count not reached before --duration" asyncdev-watch --mode libaio --count 5 --duration 0.3 --quiet &&
	has $err 'expected 5 records, got 0' "says what was missing"
# SIGTERM: summary and exit 0, also with a read blocked in a helper thread.
# sigterm_ends DESC: SIGTERM to the watcher $wpid once it is ready: exit 0.
sigterm_ends() {
	wait_term_blocked $wpid
	sleep 0.5
	kill -TERM $wpid
	wait $wpid
	rc=$?
	[ $rc = 0 ] && ok "$1: SIGTERM -> exit 0" || bad "$1: SIGTERM -> exit $rc"
}
for m in blocking posix-aio; do
	asyncdev-watch --mode $m --quiet > $out 2> $err &
	wpid=$!
	sigterm_ends "watch --mode $m"
	has $out '^records +0 ' "watch --mode $m: summary after SIGTERM"
done

# SIGTERM while records keep arriving (a read may complete during shutdown).
asyncdevctl producer start 1000
for m in sigio posix-aio libaio uring; do
	asyncdev-watch --mode $m --quiet > $out 2> $err &
	wpid=$!
	sigterm_ends "watch --mode $m under load"
	has $out '^records +[1-9][0-9]* ' "watch --mode $m under load: summary with records"
	# A slow guest may not keep up with the producer: its drops show as
	# seq gaps, which are then expected (as many runs as overruns at most).
	if grep -Eq '^overruns +0 ' $out; then
		has $out '0 seq gaps, 0 bad records, 0 non-record bytes' "watch --mode $m under load: records intact"
	else
		has $out ' [0-9]+ seq gaps, 0 bad records, 0 non-record bytes' "watch --mode $m under load: records intact (producer overran)"
	fi
done
asyncdevctl producer stop
asyncdevctl flush

# SIGINT on a named FIFO, every mode: without a writer (open(2) would wait
# for one) and with an idle writer (io_submit would read a pipe
# synchronously): the summary and exit 0 within 5 s.
# sigint_ends DESC: SIGINT to the watcher $wpid, which must end promptly.
sigint_ends() {
	wait_term_blocked $wpid
	sleep 0.5
	kill -INT $wpid
	i=0
	while kill -0 $wpid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 $wpid 2>/dev/null; then
		bad "$1: still running 5 s after SIGINT ($(cat /proc/$wpid/wchan 2>/dev/null))"
		kill -9 $wpid; wait $wpid
		return
	fi
	wait $wpid
	rc=$?
	[ $rc = 0 ] && ok "$1: SIGINT -> exit 0" || bad "$1: SIGINT -> exit $rc"
	has $out '^records +0 ' "$1: summary after SIGINT"
}
rm -f /tmp/tt.fifo; mkfifo /tmp/tt.fifo
for m in sigio epoll blocking posix-aio libaio uring; do
	asyncdev-watch -d /tmp/tt.fifo --mode $m --quiet > $out 2> $err &
	wpid=$!
	sigint_ends "watch --mode $m on a FIFO without a writer"
done
sleep 600 > /tmp/tt.fifo &
spid=$!
for m in sigio epoll blocking posix-aio libaio uring; do
	asyncdev-watch -d /tmp/tt.fifo --mode $m --quiet > $out 2> $err &
	wpid=$!
	sigint_ends "watch --mode $m on an empty FIFO with a writer"
done
kill $spid; wait $spid 2>/dev/null
# Records through a named FIFO, every mode (the watcher opens first: a
# non-blocking writer's open fails with ENXIO while there is no reader).
for m in sigio epoll blocking posix-aio libaio uring; do
	asyncdev-watch -d /tmp/tt.fifo --mode $m --count 40 --duration 20 --quiet > $out 2> $err &
	wpid=$!
	wait_term_blocked $wpid
	sleep 0.3
	asyncdev-feed -d /tmp/tt.fifo --count 40 --size 200 --quiet || bad "feed to the FIFO failed"
	wait $wpid
	rc=$?
	[ $rc = 0 ] && ok "watch --mode $m: 40 records through a named FIFO" || bad "watch --mode $m through a named FIFO: exit $rc"
	has $out '^records +40 \(8000 bytes\)' "$m FIFO: 40 records of 200 bytes"
	has $out '0 seq gaps, 0 bad records, 0 non-record bytes' "$m FIFO: in order and intact"
done
rm -f /tmp/tt.fifo

echo "== asyncdev-watch on a regular file: read through to its end"
rm -f /tmp/tt.rec	# feed creates it
expect 0 "feed --count 300 to a new regular file" asyncdev-feed -d /tmp/tt.rec --count 300 --quiet
for m in blocking posix-aio libaio uring; do
	expect 0 "watch --mode $m on a regular file" timeout 20 asyncdev-watch -d /tmp/tt.rec --mode $m --quiet &&
		has $out '^records +300 ' "watch --mode $m read the file once, to its end"
done
expect 0 "feed --count 5 to it again: truncates" asyncdev-feed -d /tmp/tt.rec --count 5 --quiet
expect 0 "watch --json on it" asyncdev-watch -d /tmp/tt.rec --mode uring --json &&
	has $out '^\{"tool": "asyncdev-watch", .*"records": 5, ' "watch --json: 5 records, no stale ones"
rm -f /tmp/tt.rec
asyncdevctl flush
asyncdev-feed --count 20 --quiet
expect 0 "watch --json on the FIFO" asyncdev-watch --mode epoll --count 20 --json &&
	has $out '"records": 20, .*"seq_gaps": 0, .*"overruns": 0, ' "watch --json: records, gaps and the overruns delta"
expect 0 "feed --json" asyncdev-feed --count 3 --json && has $out '^\{"tool": "asyncdev-feed", "device": "/dev/asyncdev", "records": 3, ' "feed --json: 3 records"
asyncdevctl flush

echo "== asyncdev-bench: every model, short run"
expect 0 "bench --depth 4 --ops 150 --latency-ns 50us" \
	asyncdev-bench --depth 4 --ops 150 --warmup-ops 20 --latency-ns 50us --json /tmp/tt.json --quiet
has $out '^feeder comparison \(not the same device\): ' "bench labels the feeder comparison"
for m in blocking nonblock epoll sigio posix-aio libaio uring; do
	has $out "^$m +/dev/async(mem|dev) +150 .* yes " "bench row for $m (150 ops, verified)"
done
# The sigio model's notes: what the notifier delivered (callbacks, the
# signals behind them); the FIFO runs empty here (EAGAIN/op > 0), so signals came.
has $out '^sigio .* [0-9.]+ EAGAIN/op, [0-9.]*[1-9][0-9.]* signals/op \(POLL_IN [1-9][0-9]*, POLL_OUT [0-9]+\), [0-9.]*[1-9][0-9.]* callbacks/op' "bench sigio: signals and callbacks counted"
has /tmp/tt.json '"comparison": "feeder"' "bench JSON says which comparison"
n=$(grep -c '"ran": true' /tmp/tt.json)
[ "$n" = 7 ] && ok "JSON has 7 results" || bad "JSON has $n results"
[ "$(asyncdevctl -d /dev/asyncmem get latency_ns)" = 0 ] && ok "bench restored asyncmem latency" || bad "asyncmem latency left at $(asyncdevctl -d /dev/asyncmem get latency_ns)"
expect 0 "bench --batch 8 --latency-ns 1ms" asyncdev-bench --batch 8 --latency-ns 1ms
has $out '^  sync pread\(2\), one after another +[0-9.]+ ms' "batch: sync time"
has $out '^  libaio: one io_submit of all reads +[0-9.]+ ms' "batch: libaio time"
has $out '^  io_uring: one io_uring_submit of all reads +[0-9.]+ ms' "batch: io_uring time"

restore_nodes
finish test_tools
