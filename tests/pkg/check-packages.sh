#!/bin/bash
# The install on a real machine, tested (make check-packages; root):
#  1. dkms.conf, debian/changelog and CMake agree on the version; `make deb`
#     builds the four packages; their contents are checked.
#  2. They are installed with dpkg; asyncdev-dkms's postinst has DKMS build
#     and install the module for every kernel with headers (KVERS=, default
#     all with /boot/vmlinuz and headers). The kernel-upgrade path is checked
#     too: the module is removed for the newest kernel and DKMS's kernel hook
#     (/etc/kernel/postinst.d/dkms, what a kernel package runs) rebuilds it.
#  3. A program is built out of tree against libasyncdev-dev with pkg-config
#     and with CMake find_package(asyncdev), and run.
#  4. Each kernel boots in QEMU with an initramfs holding the DKMS-built
#     module at its installed path, the modules.dep that `depmod -b` made for
#     it, kmod, and the packaged tools: tests/pkg/guest-init loads it with
#     `modprobe asyncdev` and runs the smoke test.
#  5. Everything is purged again, and the machine checked to be as found
#     (also when a step fails). Packages left by an interrupted run are
#     purged first.
# Logs: $BUILD/pkg/ (check.log, dpkg.log, guest-<kver>.log).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$top/build}
DEB_DIR=${DEB_DIR:-$BUILD/deb}
out=$BUILD/pkg
GUEST_TIMEOUT=${GUEST_TIMEOUT:-180}
PKGS="asyncdev-tools libasyncdev-dev libasyncdev0 asyncdev-dkms"
start=$(date +%s)
failed=0
summary=()

say() { echo "check-packages: $*"; }
pass() { summary+=("  PASS $*"); say "PASS $*"; }
fail() { summary+=("  FAIL $*"); say "FAIL $*"; failed=1; }
die() { fail "$*"; finish; }
elapsed() { echo $(( $(date +%s) - $1 ))s; }

[ "$(id -u)" = 0 ] || { say "needs root (it installs packages and DKMS modules): sudo make check-packages"; exit 1; }
for c in dpkg-buildpackage dkms qemu-system-x86_64 busybox depmod cpio pkg-config cmake g++; do
	command -v "$c" >/dev/null || { say "$c missing: make deps"; exit 1; }
done
rm -rf "$out"; mkdir -p "$out"
exec > >(tee "$out/check.log") 2>&1

# ---- the machine as found ----
purge() {
	local installed
	installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' $PKGS 2>/dev/null |
		awk '$2 != "un" {print $1}')
	[ -z "$installed" ] || dpkg --purge $installed >> "$out/dpkg.log" 2>&1
}
if dpkg-query -W -f='${db:Status-Abbrev}\n' $PKGS 2>/dev/null | grep -qv '^un'; then
	say "asyncdev packages already installed (an interrupted run?): purging them first"
	purge || { say "could not purge them; see $out/dpkg.log"; exit 1; }
fi
had_group=$(getent group asyncdev >/dev/null && echo 1 || echo 0)
had_mok=$([ -e /var/lib/dkms/mok.key ] && echo 1 || echo 0)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/asyncdev-pkg.XXXXXX")

