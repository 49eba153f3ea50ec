#!/bin/sh
# trinity (Debian's trinity 1.9+git20230109, "Trinity 2023.01") against the
# two device nodes only: one bounded run per node with a fixed seed, a fixed
# number of syscalls and two children, run as the unprivileged user nobody.
#
#   -V /dev/NODE --enable-fds=pseudo
#	the only fd provider is the file provider ("pseudo") and its only
#	victim is the node: every fd argument trinity generates is the node,
#	opened O_RDWR with random open/fcntl flags (no sockets, pipes, perf,
#	epoll, eventfd, timerfd, memfd, testfiles, drm).
#   -c SYSCALL ...
#	the calls that reach a file's f_ops (read/write, vectored, positioned
#	and v2 variants, poll/ppoll/select, fcntl, lseek) plus the aio and
#	io_uring entry points. Left out:
#	- ioctl: trinity 2023.01 segfaults in its ioctl sanitiser when the
#	  pipe/testfile/socket fd providers are disabled (an ioctl group's
#	  fd_test walks their never initialised object lists), so nearly
#	  every ioctl kills the child before the call;
#	  tests/guest/test_fuzz_ioctl.c fuzzes the ioctls instead;
#	- pselect6: marked AVOID in trinity, which ignores -c pselect6.
#	io_submit and io_uring_* run but cannot reach the driver's async
#	paths in this trinity (io_submit gets a random ctx_id: EINVAL;
#	io_uring_enter/register get the node's fd, not a ring: EOPNOTSUPP);
#	those paths are covered by the aio/uring/fio tests.
#   unprivileged (su nobody)
#	as root trinity would change the device configuration and send SIGIO
#	(F_SETOWN on a random pid) to the test suite itself; --dropprivs and
#	--dangerous also cost a fixed 10 s countdown.
#
# While trinity fuzzes the FIFO, the producer runs (200 records/s), a
# reader (dd, root) drains it and it is flushed every second: trinity's
# blocking reads and writes (large writev()s above all) would otherwise
# stall a child until trinity's watchdog kills it after 30 s.
#
# Passes when, for each node, trinity completed its syscalls in time, no
# trinity process survives, every file on the nodes was released (module
# refcount 0, nothing in flight), the kernel log gained no BUG/WARNING/
# Oops/KASAN/lockdep report, and both nodes still move data (FIFO write +
# read, asyncmem write + read at an offset, an aio read through libaio).
# Restores the device defaults on exit. POSIX sh (busybox); root.
# Takes about 30-45 s under TCG with Debian's kernel, about 2 min with the
# debug kernel (KASAN, lockdep, kmemleak), which has no IA32 emulation:
# there trinity makes 64-bit calls only.
#
# Environment: ADEV_TRINITY_SEED (default 4242), ADEV_TRINITY_OPS (syscalls
# per node, default 3000), ADEV_TRINITY_CHILDREN (2), ADEV_TRINITY_TIMEOUT
# (seconds per node, default 150), ADEV_TRINITY_SYSCALLS (space-separated
# list replacing the default one), ADEV_TRINITY_NODES (asyncdev asyncmem).
SEED=${ADEV_TRINITY_SEED:-4242}
OPS=${ADEV_TRINITY_OPS:-3000}
CHILDREN=${ADEV_TRINITY_CHILDREN:-2}
TMO=${ADEV_TRINITY_TIMEOUT:-150}
NODES=${ADEV_TRINITY_NODES:-asyncdev asyncmem}
CALLS=${ADEV_TRINITY_SYSCALLS:-read write readv writev pread64 pwrite64 preadv pwritev preadv2 pwritev2 lseek fcntl poll ppoll select io_submit io_uring_setup io_uring_enter io_uring_register}
NOBODY=65534
W=/tmp/trinity.$$
fail=0 helper=

# lib.sh for restore_nodes; this script has its own bad() (one fail flag,
# no check count), defined after it.
. "$(dirname "$0")/lib.sh"
say() { echo "trinity: $*"; }
bad() { say "FAIL $*"; fail=1; }

