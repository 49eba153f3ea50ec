#!/bin/sh
# The seed module parameter seeds both nodes' PRNG at load (sysfs seed shows
# it), and two loads with the same seed replay the same short transfers.
set -u
ko=${ASYNCDEV_KO:?}
rc=0
pattern() {	# which of 32 two-byte reads of /dev/asyncmem come back short
	asyncdevctl -d /dev/asyncmem short r ppm=300000 bytes=1 || return 1
	p=
	for _ in $(seq 32); do
		n=$(dd if=/dev/asyncmem bs=2 count=1 2>/dev/null | wc -c)
		p="$p$n"
	done
	echo "$p"
}
insmod "$ko" seed=123456789 || exit 1
for n in asyncdev asyncmem; do
	s=$(cat /sys/class/misc/$n/seed)
	[ "$s" = 123456789 ] && echo "ok: $n seed $s" || { echo "FAIL: $n seed $s"; rc=1; }
done
a=$(pattern)
rmmod asyncdev || exit 1
insmod "$ko" seed=123456789 || exit 1
b=$(pattern)
rmmod asyncdev || exit 1
echo "patterns: $a / $b"
case "$a" in *1*) ;; *) echo "FAIL: no short read in $a"; rc=1 ;; esac
[ "$a" = "$b" ] && echo "ok: same seed, same choices" || { echo "FAIL: $a != $b"; rc=1; }
exit $rc