finish() {
	trap - EXIT INT TERM
	local t=$(date +%s) left=""
	purge || fail "dpkg --purge (see $out/dpkg.log)"
	# asyncdev-dkms leaves the group (a system group may own files); the
	# check created it, so it removes it. DKMS's signing key likewise, when
	# DKMS has no other module.
	[ "$had_group" = 1 ] || ! getent group asyncdev >/dev/null || delgroup --quiet --system asyncdev >/dev/null 2>&1 || groupdel asyncdev
	if [ "$had_mok" = 0 ] && [ -z "$(find /var/lib/dkms -mindepth 1 -maxdepth 1 -type d 2>/dev/null)" ]; then
		rm -f /var/lib/dkms/mok.key /var/lib/dkms/mok.pub
	fi
	rm -rf "$tmp"
	for k in $KVERS; do
		ls /lib/modules/"$k"/updates/dkms/asyncdev.ko* >/dev/null 2>&1 && left+=" /lib/modules/$k/updates/dkms/asyncdev.ko*"
		modinfo -k "$k" asyncdev >/dev/null 2>&1 && left+=" modinfo-$k"
	done
	[ -e /var/lib/dkms/asyncdev ] && left+=" /var/lib/dkms/asyncdev"
	ls -d /usr/src/asyncdev-* >/dev/null 2>&1 && left+=" /usr/src/asyncdev-*"
	[ -e /lib/udev/rules.d/60-asyncdev.rules ] && left+=" 60-asyncdev.rules"
	[ "$had_group" = 1 ] || ! getent group asyncdev >/dev/null || left+=" group-asyncdev"
	dpkg-query -W -f='${db:Status-Abbrev}\n' $PKGS 2>/dev/null | grep -qv '^un' && left+=" packages"
	[ -z "$left" ] && pass "cleanup: packages purged, no module, DKMS tree, source, rule or group left ($(elapsed $t))" ||
		fail "cleanup: left behind:$left"
	echo
	echo "Package check (logs in $out):"
	printf '%s\n' "${summary[@]}"
	echo "make check-packages: $([ $failed = 0 ] && echo PASSED || echo FAILED) in $(elapsed $start)"
	exit $failed
}
trap finish EXIT
trap 'fail "interrupted"; finish' INT TERM