restore() {
	[ -n "$helper" ] && kill $helper 2>/dev/null && wait $helper 2>/dev/null
	helper=
	restore_nodes reset
}
cleanup() {
	kill_nobody
	restore
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# PIDs of processes running as nobody: in the guest, only trinity's.
nobody_pids() {
	grep -l "^Uid:[[:space:]]*$NOBODY[[:space:]]" /proc/[0-9]*/status 2>/dev/null |
		sed 's|^/proc/\([0-9]*\)/status$|\1|'
}
# Kill what trinity left behind; 0 if nothing remains after 10 s.
kill_nobody() {
	i=0
	while :; do
		pids=$(nobody_pids)
		[ -z "$pids" ] && return 0
		[ $i -ge 20 ] && break
		kill -9 $pids 2>/dev/null
		sleep 0.5
		i=$((i + 1))
	done
	say "processes of trinity survive SIGKILL (hang in the driver?):"
	for p in $pids; do
		echo "  pid $p: $(cut -d' ' -f2,3 /proc/$p/stat 2>/dev/null) wchan=$(cat /proc/$p/wchan 2>/dev/null)"
		sed 's/^/    /' /proc/$p/stack 2>/dev/null
	done
	return 1
}

module_refs() { cat /sys/module/asyncdev/refcnt 2>/dev/null || echo '?'; }
stat_of() { asyncdevctl -d "$1" stats 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'; }

# Wait (up to 10 s) until nothing holds the nodes open: files are released,
# also those an io_uring instance released from its workqueue.
released() {
	i=0
	while [ "$(module_refs)" != 0 ] && [ $i -lt 20 ]; do sleep 0.5; i=$((i + 1)); done
	[ "$(module_refs)" = 0 ]
}

# Compact --stats block: one line per syscall and arch.
summarize() {	# summarize OUTFILE
	awk '
	/^(32|64)bit:$/ { arch = $1; sub(":", "", arch); next }
	/: \(attempted:[0-9]+\. success:[0-9]+\. failures:[0-9]+\.$/ {
		flush(); name = $1; sub(":", "", name)
		s = substr($0, index($0, "(")); gsub(/[^0-9 ]/, " ", s); split(s, n, " ")
		line = sprintf("  %-5s %-18s %5d calls %5d ok %5d failed", arch, name, n[1], n[2], n[3])
		errs = ""; next
	}
	/^    [^ ].*: [0-9]+$/ && line != "" {
		e = $0; sub(/^    /, "", e); errs = errs (errs == "" ? " (" : ", ") e; next
	}
	{ flush() }
	END { flush() }
	function flush() { if (line != "") print line (errs == "" ? "" : errs ")"); line = "" }
	' "$1"
}

[ -e /dev/asyncdev ] && [ -e /dev/asyncmem ] || { say "FAIL: device nodes missing"; exit 1; }
command -v trinity >/dev/null 2>&1 || { say "FAIL: trinity not installed (initramfs)"; exit 1; }
grep -q "^[^:]*:[^:]*:$NOBODY:" /etc/passwd || { say "FAIL: no user nobody ($NOBODY) in /etc/passwd"; exit 1; }

# 32-bit syscalls (int 0x80) only where the kernel has IA32 emulation:
# without it every 32-bit call would kill the child.
arch=
grep -qE ' __(ia32|x32)_sys_read$' /proc/kallsyms 2>/dev/null || arch="-a 64"
cflags=
for c in $CALLS; do cflags="$cflags -c $c"; done

mkdir -p "$W" && chmod 0755 "$W"
restore
dmesg_lines=$(dmesg | wc -l)
t_all=$(date +%s)
say "trinity $(trinity --help 2>&1 | sed -n 's/^Trinity \([^ ]*\).*/\1/p' | head -n 1), seed $SEED, $OPS syscalls per node, $CHILDREN children, as nobody${arch:+, 64-bit only}"
say "syscalls: $CALLS"
say "command per node: trinity -q -V /dev/NODE --enable-fds=pseudo -s $SEED -N $OPS -C $CHILDREN --stats $arch -c SYSCALL..."

for node in $NODES; do
	dev=/dev/$node
	d=$W/$node
	fail_before=$fail fail=0
	mkdir -p "$d" && chown $NOBODY "$d"
	if [ "$node" = asyncdev ]; then
		asyncdevctl producer start 200 >/dev/null || bad "$node: cannot start the producer"
		dd if=$dev of=/dev/null bs=65536 2>/dev/null &
		helper=$!
		( while :; do sleep 1; asyncdevctl flush >/dev/null 2>&1; done ) &
		helper="$helper $!"
	fi
	cmd="cd $d && exec trinity -q -V $dev --enable-fds=pseudo -s $SEED -N $OPS -C $CHILDREN --stats $arch $cflags"
	t0=$(date +%s)
	timeout -s KILL "$TMO" su -s /bin/sh nobody -c "$cmd" > "$d/out" 2>&1
	rc=$?
	dt=$(( $(date +%s) - t0 ))
	[ -n "$helper" ] && { kill $helper 2>/dev/null; wait $helper 2>/dev/null; helper=; }
	kill_nobody || bad "$node: trinity processes hang"
	asyncdevctl producer stop >/dev/null 2>&1

	ran=$(sed -n 's/.*Ran \([0-9]*\) syscalls\. Successes: \([0-9]*\) *Failures: \([0-9]*\).*/\1 \2 \3/p' "$d/out" | tail -n 1)
	spawned=$(cat "$d"/trinity-child*.log 2>/dev/null | sed -n 's/^\[child[0-9]*:\([0-9]*\)\].*/\1/p' | sort -u | wc -l)
	say "$node: exit $rc in ${dt}s; ran ${ran%% *} syscalls ($(echo "$ran" | cut -d' ' -f2) ok, $(echo "$ran" | cut -d' ' -f3) failed), seed $SEED, $spawned child processes"
	summarize "$d/out"
	if [ "$rc" -eq 137 ] || [ "$rc" -eq 124 ]; then
		bad "$node: trinity did not finish within ${TMO}s"
	elif [ "$rc" -ne 0 ]; then
		bad "$node: trinity exited with $rc"
	fi
	if [ -z "$ran" ] || [ "${ran%% *}" -lt "$OPS" ]; then
		bad "$node: trinity ran ${ran%% *} of $OPS syscalls"
	fi
	grep -q 'kernel became tainted' "$d/out" && bad "$node: trinity saw the kernel become tainted"
	grep -q "Added 1 filenames from $dev" "$d/out" || bad "$node: trinity did not take $dev as its only victim"
	if grep -q "^\[main\] file fd:" "$d/out" && grep "^\[main\] file fd:" "$d/out" | grep -vq "filename:$dev "; then
		bad "$node: trinity opened files other than $dev"
	fi
	released || bad "$node: files still hold the module after trinity exited (refcnt $(module_refs))"
	if [ $fail -ne 0 ]; then
		say "$node: trinity output (last 30 lines):"
		grep -v 'start: 0x' "$d/out" | tail -n 30 | sed 's/^/    /'
		for l in "$d"/trinity-child*.log; do
			[ -e "$l" ] || continue
			say "$node: last calls in $(basename "$l"):"
			grep -v 'start: 0x' "$l" | tail -n 5 | sed 's/^/    /'
		done
		say "$node: reproduce (as nobody, module loaded): $cmd"
	fi
	[ $fail_before -ne 0 ] && fail=1
done
say "trinity total $(( $(date +%s) - t_all ))s"

# No request left in the device, and the kernel log stayed clean.
for d in /dev/asyncdev /dev/asyncmem; do
	n=$(stat_of $d in_flight)
	[ "$n" = 0 ] || bad "$d: in_flight $n after all files were closed"
done
if dmesg | tail -n +$((dmesg_lines + 1)) |
	grep -E 'BUG:|WARNING:|Oops|general protection|KASAN:|UBSAN:|possible circular locking|possible recursive locking|inconsistent lock state|blocked for more than|refcount_t:|list_(add|del) corruption' > "$W/dmesg.bad"; then
	bad "the kernel log reports problems:"
	sed -n '1,40s/^/    /p' "$W/dmesg.bad"
fi

# The nodes still work, with the defaults restored.
restore
msg="trinity-check-$$-0123456789abcdef"
if printf '%s' "$msg" > /dev/asyncdev; then
	got=$(timeout 10 dd if=/dev/asyncdev bs=4096 count=1 2>/dev/null)
	[ "$got" = "$msg" ] && say "ok /dev/asyncdev: record written and read back" ||
		bad "/dev/asyncdev: read back '$got', wrote '$msg'"
else
	bad "/dev/asyncdev: write failed"
fi
if printf '%s' "$msg" | dd of=/dev/asyncmem bs=1 seek=12345 conv=notrunc 2>/dev/null; then
	got=$(dd if=/dev/asyncmem bs=1 skip=12345 count=${#msg} 2>/dev/null)
	[ "$got" = "$msg" ] && say "ok /dev/asyncmem: written and read back at offset 12345" ||
		bad "/dev/asyncmem: read back '$got' at 12345"
else
	bad "/dev/asyncmem: write failed"
fi
asyncdev-feed --count 8 --rate 200 --quiet > /dev/null 2>&1 &
fpid=$!
if asyncdev-watch --mode libaio --count 8 --duration 20 --quiet > "$W/watch" 2>&1; then
	say "ok /dev/asyncdev: 8 records through libaio after fuzzing"
else
	bad "/dev/asyncdev: asyncdev-watch --mode libaio failed:"
	sed 's/^/    /' "$W/watch"
fi
wait $fpid || bad "asyncdev-feed failed"
restore
released || bad "files still hold the module at the end (refcnt $(module_refs))"

[ $fail -eq 0 ] && say "PASS" || say "FAILED"
exit $fail
