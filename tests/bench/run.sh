#!/bin/bash
# make bench: boot one QEMU guest, run tests/bench/guest-bench.sh in it and
# build build/bench/report.{md,json,png} from the JSON it prints.
#
# Environment: BUILD (default <repo>/build), KVER (tests/qemu/kver.sh),
# KERNEL, MODULE, USERBUILD (default $BUILD/user, a configured top-level
# CMake build that contains tests/bench), BENCH_RUNS (3), BENCH_RUNTIME
# (seconds measured per fio or bench_lib measurement and run, 4),
# BENCH_RAMP (1, per process), BENCH_PROCS (processes per measurement and
# run, 5; guest-bench.sh says why), BENCH_ONLY (e.g. "P1 P5"),
# BENCH_MODPARAMS (asyncdev module parameters, e.g. "fifo_bytes=4096"),
# GUEST_TIMEOUT (seconds, 1200), GUEST_SILENCE_TIMEOUT (seconds without
# console output after launch, 60), QEMU_MEM (1G), ASYNCDEV_ACCEL
# (auto|kvm|tcg, tests/qemu/accel.sh), ASYNCDEV_TCG_THREAD (multi here:
# the figures are measured with the two vCPUs running in parallel, as
# they have been since the first baseline; tests/qemu/accel.sh says why
# every other guest runs single).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$top/build}
kver=${KVER:-$("$top/tests/qemu/kver.sh")}
kernel=${KERNEL:-/boot/vmlinuz-$kver}
module=${MODULE:-$top/driver/asyncdev.ko}
userbuild=${USERBUILD:-$build/user}
out=$build/bench
mkdir -p "$out"

[ -r "$kernel" ] || { echo "bench: no kernel image $kernel (make deps)" >&2; exit 1; }
[ -r "$module" ] || { echo "bench: no module $module (make module)" >&2; exit 1; }
# The accelerator every guest launch uses (tests/qemu/accel.sh says why).
accel_args=$(ASYNCDEV_TCG_THREAD=${ASYNCDEV_TCG_THREAD:-multi} "$top/tests/qemu/accel.sh") || exit 1
read -r -a accel <<< "$accel_args"
case $accel_args in
*kvm*) accel_name="KVM ($accel_args)" ;;
*) accel_name="TCG (software emulation, $accel_args)" ;;
esac
kmods=()
for m in fs/configfs/configfs drivers/block/null_blk/null_blk; do
	f=$(ls /lib/modules/"$kver"/kernel/$m.ko* 2>/dev/null | head -n 1) ||
		true
	[ -n "$f" ] || { echo "bench: no $m.ko for $kver (linux-image-$kver)" >&2; exit 1; }
	kmods+=("$f")
done

# The bench programs: built by the top-level build (make all) when
# tests/bench is one of its subdirectories; build them if they are missing.
progs=("$userbuild/tests/bench/bench_fifo" "$userbuild/tests/bench/bench_lib")
if [ -f "$userbuild/CMakeCache.txt" ]; then
	cmake --build "$userbuild" --target bench_fifo bench_lib -j"$(nproc)" >/dev/null
fi
for p in "${progs[@]}"; do
	[ -x "$p" ] || { echo "bench: $p missing: configure $userbuild from $top (make user)" >&2; exit 1; }
done

# initramfs: the standard one (mkinitramfs.sh) plus a second newc archive
# appended (the kernel unpacks concatenated archives in order).
initrd=$out/initramfs.cpio
"$top/tests/qemu/mkinitramfs.sh" "$out/initramfs-base.cpio" "$module" "$userbuild"
root=$(mktemp -d "${TMPDIR:-/tmp}/asyncdev-bench.XXXXXX")
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"
mkdir -p "$root"/{lib/modules/extra,opt/asyncdev/bench/fio}
for f in "${kmods[@]}"; do
	case $f in
	*.ko.xz) xz -dc "$f" > "$root/lib/modules/extra/$(basename "${f%.xz}")" ;;
	*.ko.zst) zstd -qdc "$f" > "$root/lib/modules/extra/$(basename "${f%.zst}")" ;;
	*.ko.gz) gzip -dc "$f" > "$root/lib/modules/extra/$(basename "${f%.gz}")" ;;
	*) cp "$f" "$root/lib/modules/extra/" ;;
	esac
