#!/bin/sh
# The guest test suite (runs inside QEMU as root from /init).
#  1. module/*.sh: load-time checks, run with the module not loaded;
#  2. insmod, then every guest_* program and *.sh script in tests/ (but
#     lib.sh, the helpers the scripts source);
#  3. rmmod, which must succeed.
# Prints one "ASYNCDEV-TEST: PASS|FAIL|SKIP name" line per test and a summary.
# adevonly=GLOB (ADEV_ONLY for run.sh) runs only the tests whose name matches.
#
# A test that cannot run on this kernel (a missing facility, not a failure)
# exits 77, after writing its reason to the file $ASYNCDEV_SKIP_FILE:
#	echo "no /sys/kernel/debug/failslab" > "$ASYNCDEV_SKIP_FILE"; exit 77
# It is reported as "ASYNCDEV-TEST: SKIP name (reason)" and counted apart,
# never as a pass. adevnoskip=1 (ADEV_NOSKIP=1 for run.sh) makes every skip
# a failure: a kernel that is meant to run everything must run everything.
# ASYNCDEV_DEBUG_KERNEL=1 in the environment (make check-debug) says the
# kernel is the debug one: KASAN, lockdep, kmemleak under TCG, several times
# slower than Debian's; tests may relax timing bounds, never correctness.
T=/opt/asyncdev/tests
KO=/lib/modules/asyncdev.ko
export ASYNCDEV_KO=$KO
export ASYNCDEV_SKIP_FILE=/tmp/asyncdev-skip-reason
pass=0 fail=0 skip=0 failed= skipped=
timeout_s=${adevtimeout:-300}

run() {	# run NAME CMD...
	name=$1; shift
	case "$name" in ${adevonly:-*}) ;; *) return ;; esac
	echo "ASYNCDEV-TEST: RUN $name"
	t0=$(date +%s)
	rm -f "$ASYNCDEV_SKIP_FILE"
	# SIGTERM at the limit, SIGKILL 10 s later: a test that handles or
	# ignores SIGTERM (a tool's own handler) must not stop the suite.
	timeout -k 10 "$timeout_s" "$@"
	rc=$?
	# A test killed by timeout may leave children behind: they would
	# hold places in the FIFO's queues and block the tests after it.
	case "$1" in /*) killall -9 "$(basename "$1")" 2>/dev/null ;; esac
	dt=$(( $(date +%s) - t0 ))
	if [ "$rc" -eq 77 ]; then
		why=$(head -n 1 "$ASYNCDEV_SKIP_FILE" 2>/dev/null)
		why=${why:-no reason given}
		if [ "${adevnoskip:-0}" = 1 ]; then
			fail=$((fail + 1)); failed="$failed $name"
			echo "ASYNCDEV-TEST: FAIL $name (skipped: $why; skips are failures here, adevnoskip=1, ${dt}s)"
		else
			skip=$((skip + 1)); skipped="$skipped $name"
			echo "ASYNCDEV-TEST: SKIP $name ($why, ${dt}s)"
		fi
	elif [ "$rc" -eq 0 ]; then
		pass=$((pass + 1)); echo "ASYNCDEV-TEST: PASS $name (${dt}s)"
	else
		fail=$((fail + 1)); failed="$failed $name"
		case $rc in 124|137) why=", timed out after ${timeout_s}s" ;; *) why= ;; esac
		echo "ASYNCDEV-TEST: FAIL $name (exit $rc$why, ${dt}s)"
	fi
}

for t in "$T"/module/*.sh; do
	[ -e "$t" ] && run "$(basename "$t" .sh)" sh "$t"
done

if insmod "$KO" $adevargs; then
	for t in "$T"/guest_* "$T"/*.sh; do
		[ -e "$t" ] || continue
		case "$t" in
		*/lib.sh) ;;	# the scripts' shared helpers, not a test
		*.sh) run "$(basename "$t" .sh)" sh "$t" ;;
		*) run "$(basename "$t")" "$t" ;;
		esac
	done
	run rmmod rmmod asyncdev
else
	fail=$((fail + 1)); failed="$failed insmod"
	echo "ASYNCDEV-TEST: FAIL insmod"
fi

if [ -n "${adevonly:-}" ] && [ $((pass + skip + fail)) -eq 0 ]; then
	fail=1 failed=" adevonly"
	echo "ASYNCDEV-TEST: FAIL adevonly (no test matches '$adevonly')"
fi
echo "ASYNCDEV-SUITE: $pass passed, $skip skipped, $fail failed${skipped:+ (skipped:$skipped)}${failed:+ (failed:$failed)}"
[ "$fail" -eq 0 ]
