#!/bin/sh
# fio on /dev/asyncmem beyond buffered I/O: O_DIRECT (direct=1) with libaio
# and io_uring, with no device latency and with 50 us on 16 channels, and
# shared mappings (ioengine=mmap). Each job writes 8 MiB of 4 KiB blocks at
# random offsets and reads them back checking their crc32c; then a second
# fio run reads the same blocks the other way in (through the mapping after
# O_DIRECT writes, with pread after writes through the mapping) and checks
# them again. One summary line per run; exits non-zero if any run failed.
# POSIX sh (busybox in the guest).
JOBS=${ADEV_FIO_DIR:-/opt/asyncdev/fio}
SYS=/sys/class/misc/asyncmem
OUT=${TMPDIR:-/tmp}/fio-asyncmem.$$
fail=0

[ -e /dev/asyncmem ] || { echo "fio-asyncmem: /dev/asyncmem missing"; exit 1; }
command -v fio >/dev/null 2>&1 || { echo "fio-asyncmem: fio not installed"; exit 1; }

setcfg() {	# setcfg LATENCY_NS CHANNELS
	echo 0 > "$SYS/jitter_ns" && echo "$1" > "$SYS/latency_ns" &&
		echo "$2" > "$SYS/channels"
}

# "READ: bw=... io=..." -> "bw io" (the first such line).
status() {	# status READ|WRITE FILE
	sed -n "s/^ *$1: bw=\([^ ,]*\).* io=\([^ ,]*\).*/\1 \2/p" "$2" | head -n 1
}

run() {	# run JOB LATENCY_NS CHANNELS WANT   (WANT: "rw" or "r")
	name=$1 lat=$2 ch=$3 want=$4 job=$JOBS/$1.fio
	tag="$name latency=${lat}ns channels=$ch"
	if [ ! -r "$job" ]; then
		echo "fio-asyncmem: FAIL $tag: no job file $job"; fail=1; return
	fi
	if ! setcfg "$lat" "$ch"; then
		echo "fio-asyncmem: FAIL $tag: cannot configure $SYS"; fail=1; return
	fi
	t0=$(date +%s)
	fio --output="$OUT" "$job" >/dev/null 2>"$OUT.err"
	rc=$?
	dt=$(( $(date +%s) - t0 ))
	w=$(status WRITE "$OUT") r=$(status READ "$OUT")
	if [ "$rc" -ne 0 ] || grep -q 'verify: bad\|err= *[1-9]' "$OUT" "$OUT.err" ||
	   [ -z "$r" ] || { [ "$want" = rw ] && [ -z "$w" ]; }; then
		echo "fio-asyncmem: FAIL $tag: fio exit $rc (${dt}s)"
		cat "$OUT" "$OUT.err" 2>/dev/null | sed 's/^/#   /'
		fail=1
	elif [ "$want" = rw ]; then
		echo "fio-asyncmem: PASS $tag: write ${w% *} (${w#* }), verify read ${r% *} (${r#* }), ${dt}s"
	else
		echo "fio-asyncmem: PASS $tag: verify read ${r% *} (${r#* }), ${dt}s"
	fi
	rm -f "$OUT" "$OUT.err"
}

for eng in libaio io_uring; do
	run "verify-$eng-direct" 0 1 rw
	run readback-mmap 0 1 r
	run "verify-$eng-direct" 50000 16 rw
	run readback-mmap 0 1 r
done
run verify-mmap 0 1 rw
run readback-psync 0 1 r
run readback-psync 50000 16 r
setcfg 0 1 || fail=1
exit $fail