done
cp "${progs[@]}" "$root/opt/asyncdev/bench/"
cp "$top/tests/bench/guest-bench.sh" "$root/opt/asyncdev/guest-bench.sh"
cp "$top"/tests/bench/fio/*.fio "$root/opt/asyncdev/bench/fio/"
for lib in $(for b in "${progs[@]}"; do ldd "$b" | grep -o '/[^ ]*'; done | sort -u); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) > "$out/initramfs-bench.cpio"
cat "$out/initramfs-base.cpio" "$out/initramfs-bench.cpio" > "$initrd"

runs=${BENCH_RUNS:-3}
append="console=ttyS0 loglevel=5 earlyprintk=serial,ttyS0 panic=-1 adevmode=bench adevbenchruns=$runs"
append="$append adevbenchruntime=${BENCH_RUNTIME:-4} adevbenchramp=${BENCH_RAMP:-1}"
[ -n "${BENCH_PROCS:-}" ] && append="$append adevbenchprocs=$BENCH_PROCS"
# TCG marks the TSC unstable (unsynchronised vCPUs) and falls back to the
# emulated HPET, which has no vDSO: every clock_gettime (fio takes several
# per I/O) becomes a syscall plus an emulated MMIO read. tsc=reliable keeps
# the TSC (what real hardware uses); BENCH_CMDLINE="" measures without it.
append="$append ${BENCH_CMDLINE-tsc=reliable}"
[ -n "${BENCH_ONLY:-}" ] && append="$append adevbenchonly=$(echo "$BENCH_ONLY" | tr ' ' ,)"
[ -n "${BENCH_MODPARAMS:-}" ] && append="$append adevbenchmod=$(echo "$BENCH_MODPARAMS" | tr ' ' ,)"
qemu=(qemu-system-x86_64 "${accel[@]}" -m "${QEMU_MEM:-1G}" -smp 2 -no-reboot
      -kernel "$kernel" -initrd "$initrd" -append "$append")
log=$out/console.log
limit=${GUEST_TIMEOUT:-1200}
echo "bench: booting $kernel ($accel_name), log in $log, time limit ${limit}s"
start=$(date +%s)
set +e
"$top/tests/qemu/watchdog.sh" "$limit" "${GUEST_SILENCE_TIMEOUT:-60}" \
	"${qemu[@]}" -display none -monitor none -serial stdio \
	< /dev/null 2>&1 | sed -u 's/\r$//' | tee "$log" | grep --line-buffered -E '^bench: '
qrc=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - start ))

fail=0
if [ "$qrc" -eq 120 ]; then
	echo "bench: FAIL: the guest printed nothing in ${GUEST_SILENCE_TIMEOUT:-60}s after launch ($accel_args); ASYNCDEV_ACCEL=tcg forces software emulation"; exit 1
elif [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
	echo "bench: FAIL: guest did not finish within ${limit}s"; fail=1
fi
result=$(sed -n 's/^ASYNCDEV-GUEST-RESULT: //p' "$log" | tail -n 1)
[ "$result" = 0 ] || { echo "bench: FAIL: guest result '${result:-none}'"; fail=1; }
"$top/tests/qemu/klog-check.sh" bench "$log" "$out/dmesg.txt" "$accel_args" || fail=1
sed -n '/^ASYNCDEV-BENCH-JSON-BEGIN$/,/^ASYNCDEV-BENCH-JSON-END$/p' "$log" |
	grep '^{' > "$out/results.jsonl" || true
if [ ! -s "$out/results.jsonl" ]; then
	echo "bench: FAIL: no results from the guest"; exit 1
fi
python3 "$top/tests/bench/report.py" --results "$out/results.jsonl" --out "$out" \
	--accel "$accel_name" --host "$(uname -srm), $(nproc) CPUs, $(qemu-system-x86_64 --version | head -n 1)" \
	--elapsed "$elapsed" || fail=1
echo "bench: $([ $fail -eq 0 ] && echo done || echo FAILED) in ${elapsed}s: $out/report.md"
exit $fail
