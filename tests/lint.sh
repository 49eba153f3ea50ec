#!/bin/bash
# Kernel-side lint: checkpatch --strict (from the newest Debian
# linux-source-<series> installed) on driver/, once, and sparse (make C=2)
# against each kernel given. Fails on any report. LINUX_VERSION_CODE is
# allowed: driver/compat.h is the one place an out-of-tree module needs it.
#
#   lint.sh KDIR[=MODDIR]...
#
# MODDIR: the copy of Kbuild and driver/ to build in (default: the tree
# itself); each kernel of make check's matrix has its own copy, since Kbuild
# writes objects next to the sources. The build uses make check-build's
# flags (W=1, -Werror), so the objects stay valid for it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || { echo "usage: lint.sh KDIR[=MODDIR]..." >&2; exit 2; }
build=${BUILD:-$top/build}
cp_dir=$build/checkpatch
src=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1)
[ -n "$src" ] || { echo "lint: linux-source not installed (make deps)" >&2; exit 1; }
# Extracted again when a newer linux-source is installed.
if [ ! -x "$cp_dir/scripts/checkpatch.pl" ] || [ "$(cat "$cp_dir/.source" 2>/dev/null)" != "$src" ]; then
	rm -rf "$cp_dir" && mkdir -p "$cp_dir"
	tar -xf "$src" -C "$cp_dir" --strip-components=1 --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' '*/scripts/const_structs.checkpatch'
	echo "$src" > "$cp_dir/.source"
fi

echo "lint: checkpatch --strict driver/ ($(basename "$src" .tar.xz))"
files=$(cd "$top" && ls driver/*.[ch] driver/uapi/*.h | grep -v -e '\.mod\.c$' -e '^driver/trace\.h$' | sed "s|^|$top/|")
# shellcheck disable=SC2086
report=$("$cp_dir/scripts/checkpatch.pl" --strict --no-tree --quiet --terse \
	--ignore LINUX_VERSION_CODE -f $files | grep -v '^total: 0 errors, 0 warnings, 0 checks' || true)
# driver/trace.h has the TRACE_EVENT() layout of include/trace/events/*.h,
# which --strict answers with these two checks on every event (as it does
# for the kernel's own trace headers); everything else applies.
report=$report$("$cp_dir/scripts/checkpatch.pl" --strict --no-tree --quiet --terse \
	--ignore OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT -f "$top/driver/trace.h" |
	grep -v '^total: 0 errors, 0 warnings, 0 checks' || true)
if [ -n "$report" ]; then
	echo "$report"
	echo "lint: checkpatch reports problems" >&2
	exit 1
fi

for arg in "$@"; do
	kdir=${arg%%=*} mod=$top
	case $arg in *=*) mod=${arg#*=} ;; esac
	[ -f "$kdir/Makefile" ] || { echo "lint: no kernel build tree at '$kdir' (make deps)" >&2; exit 1; }
	echo "lint: sparse (make C=2) against $kdir"
	out=$(make -s -C "$kdir" M="$mod" W=1 KCFLAGS=-Werror C=2 CHECK="sparse" modules 2>&1 || true)
	if echo "$out" | grep -E 'warning|error'; then
		echo "lint: sparse reports problems against $kdir" >&2
		exit 1
	fi
done
echo "lint: clean"
