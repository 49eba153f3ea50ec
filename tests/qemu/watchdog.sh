#!/bin/bash
# Run a QEMU guest with a time limit and a first-output watchdog.
#
#   tests/qemu/watchdog.sh LIMIT SILENCE CMD [ARG...]
#
# CMD's stdout (the serial console) is copied to ours as it comes; its
# stderr goes to ours. Exit status: CMD's; 124 when it ran longer than LIMIT
# seconds (as timeout(1)); 120 when it printed nothing in the first SILENCE
# seconds: a guest that says nothing that long has not started (a hung
# accelerator: a /dev/kvm that cannot run guests prints nothing, ever), and
# waiting out LIMIT would only lose time. Either way CMD is stopped.
set -euo pipefail
limit=${1:?usage: watchdog.sh LIMIT SILENCE CMD...} silence=${2:?} ; shift 2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/asyncdev-watchdog.XXXXXX")
mkfifo "$tmp/console"
timeout -k 10 "$limit" "$@" > "$tmp/console" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
exec 3< "$tmp/console"
rm -rf "$tmp"	# the fifo stays open on both ends

rc=0
if IFS= read -r -N 1 -t "$silence" c <&3; then
	printf '%s' "$c"
	cat <&3
	wait "$pid" || rc=$?
elif [ $? -gt 128 ]; then
	echo "watchdog: the guest printed nothing in ${silence}s after launch; stopped it" >&2
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	exit 120
else
	wait "$pid" || rc=$?	# it exited without a word
fi
trap - EXIT
exit "$rc"
