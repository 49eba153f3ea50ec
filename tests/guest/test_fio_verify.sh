#!/bin/sh
# fio data verification on /dev/asyncmem: for each engine (libaio, io_uring,
# posixaio) write 8 MiB at random offsets with 16 requests in flight, then
# read every block back and check its crc32c. Each job runs twice: with no
# device latency (requests complete inline) and with a latency of 50 us on
# 16 channels (async requests complete from the engine's timers).
# Prints one summary line per run; exits non-zero if any run failed.
# POSIX sh (busybox in the guest).
. "$(dirname "$0")/lib.sh"
JOBS=${ADEV_FIO_DIR:-/opt/asyncdev/fio}
fail=0

[ -e /dev/asyncmem ] || { echo "fio-verify: /dev/asyncmem missing"; exit 1; }
command -v fio >/dev/null 2>&1 || { echo "fio-verify: fio not installed"; exit 1; }

run() {	# run ENGINE LATENCY_NS CHANNELS
	fio_run fio-verify "$1" "$JOBS/verify-$1.fio" "$2" "$3" rw || fail=1
}

for eng in libaio io_uring posixaio; do
	run "$eng" 0 1
	run "$eng" 50000 16
done
mem_config 0 1 || fail=1
exit $fail
