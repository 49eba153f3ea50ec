#!/bin/sh
# The demo shown by `make demo` (runs inside the guest).
set -e
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say "Load the module"
insmod /lib/modules/asyncdev.ko
dmesg | grep 'asyncdev:' | tail -n 1
ls -l /dev/asyncdev /dev/asyncmem
say "Write to the FIFO, read it back"
echo "hello from the asyncdev FIFO" > /dev/asyncdev
echo "level: $(cat /sys/class/misc/asyncdev/stats/fifo_level) bytes"
dd if=/dev/asyncdev bs=4096 count=1 2>/dev/null
say "Statistics (/sys/class/misc/asyncdev/stats)"
for f in /sys/class/misc/asyncdev/stats/*; do printf '  %-18s %s\n' "$(basename "$f")" "$(cat "$f")"; done
if [ -x /opt/asyncdev/tests/guest_demo_extra ]; then /opt/asyncdev/tests/guest_demo_extra; fi
say "Unload"
rmmod asyncdev && echo "module unloaded"
