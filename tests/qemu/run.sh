#!/bin/bash
# Boot the asyncdev test guest under QEMU.
#   run.sh check   run the guest suite; exit non-zero on any failure
#   run.sh demo    run the demo script
#   run.sh shell   interactive shell with the module loaded
# Environment: KERNEL (bzImage), MODULE (asyncdev.ko), USERBUILD (CMake
# build dir with the guest programs), GUEST_TIMEOUT (seconds), ADEV_ARGS
# (extra insmod arguments), ADEV_ONLY (run only tests matching this glob),
# ADEV_NOSKIP=1 (a test that skips, exit 77, fails instead), ADEV_TEST_TIMEOUT
# (seconds per test), ADEV_GUEST_ENV (NAME=VALUE words: the kernel passes
# them to /init as environment, so every test sees them), QEMU_MEM.
set -euo pipefail
mode=${1:?usage: run.sh check|demo|shell}
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$top/build}
kver=${KVER:-$("$top/tests/qemu/kver.sh")}
kernel=${KERNEL:-/boot/vmlinuz-$kver}
module=${MODULE:-$top/driver/asyncdev.ko}
userbuild=${USERBUILD:-$build/user}
out=$build/qemu
mkdir -p "$out"

[ -r "$kernel" ] || { echo "run.sh: no kernel image $kernel (make deps)" >&2; exit 1; }
[ -r "$module" ] || { echo "run.sh: no module $module (make module)" >&2; exit 1; }
initrd=$out/initramfs.cpio
"$top/tests/qemu/mkinitramfs.sh" "$initrd" "$module" "$userbuild"

accel=(-accel tcg -cpu max)
# Interim: KVM only on request (a writable /dev/kvm may not work).
if [ "${ASYNCDEV_ACCEL:-tcg}" = kvm ]; then accel=(-enable-kvm -cpu host); fi
append="console=ttyS0 panic=-1 loglevel=5 adevmode=$mode"
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

log=$out/$mode.log
limit=${GUEST_TIMEOUT:-1500}
echo "Booting $kernel (${accel[*]}), log in $log, time limit ${limit}s"
start=$(date +%s)
set +e
timeout -k 10 "$limit" "${qemu[@]}" -display none -monitor none -serial stdio \
	< /dev/null 2>&1 | tee "$log"
qrc=${PIPESTATUS[0]}
set -e
tr -d '\r' < "$log" > "$log.txt" && mv "$log.txt" "$log"
elapsed=$(( $(date +%s) - start ))

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
bad='BUG:|WARNING:|Oops|general protection fault|list_add corruption|list_del corruption|list corruption|refcount_t:|blocked for more than|soft lockup|hard LOCKUP|rcu_.*stall|self-detected stall|KASAN:|UBSAN:|possible circular locking|possible recursive locking|inconsistent lock state|lock held when returning|Call Trace:|kernel BUG|unreferenced object'
# A debug facility that switches itself off stops checking: that fails too.
bad="$bad|kmemleak: .*[Dd]isabled|ODEBUG: Out of memory|turning off the locking correctness validator|Disabling lock debugging"
sed -n '/^ASYNCDEV-DMESG-BEGIN$/,/^ASYNCDEV-DMESG-END$/p' "$log" > "$out/$mode.dmesg"
# Kernel messages printed on the console during the run (timestamped lines
# outside the final dump) count too: a long run may overflow the log buffer.
klog() {
	cat "$out/$mode.dmesg"
	sed '/^ASYNCDEV-DMESG-BEGIN$/,/^ASYNCDEV-DMESG-END$/d' "$log" |
		grep -E '^\[ *[0-9]+\.[0-9]+\] ' || true
}
if [ ! -s "$out/$mode.dmesg" ]; then
	echo "run.sh: FAIL: no kernel log from the guest"; fail=1
elif klog | grep -Eq "$bad"; then
	echo "run.sh: FAIL: the guest kernel log reports problems:"
	klog | grep -En "$bad" | head -n 20; fail=1
fi
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

if [ "$mode" = check ]; then
	echo
	echo "Guest tests ($kernel):"
	grep -E '^ASYNCDEV-TEST: (PASS|FAIL|SKIP)' "$log" | sed 's/^ASYNCDEV-TEST: /  /' || true
	grep -E '^ASYNCDEV-SUITE:' "$log" | sed 's/^ASYNCDEV-SUITE: /Guest suite: /' || true
fi
echo "Guest $mode: $([ $fail -eq 0 ] && echo PASSED || echo FAILED) in ${elapsed}s"
exit $fail