# ---- kernels ----
if [ -z "${KVERS:-}" ]; then
	KVERS=$(for img in /boot/vmlinuz-*; do
		v=${img#/boot/vmlinuz-}
		[ -e "/lib/modules/$v/build/Makefile" ] && echo "$v"
	done | sort -V | tr '\n' ' ')
fi
KVERS=$(echo $KVERS)
[ -n "$KVERS" ] || die "no kernel with /boot/vmlinuz and headers: make deps"
newest=${KVERS##* }
say "kernels: $KVERS"

# ---- 1. versions, make deb, contents ----
v_dkms=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$top/dkms.conf")
v_cmake=$(sed -n 's/^project(asyncdev VERSION \([0-9.]*\).*/\1/p' "$top/CMakeLists.txt")
v_deb=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
[ "$v_dkms" = "$v_cmake" ] && [ "${v_deb%%-*}" = "$v_cmake" ] &&
	pass "version $v_cmake in CMakeLists.txt, dkms.conf and debian/changelog ($v_deb)" ||
	die "versions differ: CMakeLists.txt $v_cmake, dkms.conf $v_dkms, debian/changelog $v_deb"
ver=$v_dkms

t=$(date +%s)
if [ -n "${PKG_SKIP_BUILD:-}" ] && ls "$DEB_DIR"/*.deb >/dev/null 2>&1; then
	say "PKG_SKIP_BUILD: using the packages in $DEB_DIR"
else
	make -C "$top" --no-print-directory deb BUILD="$BUILD" DEB_DIR="$DEB_DIR" || die "make deb"
fi
debs=()
for p in asyncdev-dkms_${v_deb}_all libasyncdev0_${v_deb}_amd64 libasyncdev-dev_${v_deb}_amd64 asyncdev-tools_${v_deb}_amd64; do
	[ -f "$DEB_DIR/$p.deb" ] || die "make deb did not produce $p.deb"
	debs+=("$DEB_DIR/$p.deb")
done
pass "make deb: 4 packages in $DEB_DIR ($(for d in "${debs[@]}"; do printf '%s %s, ' "$(basename "$d" | cut -d_ -f1)" "$(du -k "$d" | cut -f1)K"; done | sed 's/, $//'); $(elapsed $t))"

# lintian, when installed (not a dependency of the check): errors fail it.
if command -v lintian >/dev/null; then
	t=$(date +%s)
	lintian --tag-display-limit 0 "${debs[@]}" > "$out/lintian.log" 2>&1
	n_e=$(grep -c '^E: ' "$out/lintian.log"); n_w=$(grep -c '^W: ' "$out/lintian.log")
	sed -n 's/^\([EW]: .*\)/    lintian \1/p' "$out/lintian.log"
	[ "$n_e" = 0 ] && pass "lintian: $n_e errors, $n_w warnings ($(elapsed $t))" ||
		fail "lintian: $n_e errors, $n_w warnings (log: $out/lintian.log)"
else
	say "lintian not installed: skipped"
fi

contents() {	# contents PKG: the paths in its .deb
	dpkg-deb -c "$DEB_DIR/${1}_${v_deb}_$2.deb" | awk '{print $6}' | sed 's|^\./|/|'
}
check_has() {	# check_has PKG ARCH PATH...
	local p=$1 a=$2 list miss=""; shift 2
	list=$(contents "$p" "$a")
	for f in "$@"; do grep -qx -- "$f" <<<"$list" || miss+=" $f"; done
	[ -z "$miss" ] && pass "$p: its $# key files are there" || fail "$p lacks$miss"
}
src=/usr/src/asyncdev-$ver
check_has asyncdev-dkms all $src/dkms.conf $src/Kbuild $src/driver/Kbuild $src/driver/main.c \
	$src/driver/fifo.c $src/driver/compat.h $src/driver/uapi/asyncdev.h /lib/udev/rules.d/60-asyncdev.rules
stray=$(contents asyncdev-dkms all | grep -E '\.(o|ko|mod|cmd)$|/build/|modules\.order|Module\.symvers' || true)
[ -z "$stray" ] && pass "asyncdev-dkms: module sources only (no build products)" || fail "asyncdev-dkms holds build products: $stray"
check_has libasyncdev0 amd64 /usr/lib/x86_64-linux-gnu/libasyncdev.so.0 /usr/lib/x86_64-linux-gnu/libasyncdev.so.$ver
check_has libasyncdev-dev amd64 /usr/include/asyncdev/asyncdev.h /usr/include/asyncdev/uapi/asyncdev.h \
	/usr/lib/x86_64-linux-gnu/libasyncdev.so /usr/lib/x86_64-linux-gnu/libasyncdev.a \
	/usr/lib/x86_64-linux-gnu/pkgconfig/asyncdev.pc /usr/lib/x86_64-linux-gnu/cmake/asyncdev/asyncdevConfig.cmake
tools=(asyncdevctl asyncdev-watch asyncdev-feed asyncdev-bench asyncdev-trace)
check_has asyncdev-tools amd64 $(for t in "${tools[@]}"; do echo /usr/bin/$t /usr/share/man/man1/$t.1.gz; done)
mkdir -p "$tmp/x" && dpkg-deb -x "$DEB_DIR/libasyncdev0_${v_deb}_amd64.deb" "$tmp/x"
soname=$(objdump -p "$tmp/x/usr/lib/x86_64-linux-gnu/libasyncdev.so.$ver" | awk '/SONAME/ {print $2}')
[ "$soname" = libasyncdev.so.0 ] && pass "SONAME libasyncdev.so.0" || fail "SONAME is '$soname'"

# ---- 2. install; DKMS builds for every kernel ----
t=$(date +%s)
if dpkg -i "${debs[@]}" > "$out/dpkg.log" 2>&1; then
	pass "dpkg -i: 4 packages installed, asyncdev-dkms postinst done ($(elapsed $t))"
else
	tail -n 30 "$out/dpkg.log"; die "dpkg -i (log: $out/dpkg.log)"
fi
dkms status asyncdev | sed 's/^/  dkms status: /'
for k in $KVERS; do
	if dkms status -m asyncdev -v "$ver" -k "$k" | grep -q ': installed'; then
		f=$(modinfo -k "$k" -F filename asyncdev 2>/dev/null)
		vm=$(modinfo -k "$k" -F vermagic asyncdev 2>/dev/null | cut -d' ' -f1)
		case "$f" in
		/lib/modules/$k/updates/dkms/asyncdev.ko*) [ "$vm" = "$k" ] &&
			pass "DKMS: installed for $k: $f (modinfo via the host's depmod)" ||
			fail "DKMS: $f has vermagic $vm" ;;
		*) fail "DKMS: installed for $k, but modinfo -k $k asyncdev finds '$f'" ;;
		esac
	else
		fail "DKMS: not installed for $k: $(dkms status -m asyncdev -k "$k")"
		sed 's/^/    /' /var/lib/dkms/asyncdev/"$ver"/"$k"/*/log/make.log 2>/dev/null | tail -n 20
	fi
done
getent group asyncdev >/dev/null && pass "group asyncdev exists ($(getent group asyncdev))" || fail "no group asyncdev after install"
grep -q 'GROUP="asyncdev"' /lib/udev/rules.d/60-asyncdev.rules && pass "udev rule /lib/udev/rules.d/60-asyncdev.rules: $(grep -v '^#' /lib/udev/rules.d/60-asyncdev.rules)" ||
	fail "udev rule missing"

# A kernel upgrade: the kernel package's hook runs `dkms autoinstall` for
# the new kernel. Simulated on the newest kernel by removing its build.
t=$(date +%s)
if dkms remove -m asyncdev -v "$ver" -k "$newest" >> "$out/dpkg.log" 2>&1 &&
   ! ls /lib/modules/"$newest"/updates/dkms/asyncdev.ko* >/dev/null 2>&1 &&
   /etc/kernel/postinst.d/dkms "$newest" >> "$out/dpkg.log" 2>&1 &&
   dkms status -m asyncdev -v "$ver" -k "$newest" | grep -q ': installed' &&
   modinfo -k "$newest" asyncdev >/dev/null 2>&1; then
	pass "kernel upgrade: /etc/kernel/postinst.d/dkms $newest rebuilt and installed it (AUTOINSTALL; $(elapsed $t))"
else
	fail "kernel upgrade: DKMS did not rebuild the module for $newest (log: $out/dpkg.log)"
fi

# ---- 3. an out-of-tree program against libasyncdev-dev ----
t=$(date +%s)
cons=$top/tests/pkg/consumer
mkdir -p "$tmp/pc" "$tmp/cm"
pcflags=$(pkg-config --cflags --libs asyncdev)
if g++ -std=c++20 -O1 -o "$tmp/pc/asyncdev-consumer-pc" "$cons/consumer.cpp" $pcflags 2> "$out/consumer-pc.log"; then
	pass "pkg-config: g++ consumer.cpp \$(pkg-config --cflags --libs asyncdev) = '$pcflags'"
else
	fail "pkg-config build: $(head -n 5 "$out/consumer-pc.log")"
fi
if cmake -S "$cons" -B "$tmp/cm" > "$out/consumer-cmake.log" 2>&1 &&
   cmake --build "$tmp/cm" -j2 >> "$out/consumer-cmake.log" 2>&1; then
	pass "CMake: find_package(asyncdev) from $(sed -n 's/^asyncdev_DIR:PATH=//p' "$tmp/cm/CMakeCache.txt"); asyncdev::asyncdev and asyncdev::asyncdev_static"
else
	fail "CMake find_package build (log: $out/consumer-cmake.log)"
fi
for b in "$tmp/pc/asyncdev-consumer-pc" "$tmp/cm/asyncdev-consumer" "$tmp/cm/asyncdev-consumer-static"; do
	[ -x "$b" ] || continue
	n=$(basename "$b")
	lib=$(ldd "$b" | awk '/libasyncdev/ {print $3}')
	case "$n" in
	*static) [ -z "$lib" ] || fail "$n is linked to $lib" ;;
	*) [ "$(readlink -f "$lib")" = "$(readlink -f /usr/lib/x86_64-linux-gnu/libasyncdev.so.0)" ] ||
		fail "$n uses '$lib', not the packaged library" ;;
	esac
	: > "$tmp/data-$n"
	if r=$("$b" "$tmp/data-$n" 2>&1); then pass "host: $n on a regular file: $(echo "$r" | tr '\n' ' ')"
	else fail "host: $n: $r"; fi
