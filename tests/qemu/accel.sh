#!/bin/bash
# Choose QEMU's accelerator: one choice for every guest launch (make check,
# demo, qemu-shell, bench, check-debug) and for other scripts that boot one.
#
#   tests/qemu/accel.sh
#
# stdout: the QEMU arguments, one line: "-accel kvm -cpu host" or
#         "-accel tcg,thread=single -cpu max"
# stderr: one line saying which and why, e.g.
#         "accel: TCG (-accel tcg,thread=single -cpu max): KVM does not work here: ..."
# exit:   0; 1 only when ASYNCDEV_ACCEL=kvm and KVM does not work; 2 when
#         ASYNCDEV_ACCEL has another value.
#
# Environment:
#   ASYNCDEV_ACCEL  auto (default): KVM when the probe below proves it works,
#                   TCG (software emulation) otherwise; kvm: KVM or an error;
#                   tcg: TCG without probing.
#   ASYNCDEV_TCG_THREAD  single (default) or multi: TCG runs the guest's
#                   vCPUs in one host thread, or one thread each (MTTCG).
#                   Not multi by default: QEMU 7.2's MTTCG breaks the
#                   kernel's live code patching (text_poke_bp: int3 on the
#                   first byte, the rest, the first byte, with an IPI to
#                   every CPU after each step): a vCPU keeps executing the
#                   int3 after the patch is complete. Toggling the asyncdev
#                   tracepoints (static keys) while two dd loops run the
#                   patched sites gives "Oops: int3" on 6.12 within
#                   seconds, and a soft lockup of both CPUs stuck at the
#                   site on 6.1; the same run under thread=single makes
#                   3000 toggles (6.12) and 1500 (6.1) cleanly. Boot-time
#                   static keys hit it too (an int3 Oops in sched_clock_cpu
#                   at 3 s, before any module). make bench keeps multi
#                   (its figures are measured with two vCPUs in parallel).
#   ASYNCDEV_ACCEL_PROBE_TIMEOUT  seconds the probe waits (default 5).
#   ASYNCDEV_ACCEL_PROBE_KERNEL   kernel image the probe boots (default: the
#                   newest /boot/vmlinuz-*).
#   ASYNCDEV_ACCEL_CACHE  file caching the probe's result (default
#                   ${BUILD:-<repo>/build}/accel.cache; "none": no cache).
#                   A result is reused for ASYNCDEV_ACCEL_CACHE_TTL seconds
#                   (default 3600: one make check or CI run) while the host
#                   boot, /dev/kvm, the user's groups and the QEMU binary
#                   stay the same.
#
# Why a probe: a writable /dev/kvm does not mean KVM works. In a nested
# guest without VMX, QEMU with -enable-kvm either aborts ("failed to set MSR
# 0x10a", kvm_buf_set_msrs assertion) or starts and prints nothing, forever.
# The probe boots a kernel under KVM with an early serial console and
# needs its first kernel console line within a few seconds (a working KVM
# prints it in well under one; TCG in about three).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
case ${ASYNCDEV_TCG_THREAD:-single} in
single|multi) tcg_args="-accel tcg,thread=${ASYNCDEV_TCG_THREAD:-single} -cpu max" ;;
*)	echo "accel: error: ASYNCDEV_TCG_THREAD='$ASYNCDEV_TCG_THREAD': use single or multi" >&2
	exit 2 ;;
esac
kvm_args="-accel kvm -cpu host"
mode=${ASYNCDEV_ACCEL:-auto}
probe_timeout=${ASYNCDEV_ACCEL_PROBE_TIMEOUT:-5}
cache=${ASYNCDEV_ACCEL_CACHE:-${BUILD:-$top/build}/accel.cache}
ttl=${ASYNCDEV_ACCEL_CACHE_TTL:-3600}

case $mode in
auto|kvm) ;;
tcg)	echo "$tcg_args"
	echo "accel: TCG ($tcg_args): ASYNCDEV_ACCEL=tcg" >&2
	exit 0 ;;
*)	echo "accel: error: ASYNCDEV_ACCEL='$mode': use auto, kvm or tcg" >&2
	exit 2 ;;
esac

