#!/bin/bash
# Boot the asyncdev test guest under QEMU.
#   run.sh check   run the guest suite; exit non-zero on any failure
#   run.sh demo    run the demo script
#   run.sh shell   interactive shell with the module loaded
# Environment: KVER (kernel version, default tests/qemu/kver.sh), KERNEL
# (bzImage, default /boot/vmlinuz-$KVER), MODULE (asyncdev.ko), USERBUILD
# (CMake build dir with the guest programs), GUEST_OUT (logs, default
# $BUILD/qemu/<kernel release>), GUEST_TIMEOUT (seconds), GUEST_SILENCE_TIMEOUT
# (seconds without any console output after launch before the guest is
# declared hung, 60), GUEST_CONSOLE=full (show the whole console, kernel
# boot log included; default: only the guest's own lines), ADEV_ARGS
# (extra insmod arguments), ADEV_ONLY (run only tests matching this glob),
# ADEV_NOSKIP=1 (a test that skips, exit 77, fails instead), ADEV_TEST_TIMEOUT
# (seconds per test), ADEV_GUEST_ENV (NAME=VALUE words: the kernel passes
# them to /init as environment, so every test sees them), QEMU_MEM,
# ASYNCDEV_ACCEL (auto|kvm|tcg: see tests/qemu/accel.sh).
set -euo pipefail
mode=${1:?usage: run.sh check|demo|shell}
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$top/build}
kver=${KVER:-$("$top/tests/qemu/kver.sh")}
kernel=${KERNEL:-/boot/vmlinuz-$kver}
module=${MODULE:-$top/driver/asyncdev.ko}
userbuild=${USERBUILD:-$build/user}

[ -r "$kernel" ] || { echo "run.sh: no kernel image $kernel (make deps)" >&2; exit 1; }
[ -r "$module" ] || { echo "run.sh: no module $module (make module)" >&2; exit 1; }
# The release the image itself declares (x86 boot protocol: the string at
# 0x200 + the 16-bit pointer at 0x20e): names the logs and the summary line,
# also for a KERNEL= that is not under /boot.
release() {
	local off
	off=$(od -An -tu2 -j $((0x20e)) -N 2 "$1" 2>/dev/null | tr -d ' ')
	[ -n "$off" ] && dd if="$1" bs=1 skip=$((off + 0x200)) count=128 status=none 2>/dev/null |
		tr '\0' '\n' | head -n 1 | cut -d' ' -f1
}
krel=$(release "$kernel" || true)
krel=${krel:-$(basename "$kernel")}
out=${GUEST_OUT:-$build/qemu/$krel}
mkdir -p "$out"
rm -f "$out/$mode.summary"	# make check must not report a previous run
# One accelerator choice for every launch; it says which and why (first: a
# forced KVM that does not work fails before any work).
accel_args=$("$top/tests/qemu/accel.sh") || exit 1
read -r -a accel <<< "$accel_args"
initrd=$out/initramfs.cpio
"$top/tests/qemu/mkinitramfs.sh" "$initrd" "$module" "$userbuild"

# earlyprintk: the boot code prints its first line at once, so the
# watchdog below hears from a guest that runs within a second of launch
# (after loglevel=, or the early console shows every early message).
append="console=ttyS0 loglevel=5 earlyprintk=serial,ttyS0 panic=-1 adevmode=$mode"
[ -n "${ADEV_ARGS:-}" ] && append="$append adevargs=\"$ADEV_ARGS\""
[ -n "${ADEV_TEST_TIMEOUT:-}" ] && append="$append adevtimeout=$ADEV_TEST_TIMEOUT"
[ -n "${ADEV_ONLY:-}" ] && append="$append adevonly=$ADEV_ONLY"
[ "${ADEV_NOSKIP:-0}" = 1 ] && append="$append adevnoskip=1"
for kv in ${ADEV_GUEST_ENV:-}; do
	case "$kv" in
	[A-Za-z_]*=*) append="$append $kv" ;;
	*) echo "run.sh: ADEV_GUEST_ENV: '$kv' is not NAME=VALUE" >&2; exit 1 ;;
	esac
done
qemu=(qemu-system-x86_64 "${accel[@]}" -m "${QEMU_MEM:-1G}" -smp 2 -no-reboot
      -kernel "$kernel" -initrd "$initrd" -append "$append")

if [ "$mode" = shell ]; then
	echo "Booting $kernel; leave with 'reboot -f' (or Ctrl-A X)."
	exec "${qemu[@]}" -nographic
fi

# What the terminal shows: the guest's own lines, from /init's first line
# to the kernel log dump at the end, without kernel messages (timestamped)
# or the machine-readable blocks. The log file keeps everything.
console() {
	if [ "${GUEST_CONSOLE:-}" = full ]; then cat; return; fi
	awk '
	/^ASYNCDEV-GUEST: booted/ { on = 1 }
	/^ASYNCDEV-DMESG-BEGIN$/ { on = 0 }
	/^ASYNCDEV-(BENCH-JSON|KMEMLEAK)-BEGIN$/ { blk = 1 }
	on && !blk && !/^\[ *[0-9]+\.[0-9]+\] / { print; fflush() }
	/^ASYNCDEV-(BENCH-JSON|KMEMLEAK)-END$/ { blk = 0 }'
}

