# Helpers shared by the guest test scripts (tests/guest/*.sh), which source
# it from their own directory:
#	. "$(dirname "$0")/lib.sh"
# Not a test: tests/qemu/mkinitramfs.sh installs it next to the scripts in
# /opt/asyncdev/tests, and tests/qemu/guest-suite.sh does not run it.
# POSIX sh (busybox). Every variable here is global, as in the scripts.

# Checks. ok and bad count every check in $checks and the failed ones in
# $fails. bad also shows the start of $out and $err (the files where
# expect puts a command's stdout and stderr) when they are not empty: the
# first $out_lines and $err_lines lines (15 each unless the script sets
# them). finish prints the count; its status is 0 when no check failed.
checks=0 fails=0

ok() { checks=$((checks + 1)); echo "  ok   $*"; }
bad() {
	checks=$((checks + 1)); fails=$((fails + 1)); echo "  FAIL $*"
	[ -s "$out" ] && sed -n "1,${out_lines:-15}s/^/       out: /p" "$out"
	[ -s "$err" ] && sed -n "1,${err_lines:-15}s/^/       err: /p" "$err"
	return 0
}
# expect RC DESCRIPTION CMD...: run CMD (stdout $out, stderr $err), check its exit status.
expect() {
	want=$1 desc=$2; shift 2
	"$@" > "$out" 2> "$err"
	rc=$?
	if [ "$rc" = "$want" ]; then ok "$desc (exit $rc)"; return 0; fi
	bad "$desc: exit $rc, expected $want"
	return 1
}
# has FILE PATTERN DESCRIPTION: grep -E
has() {
	if grep -Eq -- "$2" "$1"; then ok "$3"; else bad "$3 (no '$2' in $(basename "$1"))"; fi
}
# check DESCRIPTION TEST...: TEST (a command) succeeds.
check() {
	desc=$1; shift
	if "$@"; then ok "$desc"; else bad "$desc"; fi
}
# finish [NAME]: "NAME: N checks, M failed" ("N checks, M failed" without
# NAME); the script's last command, so that its exit status is 0 only
# when every check passed.
finish() {
	echo "${1:+$1: }$checks checks, $fails failed"
	[ "$fails" = 0 ]
}

# restore_nodes [reset]: both nodes back to their defaults: no latency or
# jitter, one channel, no fault injection, then the producer stopped and
# the FIFO flushed; with "reset", each node's statistics are reset too
# (asyncdevctl reset). Quiet, and it does not fail: for traps and cleanups.
restore_nodes() {
	for d in /dev/asyncdev /dev/asyncmem; do
		asyncdevctl -d $d set latency_ns=0 jitter_ns=0 channels=1 >/dev/null 2>&1
		asyncdevctl -d $d fault off >/dev/null 2>&1
		[ "${1:-}" = reset ] && asyncdevctl -d $d reset >/dev/null 2>&1
	done
	asyncdevctl set produce_hz=0 >/dev/null 2>&1
	asyncdevctl flush >/dev/null 2>&1
	return 0
}

# fio on /dev/asyncmem (test_fio_*.sh).
mem_sys=/sys/class/misc/asyncmem
# mem_config LATENCY_NS CHANNELS: /dev/asyncmem's service latency (no
# jitter) and channels, through sysfs.
mem_config() {
	echo 0 > "$mem_sys/jitter_ns" && echo "$1" > "$mem_sys/latency_ns" &&
		echo "$2" > "$mem_sys/channels"
}
# fio_status READ|WRITE FILE: fio's first run status line of that kind,
# "READ: bw=... io=...", as "bw io".
fio_status() {
	sed -n "s/^ *$1: bw=\([^ ,]*\).* io=\([^ ,]*\).*/\1 \2/p" "$2" | head -n 1
}
# fio_run NAME TAG JOB LATENCY_NS CHANNELS WANT: run the fio job file JOB
# with /dev/asyncmem configured so, and print one line, "NAME: PASS TAG
# latency=...ns channels=...: ..." with the bandwidth and volume of what
# ran, or "NAME: FAIL ...:" followed by fio's output. WANT is "rw" (the job
# writes, then reads and verifies) or "r" (it reads and verifies). Fails
# (status 1) on a missing job file, a configuration refused, fio's exit
# status, a verify or I/O error, or a missing run status line.
# fio's output goes to ${TMPDIR:-/tmp}/NAME.PID(.err), removed after.
fio_run() {
	fio_name=$1 fio_job=$3 fio_want=$6
	fio_tag="$2 latency=${4}ns channels=$5"
	fio_out=${TMPDIR:-/tmp}/$fio_name.$$
	if [ ! -r "$fio_job" ]; then
		echo "$fio_name: FAIL $fio_tag: no job file $fio_job"; return 1
	fi
	if ! mem_config "$4" "$5"; then
		echo "$fio_name: FAIL $fio_tag: cannot configure $mem_sys"; return 1
	fi
	fio_t0=$(date +%s)
	fio --output="$fio_out" "$fio_job" >/dev/null 2>"$fio_out.err"
	fio_rc=$?
	fio_dt=$(( $(date +%s) - fio_t0 ))
	fio_w=$(fio_status WRITE "$fio_out") fio_r=$(fio_status READ "$fio_out")
	fio_ok=1
	if [ "$fio_rc" -ne 0 ] || grep -q 'verify: bad\|err= *[1-9]' "$fio_out" "$fio_out.err" ||
	   [ -z "$fio_r" ] || { [ "$fio_want" = rw ] && [ -z "$fio_w" ]; }; then
		echo "$fio_name: FAIL $fio_tag: fio exit $fio_rc (${fio_dt}s)"
		cat "$fio_out" "$fio_out.err" 2>/dev/null | sed 's/^/#   /'
		fio_ok=0
	elif [ "$fio_want" = rw ]; then
		echo "$fio_name: PASS $fio_tag: write ${fio_w% *} (${fio_w#* }), verify read ${fio_r% *} (${fio_r#* }), ${fio_dt}s"
	else
		echo "$fio_name: PASS $fio_tag: verify read ${fio_r% *} (${fio_r#* }), ${fio_dt}s"
	fi
	rm -f "$fio_out" "$fio_out.err"
	[ "$fio_ok" = 1 ]
}

# bounded SECS CMD...: run CMD (with the caller's redirections); if it is
# still running after SECS seconds, write its state, wait channel and
# kernel stack, and those of its children, to stderr, SIGKILL it and
# return 124; else CMD's status. A hung tool then fails its own check with
# what it was doing, instead of holding the suite until its time limit.
bounded() {
	b_secs=$1; shift
	"$@" &
	b_pid=$! b_n=0
	while kill -0 $b_pid 2>/dev/null; do
		if [ $b_n -ge $((b_secs * 10)) ]; then
			echo "HUNG after ${b_secs}s: $*" >&2
			for b_p in $b_pid $(cat /proc/$b_pid/task/*/children 2>/dev/null); do
				echo "pid $b_p ($(cat /proc/$b_p/comm 2>/dev/null)): state $(cut -d' ' -f3 /proc/$b_p/stat 2>/dev/null), wchan $(cat /proc/$b_p/wchan 2>/dev/null), syscall $(cut -d' ' -f1 /proc/$b_p/syscall 2>/dev/null)" >&2
				sed 's/^/    /' /proc/$b_p/stack >&2 2>/dev/null
			done
			kill -9 $b_pid 2>/dev/null
			wait $b_pid 2>/dev/null
			return 124
		fi
		sleep 0.1
		b_n=$((b_n + 1))
	done
	wait $b_pid
}
