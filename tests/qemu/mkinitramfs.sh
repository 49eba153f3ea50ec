#!/bin/bash
# Build the guest initramfs: busybox-static, /init, the module, the guest
# tests, tools and examples, fio, and every shared library ldd lists.
# usage: mkinitramfs.sh OUT.cpio MODULE.ko USERBUILD_DIR
set -euo pipefail
out=$1 ko=$2 ub=$3
top=$(cd "$(dirname "$0")/../.." && pwd)

root=$(mktemp -d "${TMPDIR:-/tmp}/asyncdev-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"	# mktemp made it 0700: unprivileged tests need /
mkdir -p "$root"/{bin,sbin,etc,lib/modules,opt/asyncdev/{bin,lib,tests,tests/module}}

cp /bin/busybox "$root/bin/busybox"
cp "$top/tests/qemu/init" "$root/init"
cp "$top/tests/qemu/guest-suite.sh" "$top/tests/qemu/guest-demo.sh" "$root/opt/asyncdev/"
cp "$ko" "$root/lib/modules/asyncdev.ko"
printf 'root:x:0:0:root:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/tmp:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"

bins=()
add_bin() {	# add_bin FILE DESTDIR
	cp "$1" "$root/$2/"
	bins+=("$1")
}
# Guest test programs and scripts (with lib.sh, which the scripts source
# from their own directory and guest-suite.sh does not run).
while IFS= read -r f; do add_bin "$f" opt/asyncdev/tests; done < <(
	find "$ub/tests/guest" -type f -perm -u+x -name 'guest_*' 2>/dev/null | sort)
for f in "$top"/tests/guest/*.sh; do [ -e "$f" ] && cp "$f" "$root/opt/asyncdev/tests/"; done
for f in "$top"/tests/guest/module/*.sh; do [ -e "$f" ] && cp "$f" "$root/opt/asyncdev/tests/module/"; done
for f in "$top"/tests/guest/fio/*.fio; do [ -e "$f" ] && mkdir -p "$root/opt/asyncdev/fio" && cp "$f" "$root/opt/asyncdev/fio/"; done
# Tools and examples.
for d in "$ub/tools" "$ub/libasyncdev/examples"; do
	[ -d "$d" ] || continue
	while IFS= read -r f; do add_bin "$f" opt/asyncdev/bin; done < <(
		find "$d" -maxdepth 1 -type f -perm -u+x ! -name '*.so*' | sort)
done
# Third-party programs the guest tests use.
for p in fio trinity; do
	f=$(command -v "$p") || { echo "mkinitramfs: $p not installed (make deps)" >&2; exit 1; }
	add_bin "$f" bin
done
# Tracing front ends for docs/tracing.md (make deps installs them): in the
# guest when the host has them. bpftrace is not: Debian's pulls in LLVM
# (over 100 MB), too much for an initramfs.
for p in trace-cmd perf; do
	f=$(command -v "$p") && add_bin "$f" bin
done

# Shared libraries: system ones at the paths ldd resolves them to, the
# project's own (found through the build tree's RPATH, which may lie under
# /tmp, hidden by the guest's tmpfs) in /opt/asyncdev/lib, which /init puts
# on LD_LIBRARY_PATH.
for lib in $(for b in "${bins[@]}"; do ldd "$b" 2>/dev/null | grep -o '/[^ ]*'; done | sort -u); do
	case "$lib" in
	/lib/*|/lib64/*|/usr/lib/*|/usr/lib64/*) dest=$lib ;;
	*) dest=/opt/asyncdev/lib/$(basename "$lib") ;;
	esac
	[ -e "$root$dest" ] && continue
	mkdir -p "$root$(dirname "$dest")"
	cp -L "$lib" "$root$dest"
done

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$out.tmp"
mv "$out.tmp" "$out"
echo "initramfs: $out ($(du -h "$out" | cut -f1), ${#bins[@]} programs)"
