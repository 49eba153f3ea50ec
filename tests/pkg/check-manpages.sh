#!/bin/bash
# The man pages against the tools' --help: every long option one prints must
# be in the other, and the version must match --version. The pages are
# generated from --help by help2man (tools/CMakeLists.txt, TOOLS_DIR/man/),
# so this checks the generation itself (a lost option, a stale page).
# usage: check-manpages.sh TOOLS_DIR      (where asyncdevctl etc. were built)
# Run by ctest (tool_manpages), debian/rules (dh_auto_test) and
# tests/pkg/check-packages.sh.
set -euo pipefail
bindir=${1:?usage: check-manpages.sh TOOLS_DIR}
rc=0
# asyncdev-trace is built only where libtracefs is (make deps installs it).
tools="asyncdevctl asyncdev-watch asyncdev-feed asyncdev-bench"
[ -x "$bindir/asyncdev-trace" ] && tools="$tools asyncdev-trace"
for t in $tools; do
	page=$bindir/man/$t.1
	[ -f "$page" ] || { echo "manpages: $page missing"; rc=1; continue; }
	# groff escapes '-' as '\-' in the source.
	help=$("$bindir/$t" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
	man=$(sed 's/\\-/-/g' "$page" | grep -o -- '--[a-z][a-z-]*' | sort -u)
	missing=$(comm -23 <(echo "$help") <(echo "$man") | tr '\n' ' ')
	extra=$(comm -13 <(echo "$help") <(echo "$man") | tr '\n' ' ')
	ver=$("$bindir/$t" --version | awk '{print $NF}')
	grep -q "\"asyncdev $ver\"" "$page" || { echo "manpages: $t.1 is not for version $ver"; rc=1; }
	[ -z "$missing" ] || { echo "manpages: $t.1 lacks $missing(in --help)"; rc=1; }
	[ -z "$extra" ] || { echo "manpages: $t.1 has $extra(not in --help)"; rc=1; }
	if command -v groff >/dev/null; then
		w=$(groff -man -ww -z "$page" 2>&1) || true
		[ -z "$w" ] || { echo "manpages: $t.1: $w"; rc=1; }
	fi
done
[ $rc = 0 ] && echo "manpages: 5 pages agree with --help and --version"
exit $rc
