#!/bin/sh
# Turning the asyncdev tracepoints on and off while I/O runs through them.
#
# Each toggle of events/asyncdev/enable flips the events' static keys: the
# kernel rewrites every tracepoint site of the module in place
# (text_poke_bp: an int3 on the first byte, the rest, then the first byte,
# with every CPU synchronised after each step) while a writer and a reader
# run those sites in tight loops, one per CPU. Under QEMU's multi-threaded
# TCG (QEMU 7.2) a vCPU went on executing the int3 after the patch was
# complete: "Oops: int3" in fifo_read_iter/fifo_signal on 6.12 within
# seconds, a soft lockup of both CPUs at the site on 6.1 (what stopped two
# guests in test_trace_tool); tests/qemu/accel.sh runs TCG single-threaded
# since. Passes when the toggles complete, data still moves both ways,
# and (checked by run.sh too) the kernel log has no report.
#
# Environment: ADEV_TOGGLES (default 200). POSIX sh (busybox); root.
. "$(dirname "$0")/lib.sh"
T=/sys/kernel/tracing
N=${ADEV_TOGGLES:-200}
out=/tmp/toggle.out err=/tmp/toggle.err
w= r=
cleanup() {
	[ -n "$w" ] && kill "$w" 2>/dev/null
	[ -n "$r" ] && kill "$r" 2>/dev/null
	wait 2>/dev/null
	echo 0 > $T/events/asyncdev/enable 2>/dev/null
	restore_nodes
}
trap cleanup EXIT

[ -d $T/events ] || mount -t tracefs nodev $T
[ -e $T/events/asyncdev/enable ] || { bad "no $T/events/asyncdev (module loaded?)"; finish test_trace_toggle; exit; }
restore_nodes
cpus=$(nproc)
if [ "$cpus" -ge 2 ]; then last=$((cpus - 1)); else last=0; fi
taskset -c 0 dd if=/dev/zero of=/dev/asyncdev bs=64 count=1000000000 2>/dev/null &
w=$!
taskset -c $last dd if=/dev/asyncdev of=/dev/null bs=64 count=1000000000 2>/dev/null &
r=$!
before=$(asyncdevctl -d /dev/asyncdev stats 2>/dev/null | sed -n 's/^ *bytes_read[ :=]*\([0-9]*\).*/\1/p')
i=0 t0=$(date +%s) failed=0
while [ $i -lt "$N" ]; do
	echo 1 > $T/events/asyncdev/enable || { failed=1; break; }
	echo 0 > $T/events/asyncdev/enable || { failed=1; break; }
	i=$((i + 1))
done
dt=$(( $(date +%s) - t0 ))
if [ $failed = 0 ]; then ok "$N toggles of events/asyncdev/enable under I/O on $cpus CPUs (${dt}s)"
else bad "writing events/asyncdev/enable failed after $i toggles"; fi
check "the writer is still running" kill -0 "$w"
check "the reader is still running" kill -0 "$r"
after=$(asyncdevctl -d /dev/asyncdev stats 2>/dev/null | sed -n 's/^ *bytes_read[ :=]*\([0-9]*\).*/\1/p')
if [ -n "$before" ] && [ -n "$after" ] && [ "$after" -gt "$before" ]; then
	ok "data moved through the FIFO meanwhile ($((after - before)) bytes read)"
else
	bad "no data read through the FIFO while toggling (bytes_read '$before' -> '$after')"
fi
kill "$w" "$r" 2>/dev/null; wait 2>/dev/null; w= r=
restore_nodes
expect 0 "the FIFO still moves data: write" sh -c 'echo toggled > /dev/asyncdev'
expect 0 "the FIFO still moves data: read" sh -c 'head -c 8 /dev/asyncdev | grep -q toggled'
if dmesg | grep -Eq 'Oops|BUG:|WARNING:|soft lockup'; then
	out=/dev/null err=/dev/null bad "kernel report: $(dmesg | grep -E 'Oops|BUG:|WARNING:|soft lockup' | head -n 1)"
else
	ok "no Oops, BUG, WARNING or soft lockup in the kernel log"
fi
finish test_trace_toggle