log=$out/$mode.log
limit=${GUEST_TIMEOUT:-1500}
silence=${GUEST_SILENCE_TIMEOUT:-60}
echo "Booting $kernel (${accel[*]}), log in $log, time limit ${limit}s"
start=$(date +%s)
set +e
"$top/tests/qemu/watchdog.sh" "$limit" "$silence" \
	"${qemu[@]}" -display none -monitor none -serial stdio < /dev/null |
	sed -u 's/\r//g' | tee "$log" | console
qrc=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - start ))

if [ "$qrc" -eq 120 ]; then
	echo "run.sh: FAIL: the guest printed nothing in ${silence}s after launch (${accel[*]}): a hung accelerator? ASYNCDEV_ACCEL=tcg forces software emulation"
	[ "$mode" = check ] && echo "Guest $krel: no console output, FAILED in ${elapsed}s" > "$out/$mode.summary"
	echo "Guest $mode: FAILED in ${elapsed}s"
	exit 1
fi
fail=0
if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
	echo "run.sh: FAIL: guest did not finish within ${limit}s (hang?)"; fail=1
fi
result=$(sed -n 's/^ASYNCDEV-GUEST-RESULT: //p' "$log" | tail -n 1)
if [ -z "$result" ]; then
	echo "run.sh: FAIL: guest did not report a result (panic or crash?)"; fail=1
elif [ "$result" != 0 ]; then
	echo "run.sh: FAIL: guest $mode exited with $result"; fail=1
fi

# The kernel log must be clean.
"$top/tests/qemu/klog-check.sh" run.sh "$log" "$out/$mode.dmesg" "${accel[*]}" || fail=1
# kmemleak (debug kernel): /init scans before the first insmod and clears
# what boot left, then scans twice at the end; the report must be empty.
if grep -q '^ASYNCDEV-KMEMLEAK-BEGIN$' "$log"; then
	leaks=$(sed -n '/^ASYNCDEV-KMEMLEAK-BEGIN$/,/^ASYNCDEV-KMEMLEAK-END$/p' "$log" | grep -c 'unreferenced object' || true)
	kmsum=$(sed -n 's/^ASYNCDEV-KMEMLEAK: \([0-9]* scans.*\)/\1/p' "$log" | tail -n 1)
	if [ "$leaks" != 0 ]; then
		echo "run.sh: FAIL: kmemleak reports $leaks leaked objects (see $log)"; fail=1
	elif [ "${kmsum%% *}" != 3 ]; then
		echo "run.sh: FAIL: kmemleak did not complete its scans (${kmsum:-no summary})"; fail=1
	else
		echo "kmemleak: $kmsum"
	fi
fi

# The test a guest was running when it stopped without a result, if any.
running=$(sed -n 's/^ASYNCDEV-TEST: //p' "$log" | tail -n 1)
case "$running" in RUN\ *) running=${running#RUN } ;; *) running= ;; esac
if [ "$mode" = check ]; then
	echo
	echo "Guest tests ($kernel):"
	grep -E '^ASYNCDEV-TEST: (PASS|FAIL|SKIP)' "$log" | sed 's/^ASYNCDEV-TEST: /  /' || true
	grep -E '^ASYNCDEV-SUITE:' "$log" | sed 's/^ASYNCDEV-SUITE: /Guest suite: /' || true
	# One line for make check's per-kernel summary.
	suite=$(sed -n 's/^ASYNCDEV-SUITE: //p' "$log" | tail -n 1)
	echo "Guest $krel: ${suite:-no suite result${running:+ (stopped in $running)}}, $([ $fail -eq 0 ] && echo PASSED || echo FAILED) in ${elapsed}s" > "$out/$mode.summary"
fi
# Failed: the kernel log, which the terminal did not show (the end of the
# dump the guest printed, or of the console when there is none), last, so
# that a log cut to its end still shows it; and the test that was running
# when a guest stopped without its result.
if [ $fail -ne 0 ] && [ "${GUEST_CONSOLE:-}" != full ]; then
	echo "----- kernel log, last 40 lines (all of it: $log) -----"
	if [ -s "$out/$mode.dmesg" ]; then grep -v '^ASYNCDEV-DMESG-' "$out/$mode.dmesg" | tail -n 40
	else grep -v '^ASYNCDEV-TEST: ' "$log" | tail -n 40; fi
	echo "-----"
	if [ -n "$running" ]; then echo "run.sh: the guest stopped while running $running"; fi
fi
if [ "$mode" = demo ]; then
	sed -n '/^ASYNCDEV-BENCH-JSON-BEGIN$/,/^ASYNCDEV-BENCH-JSON-END$/p' "$log" |
		grep -v '^ASYNCDEV-BENCH-JSON-' > "$out/demo-bench.json" || true
	[ -s "$out/demo-bench.json" ] && echo "asyncdev-bench JSON: $out/demo-bench.json (asyncdev-bench --plot-from FILE --plot out.png)"
fi
echo "Guest $mode: $([ $fail -eq 0 ] && echo PASSED || echo FAILED) in ${elapsed}s"
exit $fail