# probe: 0 when KVM boots a kernel; sets $why either way.
probe() {
	why=
	if [ ! -e /dev/kvm ]; then why="no /dev/kvm"; return 1; fi
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		why="/dev/kvm is not readable and writable by $(id -un) (group kvm?)"; return 1
	fi
	local kernel=${ASYNCDEV_ACCEL_PROBE_KERNEL:-$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)}
	if [ -z "$kernel" ] || [ ! -r "$kernel" ]; then
		why="no kernel image to probe KVM with (make deps)"; return 1
	fi
	local dir pid rc t0 t
	dir=$(mktemp -d "${TMPDIR:-/tmp}/asyncdev-accel.XXXXXX")
	: > "$dir/console"
	# No initrd: the kernel panics after its first lines, which is enough.
	qemu-system-x86_64 $kvm_args -m 256M -smp 1 -nodefaults -no-reboot \
		-display none -monitor none -serial "file:$dir/console" \
		-kernel "$kernel" -append "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1" \
		< /dev/null > "$dir/stderr" 2>&1 &
	pid=$!
	t0=$(date +%s%N)
	rc=1
	while :; do
		t=$(( ($(date +%s%N) - t0) / 1000000 ))
		# "[    0.000000] ..." is printk: the kernel runs in long mode.
		if grep -q '^\[ *[0-9]*\.[0-9]*\]' "$dir/console"; then
			why="a kernel booted under KVM printed its first console line in $((t / 1000)).$((t % 1000 / 100))s"
			rc=0; break
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			local err
			err=$(grep -v '^$' "$dir/stderr" | head -n 1 | sed 's/^qemu-system-x86_64: //')
			why="QEMU -accel kvm exited at once${err:+: $err}"
			break
		fi
		if [ "$t" -ge $((probe_timeout * 1000)) ]; then
			why="a kernel booted under KVM printed nothing in ${probe_timeout}s (a /dev/kvm that cannot run guests, e.g. nested without VMX)"
			break
		fi
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -rf "$dir"
	return $rc
}

# The cache key: what would change the answer.
key="boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"
key="$key kvm=$(stat -L -c '%i.%Z' /dev/kvm 2>/dev/null || echo none)"
key="$key user=$(id -u):$(id -G | tr ' ' ,)"
key="$key qemu=$(stat -L -c '%i.%Y' "$(command -v qemu-system-x86_64 || echo /nonexistent)" 2>/dev/null || echo none)"
now=$(date +%s)
works='' why='' note=''
if [ "$cache" != none ] && [ -r "$cache" ]; then
	{ read -r c_key; read -r c_time; read -r c_works; read -r c_why; } < "$cache" || true
	if [ "${c_key:-}" = "$key" ] && [ $((now - ${c_time:-0})) -lt "$ttl" ]; then
		works=$c_works why=$c_why
		note=" [probed $((now - c_time))s ago, cached in $cache]"
	fi
fi
if [ -z "$works" ]; then
	if ! command -v qemu-system-x86_64 > /dev/null; then
		echo "accel: error: qemu-system-x86_64 not installed (make deps)" >&2
		exit 1
	fi
	# (stderr: bash's own "Aborted" line when QEMU dies of its assertion)
	if probe 2>/dev/null; then works=yes; else works=no; fi
	if [ "$cache" != none ] && mkdir -p "$(dirname "$cache")" 2>/dev/null; then
		printf '%s\n%s\n%s\n%s\n' "$key" "$now" "$works" "$why" > "$cache.$$" &&
			mv -f "$cache.$$" "$cache" || rm -f "$cache.$$"
	fi
fi

if [ "$works" = yes ]; then
	echo "$kvm_args"
	echo "accel: KVM ($kvm_args): $why$note" >&2
elif [ "$mode" = kvm ]; then
	echo "accel: error: ASYNCDEV_ACCEL=kvm, but KVM does not work: $why$note; use ASYNCDEV_ACCEL=auto or tcg" >&2
	exit 1
else
	echo "$tcg_args"
	echo "accel: TCG ($tcg_args, software emulation): KVM does not work: $why (ASYNCDEV_ACCEL=kvm|tcg|auto)$note" >&2
fi
