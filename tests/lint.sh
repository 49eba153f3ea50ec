#!/bin/bash
# Kernel-side lint: checkpatch --strict (from Debian's linux-source-6.1) and
# sparse (make C=2) on driver/. Fails on any report. LINUX_VERSION_CODE is
# allowed: driver/compat.h is the one place an out-of-tree module needs it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=${1:?usage: lint.sh KDIR}
build=${BUILD:-$top/build}
cp_dir=$build/checkpatch
if [ ! -x "$cp_dir/scripts/checkpatch.pl" ]; then
	src=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1)
	[ -n "$src" ] || { echo "lint: linux-source not installed (make deps)" >&2; exit 1; }
	mkdir -p "$cp_dir"
	tar -xf "$src" -C "$cp_dir" --strip-components=1 --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' '*/scripts/const_structs.checkpatch'
fi

echo "lint: checkpatch --strict driver/"
files=$(cd "$top" && ls driver/*.[ch] driver/uapi/*.h | grep -v '\.mod\.c$' | sed "s|^|$top/|")
# shellcheck disable=SC2086
report=$("$cp_dir/scripts/checkpatch.pl" --strict --no-tree --quiet --terse \
	--ignore LINUX_VERSION_CODE -f $files | grep -v '^total: 0 errors, 0 warnings, 0 checks' || true)
if [ -n "$report" ]; then
	echo "$report"
	echo "lint: checkpatch reports problems" >&2
	exit 1
fi

echo "lint: sparse (make C=2)"
out=$(make -s -C "$kdir" M="$top" C=2 CHECK="sparse" modules 2>&1 || true)
if echo "$out" | grep -E 'warning|error'; then
	echo "lint: sparse reports problems" >&2
	exit 1
fi
echo "lint: clean"
