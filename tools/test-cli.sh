#!/bin/bash
# Host test of the tools' command lines (no module needed): usage errors
# come before the device is opened, a missing /dev/async* node says that the
# module is not loaded, asyncdev-feed creates/truncates/appends a regular
# file, and --json of asyncdev-watch and asyncdev-feed is one valid object.
# usage: test-cli.sh TOOLS_DIR     (run by ctest: tool_cli)
set -u
bin=${1:?usage: test-cli.sh TOOLS_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 checks=0
ok() { checks=$((checks + 1)); echo "  ok   $*"; }
bad() {
	checks=$((checks + 1)); fails=$((fails + 1)); echo "  FAIL $*"
	sed -n '1,10s/^/       out: /p' "$tmp/out"; sed -n '1,10s/^/       err: /p' "$tmp/err"
}
# expect RC DESCRIPTION CMD...
expect() {
	local want=$1 desc=$2 rc; shift 2
	"$@" > "$tmp/out" 2> "$tmp/err"; rc=$?
	if [ "$rc" = "$want" ]; then ok "$desc (exit $rc)"; return 0; fi
	bad "$desc: exit $rc, expected $want"; return 1
}
has() { if grep -Eq -- "$2" "$1"; then ok "$3"; else bad "$3 (no '$2' in $(basename "$1"))"; fi; }
# json FILE DESC: FILE holds exactly one JSON object (python3's parser).
json() {
	if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert isinstance(d, dict)' "$1" 2>"$tmp/jerr"
	then ok "$2"; else bad "$2: $(tail -n 1 "$tmp/jerr")"; fi
}
# jget FILE KEY: the value of KEY in the JSON object in FILE.
jget() { python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))[sys.argv[2]]))' "$1" "$2"; }

ctl=$bin/asyncdevctl watch=$bin/asyncdev-watch feed=$bin/asyncdev-feed bench=$bin/asyncdev-bench

echo "== usage errors before opening the device"
missing=/dev/asyncdev-not-here
expect 2 "asyncdevctl get BADKEY" "$ctl" -d $missing get BADKEY &&
	has "$tmp/err" "unknown key 'BADKEY'" "get names the bad key"
expect 2 "asyncdevctl get (no key)" "$ctl" -d $missing get

echo "== a missing /dev/async* node: the module is not loaded"
if [ -e /sys/module/asyncdev ]; then
	bad "the asyncdev module is loaded on this host: this test needs it absent"
else
	for cmd in "$ctl -d $missing show" "$ctl -d $missing get latency_ns" \
		"$watch -d $missing --count 1" "$feed -d $missing --count 1" \
		"$bench --fifo $missing --mem $missing --models epoll --ops 1"; do
		expect 1 "${cmd##*/}" $cmd &&
			has "$tmp/err" ": open $missing: No such file or directory \(the asyncdev module is not loaded: run 'modprobe asyncdev', or 'insmod asyncdev.ko'" "${cmd##*/}: says to load the module"
	done
	expect 1 "asyncdevctl on a missing path elsewhere" "$ctl" -d "$tmp/nothing" show &&
		has "$tmp/err" "open $tmp/nothing: No such file or directory$" "no module hint outside /dev"
fi

echo "== asyncdev-feed to a regular file: create, truncate, --append"
f=$tmp/new.bin
expect 0 "feed --count 10 to a new file" "$feed" -d "$f" --count 10 --quiet
[ "$(stat -c %s "$f" 2>/dev/null)" = 640 ] && ok "created, 10 records" || bad "size $(stat -c %s "$f" 2>/dev/null), expected 640"
expect 0 "feed --count 4 to it again" "$feed" -d "$f" --count 4 --quiet
[ "$(stat -c %s "$f")" = 256 ] && ok "truncated: 4 records" || bad "size $(stat -c %s "$f"), expected 256 (not truncated)"
expect 0 "watch it" "$watch" -d "$f" --mode blocking --quiet &&
	has "$tmp/out" '^records +4 ' "watch: 4 records, no stale ones"
expect 0 "feed --append --count 3" "$feed" -d "$f" --append --count 3 --quiet
[ "$(stat -c %s "$f")" = 448 ] && ok "appended: 7 records" || bad "size $(stat -c %s "$f"), expected 448"
expect 0 "watch it" "$watch" -d "$f" --mode blocking --quiet &&
	has "$tmp/out" '^records +7 ' "watch: 7 records" &&
	has "$tmp/out" ' 1 seq gaps, 0 bad records' "the seq restart of --append is one gap"
expect 1 "feed to a missing directory" "$feed" -d "$tmp/no/such.bin" --count 1 --quiet
mkfifo "$tmp/pipe"
( cat "$tmp/pipe" > "$tmp/piped" ) &
expect 0 "feed to a named pipe (no O_TRUNC/O_CREAT)" "$feed" -d "$tmp/pipe" --count 5 --quiet
wait
[ "$(stat -c %s "$tmp/piped")" = 320 ] && ok "5 records through the pipe" || bad "pipe carried $(stat -c %s "$tmp/piped") bytes"

echo "== --json"
expect 0 "feed --json" "$feed" -d "$f" --count 6 --size 128 --json && json "$tmp/out" "feed --json: one JSON object"
cp "$tmp/out" "$tmp/feed.json"
[ "$(jget "$tmp/feed.json" records)" = 6 ] && ok "feed --json: records 6" || bad "feed --json records: $(jget "$tmp/feed.json" records)"
[ "$(jget "$tmp/feed.json" bytes)" = 768 ] && ok "feed --json: bytes 768" || bad "feed --json bytes"
[ ! -s "$tmp/err" ] && ok "feed --json: nothing on stderr" || bad "feed --json wrote to stderr"
expect 0 "watch --json" "$watch" -d "$f" --mode blocking --json && json "$tmp/out" "watch --json: one JSON object"
cp "$tmp/out" "$tmp/watch.json"
for kv in records=6 bytes=768 seq_gaps=0 bad_records=0 mode='"blocking"' overruns=null eof=true error=null; do
	[ "$(jget "$tmp/watch.json" "${kv%%=*}")" = "${kv#*=}" ] && ok "watch --json: $kv" ||
		bad "watch --json: ${kv%%=*} is $(jget "$tmp/watch.json" "${kv%%=*}"), expected ${kv#*=}"
done
expect 1 "watch --json --count 9 (not reached)" "$watch" -d "$f" --mode blocking --json --count 9 &&
	json "$tmp/out" "watch --json on failure: still one JSON object"
ln -s "$f" "$tmp/we\"ird\\name"
expect 0 "watch --json, a path to escape" "$watch" -d "$tmp/we\"ird\\name" --mode blocking --json &&
	json "$tmp/out" "watch --json: the path is escaped"

echo "tool_cli: $checks checks, $fails failed"
[ "$fails" = 0 ]
