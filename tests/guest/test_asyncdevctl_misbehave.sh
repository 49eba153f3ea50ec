#!/bin/sh
# Guest test of asyncdevctl's misbehaviour commands (latency, seed, stall,
# short, badblocks): set, show (text and --json), what the device then does,
# usage errors (exit 2) and refusals by the driver (exit 1).
# POSIX sh (busybox); restores the defaults of every knob it touches.
. "$(dirname "$0")/lib.sh"
out=/tmp/tm.out err=/tmp/tm.err out_lines=10 err_lines=10
ctl=asyncdevctl
M=/dev/asyncmem

command -v $ctl > /dev/null || ctl=/opt/asyncdev/bin/asyncdevctl

expect 0 "latency set" $ctl -d $M latency r exp 100us 1ms 1000 20
expect 0 "latency show" $ctl -d $M latency
has $out '^read +exp +base=100000ns spread=1000000ns tail_ppm=1000 tail_mult=20' "latency shows read"
has $out '^write +fixed +base=0ns' "latency shows write untouched"
expect 0 "latency --json" $ctl -d $M --json latency
has $out '"read": \{"dist": "exp", "base_ns": 100000' "latency json"
has /sys/class/misc/asyncmem/read_latency '^exp 100000 1000000 1000 20$' "sysfs agrees"
expect 2 "latency bad dist" $ctl -d $M latency r gauss 1ms
has $err "unknown distribution 'gauss'" "names the distribution"
expect 2 "latency base > 10s" $ctl -d $M latency r fixed 11s
expect 1 "latency fixed with spread: driver EINVAL" $ctl -d $M latency r fixed 1ms 1ms
has $err 'ioctl\(ASYNCDEV_IOC_SET_LATENCY\): Invalid argument' "names the ioctl"
expect 0 "latency reset" $ctl -d $M latency rw fixed 0

expect 0 "seed set" $ctl -d $M seed 4242
expect 0 "seed show" $ctl -d $M seed
has $out '^4242$' "seed reads back"
expect 2 "seed bad" $ctl -d $M seed -1

expect 0 "short set" $ctl -d $M short r every=1 bytes=10
expect 0 "short show" $ctl -d $M short
has $out '^r every=1 ppm=0 bytes=10 permille=0$' "short reads back"
n=$(dd if=$M bs=100 count=1 2>/dev/null | wc -c)
[ "$n" = 10 ] && ok "a 100-byte read returns 10 bytes" || bad "short read returned $n bytes"
expect 2 "short both bytes and permille" $ctl -d $M short r every=1 bytes=10 permille=5
expect 2 "short without trigger" $ctl -d $M short r bytes=10
expect 0 "short off" $ctl -d $M short off

expect 0 "stall set" $ctl stall w ppm=500000
expect 0 "stall show --json" $ctl --json stall
has $out '"dirs": "w", "every": 0, "ppm": 500000' "stall json"
expect 2 "stall bad dir" $ctl stall x every=1
expect 2 "stall ppm too large" $ctl stall r ppm=1000001
expect 0 "stall off" $ctl stall off
expect 0 "stall shows off" $ctl stall
has $out '^off$' "stall off reads back"

expect 0 "badblocks add" $ctl -d $M badblocks add 4096-8191
expect 0 "badblocks add 2" $ctl -d $M badblocks add 8192-9000
expect 0 "badblocks writes fail" $ctl -d $M badblocks writes fail
expect 0 "badblocks list" $ctl -d $M badblocks
has $out '^writes fail$' "lists the write rule"
has $out '^4096-9000$' "lists the merged range"
expect 1 "dd over a bad range fails" dd if=$M of=/dev/null bs=4096 skip=1 count=1
expect 0 "badblocks --json" $ctl -d $M --json badblocks
has $out '"ranges": \[\[4096, 9000\]\]' "json ranges"
expect 2 "badblocks bad range" $ctl -d $M badblocks add 10-5
expect 1 "badblocks past the end: EINVAL" $ctl -d $M badblocks add 0-99999999999
expect 1 "badblocks on the FIFO: ENOTTY" $ctl badblocks add 0-1
expect 0 "badblocks clear-all" $ctl -d $M badblocks clear-all
expect 0 "badblocks writes pass" $ctl -d $M badblocks writes pass
expect 0 "seed reset" $ctl -d $M seed 0

finish
