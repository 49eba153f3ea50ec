#!/bin/sh
# The module is pinned while a node is open, and unload leaves nothing behind.
set -u
ko=${ASYNCDEV_KO:?}
rc=0
insmod "$ko" || exit 1
exec 3</dev/asyncdev
if rmmod asyncdev 2>/dev/null; then
	echo "FAIL: rmmod succeeded with /dev/asyncdev open"; rc=1
else
	echo "ok: rmmod refused while open"
fi
exec 3<&-
rmmod asyncdev || { echo "FAIL: rmmod after close"; rc=1; }
for p in /dev/asyncdev /dev/asyncmem /sys/class/misc/asyncdev /sys/module/asyncdev; do
	[ -e "$p" ] && { echo "FAIL: $p still exists after unload"; rc=1; }
done
[ $rc = 0 ] && echo "ok: unload removed the nodes, sysfs entries and module"
exit $rc
