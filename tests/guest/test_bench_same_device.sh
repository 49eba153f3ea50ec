#!/bin/sh
# Guest test of asyncdev-bench --same-device: every model reads the
# producer-driven FIFO (same rate, duration and record size for all), then
# /dev/asyncmem for the models that apply to it. Checks that every model
# delivered records, that its latencies (record timestamp to delivery) are
# positive and p50 <= p99, that overruns are reported as a number, that the
# readiness models are marked not applicable on asyncmem, that the JSON
# parses (the tool's own strict reader: --plot-from), and that the device is
# restored. POSIX sh (busybox); restores the device defaults.
. "$(dirname "$0")/lib.sh"
out=/tmp/tbs.out err=/tmp/tbs.err json=/tmp/tbs.json out_lines=30

trap restore_nodes EXIT
restore_nodes

echo "== usage"
asyncdev-bench --rate 1000 > $out 2> $err
rc=$?
[ $rc = 2 ] && ok "--rate without --same-device: exit 2" || bad "--rate without --same-device: exit $rc, expected 2"
has $err 'need --same-device' "says --rate needs --same-device"
asyncdev-bench --same-device=disk > $out 2> $err
rc=$?
[ $rc = 2 ] && ok "--same-device=disk: exit 2" || bad "--same-device=disk: exit $rc, expected 2"

echo "== asyncdev-bench --same-device, every model"
rate=1000
asyncdev-bench --same-device --rate $rate --duration 1 --warmup-ops 50 --depth 4 --ops 200 \
	--latency-ns 50us --json $json > $out 2> $err
rc=$?
cat $out
[ $rc = 0 ] && ok "bench --same-device: exit 0" || bad "bench --same-device: exit $rc"
has $out "^same device: producer-driven FIFO at $rate records/s$" "FIFO table labelled with the rate"
has $out '^same device: /dev/asyncmem at latency 50.0 us, QD 4 ' "asyncmem table labelled with latency and QD"
has $json '"comparison": "same-device"' "JSON says which comparison"

for m in blocking nonblock epoll sigio posix-aio libaio uring; do
	has $out "^$m +[1-9][0-9]* +[0-9]+ .* [0-9]+ yes " "FIFO row for $m: records delivered, overruns counted, verified"
	# records p50 p99 overruns of the model's FIFO row in the JSON
	v=$(sed -n "s/.*{\"model\": \"$m\", \"ran\": true, \"records\": \([0-9]*\),.*\"lat_p50_us\": \([^,]*\), \"lat_p99_us\": \([^,]*\),.*\"overruns\": \([^,]*\),.*/\1 \2 \3 \4/p" $json)
	if [ -z "$v" ]; then
		bad "$m: no FIFO result in the JSON"
		continue
	fi
	set -- $v
	[ "$1" -gt 0 ] && ok "$m: $1 records delivered" || bad "$m: $1 records delivered"
	echo "$2 $3" | awk '{ exit !($1 > 0 && $2 > 0 && $1 <= $2) }' &&
		ok "$m: latency p50 $2 us <= p99 $3 us, both positive" ||
		bad "$m: latency p50 '$2' p99 '$3' (want 0 < p50 <= p99)"
	case "$4" in
	''|*[!0-9]*) bad "$m: overruns '$4' is not a number" ;;
	*) ok "$m: overruns $4" ;;
	esac
done
for m in blocking posix-aio libaio uring; do
	has $out "^$m +/dev/asyncmem +200 .* yes " "asyncmem row for $m (200 ops, verified)"
done
for m in nonblock epoll sigio; do
	has $out "^$m +/dev/asyncmem +not applicable: " "asyncmem: $m is marked not applicable"
done
n=$(grep -c '"applicable": false' $json)
[ "$n" = 3 ] && ok "JSON: 3 models not applicable on asyncmem" || bad "JSON: $n not applicable, expected 3"

# The JSON parses: --plot-from reads it with the tool's own strict parser
# and checks its structure before it looks for gnuplot (not in the guest).
asyncdev-bench --plot-from $json --plot /tmp/tbs.png > /tmp/tbs.plot 2>&1
rc=$?
if [ $rc = 0 ] || grep -q 'plot: gnuplot: not found' /tmp/tbs.plot; then
	ok "JSON parses and has the same-device structure (--plot-from: exit $rc)"
else
	bad "--plot-from the JSON: exit $rc: $(cat /tmp/tbs.plot)"
fi
printf '{"comparison": "same-device", "fifo": {"results": [}' > /tmp/tbs.bad.json
asyncdev-bench --plot-from /tmp/tbs.bad.json --plot /tmp/tbs.png > /tmp/tbs.plot 2>&1
grep -q 'invalid JSON' /tmp/tbs.plot && ok "--plot-from refuses broken JSON (so the check above can fail)" ||
	bad "--plot-from on broken JSON: $(cat /tmp/tbs.plot)"

[ "$(asyncdevctl get produce_hz)" = 0 ] && ok "producer stopped" || bad "produce_hz left at $(asyncdevctl get produce_hz)"
[ "$(asyncdevctl -d /dev/asyncmem get latency_ns)" = 0 ] && ok "asyncmem latency restored" ||
	bad "asyncmem latency left at $(asyncdevctl -d /dev/asyncmem get latency_ns)"

echo "== --same-device=fifo: only the FIFO part"
asyncdev-bench --same-device=fifo --models epoll,uring --rate 500 --duration 0.5 --warmup-ops 10 --quiet > $out 2> $err
rc=$?
[ $rc = 0 ] && ok "bench --same-device=fifo: exit 0" || bad "bench --same-device=fifo: exit $rc"
has $out '^uring +[1-9][0-9]* ' "uring row on the FIFO"
if grep -q '/dev/asyncmem' $out; then bad "--same-device=fifo ran asyncmem"; else ok "no asyncmem part"; fi

restore_nodes
rm -f $json /tmp/tbs.bad.json /tmp/tbs.plot /tmp/tbs.png
finish test_bench_same_device
