#!/bin/sh
# Print the newest kernel version that has both /boot/vmlinuz-<ver> and its
# headers (the kernel the module is built for and the guest boots). Never
# `uname -r`: the host may run a different kernel without modules.
for img in /boot/vmlinuz-*; do
	[ -e "$img" ] || continue
	ver=${img#/boot/vmlinuz-}
	if [ -e "/lib/modules/$ver/build/Makefile" ] ||
	   [ -e "/usr/src/linux-headers-$ver/Makefile" ]; then
		echo "$ver"
	fi
done | sort -V | tail -n 1
