#!/bin/sh
# The kernels the module is built for and the guest boots: those with both
# /boot/vmlinuz-<ver> and headers installed. Never `uname -r`: the host may
# run a different kernel without modules.
#
#   kver.sh           the newest such kernel (make, demo, qemu-shell, bench)
#   kver.sh --matrix  the newest of each supported Debian series installed,
#                     oldest series first (make check); when none is, the
#                     newest kernel, so that the check still runs somewhere
#   kver.sh --series  the supported series
#
# Supported series: the guest suite runs on them. 6.1 is bookworm's kernel,
# 6.12 bookworm's backport and trixie's kernel.
SERIES="6.1 6.12"

installed() {
	for img in /boot/vmlinuz-*; do
		[ -e "$img" ] || continue
		ver=${img#/boot/vmlinuz-}
		if [ -e "/lib/modules/$ver/build/Makefile" ] ||
		   [ -e "/usr/src/linux-headers-$ver/Makefile" ]; then
			echo "$ver"
		fi
	done | sort -V
}

case ${1:-} in
'')	installed | tail -n 1 ;;
--series) echo "$SERIES" ;;
--matrix)
	all=$(installed)
	found=
	for s in $SERIES; do
		# 6.1.0-57-amd64 is in series 6.1; 6.12.117+deb12-amd64 in 6.12
		v=$(echo "$all" | awk -v s="$s" -F. '$1 "." $2 == s' | tail -n 1)
		[ -n "$v" ] && echo "$v" && found=1
	done
	[ -n "$found" ] || echo "$all" | tail -n 1
	;;
*)	echo "usage: kver.sh [--matrix|--series]" >&2; exit 2 ;;
esac
