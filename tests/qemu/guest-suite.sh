#!/bin/sh
# The guest test suite (runs inside QEMU as root from /init).
#  1. module/*.sh: load-time checks, run with the module not loaded;
#  2. insmod, then every guest_* program and *.sh script in tests/;
#  3. rmmod, which must succeed.
# Prints one "ASYNCDEV-TEST: PASS|FAIL name" line per test and a summary.
# adevonly=GLOB (ADEV_ONLY for run.sh) runs only the tests whose name matches.
T=/opt/asyncdev/tests
KO=/lib/modules/asyncdev.ko
export ASYNCDEV_KO=$KO
pass=0 fail=0 failed=
timeout_s=${adevtimeout:-300}

run() {	# run NAME CMD...
	name=$1; shift
	case "$name" in ${adevonly:-*}) ;; *) return ;; esac
	echo "ASYNCDEV-TEST: RUN $name"
	t0=$(date +%s)
	timeout "$timeout_s" "$@"
	rc=$?
	# A test killed by timeout may leave children behind: they would
	# hold places in the FIFO's queues and block the tests after it.
	case "$1" in /*) killall -9 "$(basename "$1")" 2>/dev/null ;; esac
	dt=$(( $(date +%s) - t0 ))
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1)); echo "ASYNCDEV-TEST: PASS $name (${dt}s)"
	else
		fail=$((fail + 1)); failed="$failed $name"
		echo "ASYNCDEV-TEST: FAIL $name (exit $rc, ${dt}s)"
	fi
}

for t in "$T"/module/*.sh; do
	[ -e "$t" ] && run "$(basename "$t" .sh)" sh "$t"
done

if insmod "$KO" $adevargs; then
	for t in "$T"/guest_* "$T"/*.sh; do
		[ -e "$t" ] || continue
		case "$t" in
		*.sh) run "$(basename "$t" .sh)" sh "$t" ;;
		*) run "$(basename "$t")" "$t" ;;
		esac
	done
	run rmmod rmmod asyncdev
else
	fail=$((fail + 1)); failed="$failed insmod"
	echo "ASYNCDEV-TEST: FAIL insmod"
fi

echo "ASYNCDEV-SUITE: $pass passed, $fail failed${failed:+ (failed:$failed)}"
[ "$fail" -eq 0 ]