done
say "consumer programs built and run in $(elapsed $t)"

# ---- 4. each kernel in the guest, module loaded by modprobe ----
# The accelerator every QEMU launch of the project uses: KVM only if it is
# proven to work (tests/qemu/accel.sh says which and why; a forced kvm that
# does not work is an error, not a silent TCG run).
accel=$("$top/tests/qemu/accel.sh") || die "no usable accelerator (ASYNCDEV_ACCEL=${ASYNCDEV_ACCEL:-auto})"
mkinitramfs() {	# mkinitramfs KVER OUT.cpio
	local k=$1 cpio=$2 root=$tmp/root-$1 ko b lib dest
	rm -rf "$root"; mkdir -p "$root"/{bin,sbin,etc,usr/bin,usr/local/bin,lib/modules/"$k"}
	chmod 755 "$root"
	cp /bin/busybox "$root/bin/"
	cp "$top/tests/pkg/guest-init" "$root/init"
	# The module where DKMS installed it, and depmod's view of this tree.
	ko=$(modinfo -k "$k" -F filename asyncdev) || return 1
	mkdir -p "$root$(dirname "$ko")" && cp "$ko" "$root$ko"
	cp /lib/modules/"$k"/modules.{builtin,builtin.modinfo,order} "$root/lib/modules/$k/"
	depmod -b "$root" "$k" || return 1
	grep -q "^updates/dkms/asyncdev.ko" "$root/lib/modules/$k/modules.dep" || return 1
	# Its GNU build ID (the module has no srcversion without MODULE_VERSION).
	case "$ko" in
	*.xz) xz -dc "$ko" > "$tmp/asyncdev.ko" ;;
	*.zst) zstd -qdc "$ko" > "$tmp/asyncdev.ko" ;;
	*.gz) gzip -dc "$ko" > "$tmp/asyncdev.ko" ;;
	*) cp "$ko" "$tmp/asyncdev.ko" ;;
	esac
	readelf -n "$tmp/asyncdev.ko" | awk '/Build ID:/ {print $3}' > "$root/etc/asyncdev-build-id"
	[ -s "$root/etc/asyncdev-build-id" ] || return 1
	# kmod, the packaged tools and the consumer programs, with their libraries.
	cp /usr/bin/kmod "$root/sbin/kmod"
	for l in modprobe rmmod insmod lsmod modinfo; do ln -s kmod "$root/sbin/$l"; done
	for b in "${tools[@]}"; do cp /usr/bin/$b "$root/usr/bin/"; done
	cp "$tmp"/pc/asyncdev-consumer-pc "$tmp"/cm/asyncdev-consumer "$tmp"/cm/asyncdev-consumer-static \
		"$root/usr/local/bin/" 2>/dev/null || true
	for lib in $(for b in /usr/bin/kmod "$root"/usr/bin/* "$root"/usr/local/bin/*; do
			ldd "$b" | grep -o '/[^ ]*'; done | sort -u); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib"
	done
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$cpio"
}
for k in $KVERS; do
	t=$(date +%s)
	log=$out/guest-$k.log
	if ! mkinitramfs "$k" "$tmp/initramfs-$k.cpio" > "$out/initramfs-$k.log" 2>&1; then
		fail "guest $k: initramfs (log: $out/initramfs-$k.log)"; continue
	fi
	"$top/tests/qemu/watchdog.sh" "$GUEST_TIMEOUT" "${GUEST_SILENCE_TIMEOUT:-60}" \
		nice qemu-system-x86_64 $accel -m 1G -smp 2 -no-reboot \
		-nographic -kernel /boot/vmlinuz-"$k" -initrd "$tmp/initramfs-$k.cpio" \
		-append "console=ttyS0 panic=-1 quiet" < /dev/null > "$log" 2>&1
	qrc=$?
	tr -d '\r' < "$log" > "$log.tmp" && mv "$log.tmp" "$log"
	n_pass=$(grep -c '^PKG-SMOKE: PASS' "$log")
	n_fail=$(grep -c '^PKG-SMOKE: FAIL' "$log")
	grep '^PKG-SMOKE: \(PASS\|FAIL\)' "$log" | sed "s/^PKG-SMOKE: /    [$k] /"
	if grep -qx 'PKG-SMOKE-RESULT: 0' "$log" && [ "$n_fail" = 0 ] && [ "$n_pass" -gt 0 ]; then
		pass "guest $k: modprobe asyncdev (DKMS build), nodes, round trips, GET_INFO, tools, consumer, rmmod: $n_pass checks ($(elapsed $t), $accel)"
	elif [ $qrc = 124 ] || [ $qrc = 137 ]; then
		fail "guest $k: no result within ${GUEST_TIMEOUT}s (log: $log)"; tail -n 20 "$log"
	else
		fail "guest $k: $n_fail of $((n_pass + n_fail)) checks failed, qemu exit $qrc (log: $log)"
		[ "$n_pass$n_fail" != 00 ] || tail -n 20 "$log"
	fi
done

finish
