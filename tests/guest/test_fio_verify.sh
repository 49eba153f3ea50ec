#!/bin/sh
# fio data verification on /dev/asyncmem: for each engine (libaio, io_uring,
# posixaio) write 8 MiB at random offsets with 16 requests in flight, then
# read every block back and check its crc32c. Each job runs twice: with no
# device latency (requests complete inline) and with a latency of 50 us on
# 16 channels (async requests complete from the engine's timers).
# Prints one summary line per run; exits non-zero if any run failed.
# POSIX sh (busybox in the guest).
JOBS=${ADEV_FIO_DIR:-/opt/asyncdev/fio}
SYS=/sys/class/misc/asyncmem
OUT=${TMPDIR:-/tmp}/fio-verify.$$
fail=0

[ -e /dev/asyncmem ] || { echo "fio-verify: /dev/asyncmem missing"; exit 1; }
command -v fio >/dev/null 2>&1 || { echo "fio-verify: fio not installed"; exit 1; }

setcfg() {	# setcfg LATENCY_NS CHANNELS
	echo 0 > "$SYS/jitter_ns" && echo "$1" > "$SYS/latency_ns" &&
		echo "$2" > "$SYS/channels"
}

# Summary of fio's run status lines: "READ: bw=... io=..." -> "bw io".
status() {	# status READ|WRITE FILE
	sed -n "s/^ *$1: bw=\([^ ,]*\).* io=\([^ ,]*\).*/\1 \2/p" "$2" | head -n 1
}

run() {	# run ENGINE LATENCY_NS CHANNELS
	eng=$1 lat=$2 ch=$3 job=$JOBS/verify-$1.fio
	tag="$eng latency=${lat}ns channels=$ch"
	if [ ! -r "$job" ]; then
		echo "fio-verify: FAIL $tag: no job file $job"; fail=1; return
	fi
	if ! setcfg "$lat" "$ch"; then
		echo "fio-verify: FAIL $tag: cannot configure $SYS"; fail=1; return
	fi
	t0=$(date +%s)
	fio --output="$OUT" "$job" >/dev/null 2>"$OUT.err"
	rc=$?
	dt=$(( $(date +%s) - t0 ))
	w=$(status WRITE "$OUT") r=$(status READ "$OUT")
	if [ "$rc" -ne 0 ] || grep -q 'verify: bad\|err= *[1-9]' "$OUT" "$OUT.err" ||
	   [ -z "$w" ] || [ -z "$r" ]; then
		echo "fio-verify: FAIL $tag: fio exit $rc (${dt}s)"
		cat "$OUT" "$OUT.err" 2>/dev/null | sed 's/^/#   /'
		fail=1
	else
		echo "fio-verify: PASS $tag: write ${w% *} (${w#* }), verify read ${r% *} (${r#* }), ${dt}s"
	fi
	rm -f "$OUT" "$OUT.err"
}

for eng in libaio io_uring posixaio; do
	run "$eng" 0 1
	run "$eng" 50000 16
done
setcfg 0 1 || fail=1
exit $fail
