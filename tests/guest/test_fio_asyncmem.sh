#!/bin/sh
# fio on /dev/asyncmem beyond buffered I/O: O_DIRECT (direct=1) with libaio
# and io_uring, with no device latency and with 50 us on 16 channels, and
# shared mappings (ioengine=mmap). Each job writes 8 MiB of 4 KiB blocks at
# random offsets and reads them back checking their crc32c; then a second
# fio run reads the same blocks the other way in (through the mapping after
# O_DIRECT writes, with pread after writes through the mapping) and checks
# them again. One summary line per run; exits non-zero if any run failed.
# POSIX sh (busybox in the guest).
. "$(dirname "$0")/lib.sh"
JOBS=${ADEV_FIO_DIR:-/opt/asyncdev/fio}
fail=0

[ -e /dev/asyncmem ] || { echo "fio-asyncmem: /dev/asyncmem missing"; exit 1; }
command -v fio >/dev/null 2>&1 || { echo "fio-asyncmem: fio not installed"; exit 1; }

run() {	# run JOB LATENCY_NS CHANNELS WANT   (WANT: "rw" or "r")
	fio_run fio-asyncmem "$1" "$JOBS/$1.fio" "$2" "$3" "$4" || fail=1
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
mem_config 0 1 || fail=1
exit $fail
