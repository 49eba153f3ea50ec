#!/bin/sh
# The guest half of `make bench` (tests/bench/run.sh boots the guest with
# adevmode=bench; tests/qemu/init runs this script). POSIX sh (busybox).
#
# Loads asyncdev (default parameters), configfs and null_blk, runs every
# comparison $adevbenchruns times (interleaved: run 1 of everything, then
# run 2, ...) and prints one JSON object per measurement between
# ASYNCDEV-BENCH-JSON-BEGIN and ASYNCDEV-BENCH-JSON-END; the host builds the
# report from those lines (tests/bench/report.py).
#
# Kernel command line knobs (the kernel hands unknown name=value to /init's
# environment): adevbenchruns (3), adevbenchruntime (4 s measured per fio
# or bench_lib measurement and run, split among its processes),
# adevbenchramp (1 s, each process's own), adevbenchprocs (5 processes per
# measurement and run, see measure()), adevbenchonly (space separated
# subset of the rows, P1..P9),
# adevbenchmod (asyncdev module parameters, comma separated).
RUNS=${adevbenchruns:-3}
RT=${adevbenchruntime:-4}
RAMP=${adevbenchramp:-1}
PROCS=${adevbenchprocs:-5}
PART_MS=$(awk "BEGIN { printf \"%d\", $RT * 1000 / $PROCS }")	# fio's runtime
PART=$(awk "BEGIN { print $RT / $PROCS }")	# bench_lib's seconds
ONLY=${adevbenchonly:-}
ONLY=$(echo "$ONLY" | tr ',' ' ')
MODPARAMS=$(echo "${adevbenchmod:-}" | tr ',' ' ')
B=/opt/asyncdev/bench
FIO=$B/fio
SIZE=16m
MEM=/sys/class/misc/asyncmem
RES=/tmp/bench-results
PD=/tmp/bench-procs	# per measurement: one line per process (measure())
KMOD=/lib/modules/extra
: > "$RES"
mkdir -p $PD
rc=0

want() {	# want P1 [P2 ...]: is any of these selected?
	[ -z "$ONLY" ] && return 0
	for w in "$@"; do
		case " $ONLY " in *" $w "*) return 0 ;; esac
	done
	return 1
}

log() { echo "bench: $*"; }

# record KEY RUN CMD METRIC=VALUE...: one JSON line in $RES.
record() {
	key=$1 run=$2 cmd=$3
	shift 3
	m=""
	for kv in "$@"; do
		v=${kv#*=}
		[ -n "$v" ] || v=null
		m="$m,\"${kv%%=*}\":$v"
	done
	printf '{"key":"%s","run":%s,"cmd":"%s"%s}\n' "$key" "$run" "$cmd" "$m" >> "$RES"
	log "$key run $run: $*"
}

setmem() {	# setmem LATENCY_NS CHANNELS
	echo 0 > $MEM/jitter_ns && echo "$2" > $MEM/channels &&
		echo "$1" > $MEM/latency_ns
}

# Every throughput measurement (fio, bench_lib, bench_fifo rt|pread) runs,
# per run, in $PROCS processes that share its time and records their
# median with the processes' min..max. Under TCG one process's rate falls
# in one of two modes ~1.6x apart, pipe and FIFO alike, fio too, and keeps
# it for the process's life (8 placements of the user buffer in one
# process agree; what decides the mode is not known): one process per run
# made P1, then P3, P6 and P7b a draw. 5 processes: the median is a real
# process (odd count) and follows the slow mode only when 3 of 5 draw it
# (0.21 if a process draws it with p = 1/3, 0.06 with p = 0.2, against p
# for one process), while each process still measures 0.8 s of the 4 s
# (~3,000 I/Os at the slowest row, QD1 at 100 us latency: ~4,000 IOPS
# under TCG, where a 100 us timer takes ~240 us). The price is one ramp
# per process: 5 x (1 + 0.8) s instead of 1 + 4 s per measurement. The
# processes of the measurements in one group (add) are interleaved,
# A B C A B C ..., so that drift on the host hits asyncdev and its peers
# alike.
#
# One process of measurement KEY, appending one line to $PD/KEY whose first
# field is the rate the median is taken on, and the command to $PD/KEY.cmd:
#   fio_once KEY DEV ENGINE QD DIRECT JOBS JOBFILE: fio JOBFILE with JOBS
#     jobs, terse output (group_reporting: the IOPS of all jobs together);
#     the line is "iops clat_us lat_us usr_pct sys_pct" of that process
#   lib_once KEY aio|uring|uring-fixed DEV QD: bench_lib, "iops"
#   rt_once KEY MODE TARGET BYTES SECONDS: bench_fifo MODE TARGET (rt
#     DEV|pipe, or pread FILE) for SECONDS/$PROCS, "ops_per_s"
# A failed process marks KEY failed ($PD/KEY.fail): it is not recorded.
proc_fail() {	# proc_fail KEY MESSAGE
	log "FAIL $1 run $run: $2"
	rc=1
	: > "$PD/$1.fail"
}

fio_once() {
	echo "$PROCS x DEV=$2 ENGINE=$3 QD=$4 DIRECT=$5 JOBS=$6 SIZE=$SIZE RUNTIME=${PART_MS}ms RAMP=$RAMP fio --output-format=terse fio/$7" > "$PD/$1.cmd"
	line=$(DEV=$2 ENGINE=$3 QD=$4 DIRECT=$5 JOBS=$6 SIZE=$SIZE RUNTIME=${PART_MS}ms RAMP=$RAMP \
		fio --output-format=terse "$FIO/$7" 2>/tmp/fio.err | grep '^3;' | tail -n 1)
	if [ -z "$line" ] || [ "$(echo "$line" | cut -d';' -f5)" != 0 ]; then
		proc_fail "$1" "fio failed: $(cat /tmp/fio.err)"
		return
	fi
	# terse v3: 8 read IOPS, 16 clat mean (us), 40 lat mean (us), 88/89 cpu usr/sys %
	echo "$line" | awk -F';' '{gsub("%","",$88); gsub("%","",$89); print $8, $16, $40, $88, $89}' >> "$PD/$1"
}

lib_once() {
	echo "$PROCS x bench_lib $2 $3 $4 $PART $RAMP 4096 16777216" > "$PD/$1.cmd"
	out=$("$B/bench_lib" "$2" "$3" "$4" "$PART" "$RAMP" 4096 16777216 2>&1) || {
		proc_fail "$1" "$out"; return; }
	v=$(echo "$out" | sed -n 's/.*iops=\([0-9.]*\).*/\1/p')
	[ -n "$v" ] || { proc_fail "$1" "no iops in: $out"; return; }
	awk "BEGIN { printf \"%.0f\\n\", $v }" >> "$PD/$1"	# sort -n: an integer
}

rt_once() {
	part=$(awk "BEGIN { print $5 / $PROCS }")
	echo "$PROCS x bench_fifo $2 $3 $part $4" > "$PD/$1.cmd"
	out=$("$B/bench_fifo" "$2" "$3" "$part" "$4" 2>&1) || { proc_fail "$1" "$out"; return; }
	v=$(echo "$out" | sed -n 's/.*ops_per_s=\([0-9]*\).*/\1/p')
	[ -n "$v" ] || { proc_fail "$1" "no ops_per_s in: $out"; return; }
	echo "$v" >> "$PD/$1"
}

# add KIND KEY ARGS...: one more measurement in the group measure() runs
# (KIND fio_once, lib_once or rt_once; no argument may contain blanks).
group=""
add() {
	group="$group$*
"
}

# measure RUN: the group's measurements, their processes interleaved
# (process 1 of each in the order added, then process 2, ...); records each
# measurement's median process (the middle one by rate: for fio its clat,
# lat and CPU figures are that process's own, so that they belong to its
# IOPS), min_iops/max_iops (min_ops_per_s/max_ops_per_s) of its processes
# and all_iops (all_ops_per_s), every process's rate in the order they ran.
# Empties the group.
# shellcheck disable=SC2046,SC2086 # the group, a spec and a line split into words
measure() {
	run=$1 ifs=$IFS nl='
'
	IFS=$nl
	for g_spec in $group; do
		IFS=$ifs
		set -- $g_spec
		rm -f "$PD/$2" "$PD/$2.fail" "$PD/$2.cmd"
	done
	g_i=1
	while [ $g_i -le "$PROCS" ]; do
		IFS=$nl
		for g_spec in $group; do
			IFS=$ifs
			set -- $g_spec
			[ -e "$PD/$2.fail" ] || "$@"
		done
		IFS=$ifs
		g_i=$((g_i + 1))
	done
	IFS=$nl
	for g_spec in $group; do
		IFS=$ifs
		set -- $g_spec
		g_f=$PD/$2
		[ -e "$g_f.fail" ] && continue
		g_kind=$1 g_key=$2 g_cmd=$(cat "$g_f.cmd")
		g_lo=$(sort -n "$g_f" | head -n 1 | cut -d' ' -f1)
		g_hi=$(sort -n "$g_f" | tail -n 1 | cut -d' ' -f1)
		g_all="[$(cut -d' ' -f1 "$g_f" | tr '\n' ',' | sed 's/,$//')]"
		set -- $(sort -n "$g_f" | sed -n "$((($(wc -l < "$g_f") + 1) / 2))p")
		case $g_kind in
		fio_once)
			record "$g_key" "$run" "$g_cmd" iops="$1" clat_us="$2" lat_us="$3" \
				usr_pct="$4" sys_pct="$5" min_iops="$g_lo" max_iops="$g_hi" \
				all_iops="$g_all" ;;
		lib_once)
			record "$g_key" "$run" "$g_cmd" iops="$1" min_iops="$g_lo" max_iops="$g_hi" \
				all_iops="$g_all" ;;
		rt_once)
			record "$g_key" "$run" "$g_cmd" ops_per_s="$1" \
				min_ops_per_s="$g_lo" max_ops_per_s="$g_hi" all_ops_per_s="$g_all" ;;
		esac
	done
	IFS=$ifs
	group=""
}

# latency KEY RUN CMD OUTPUT: record OUTPUT's p50/p99/mean (one line).
latency() {
	line=$4
	g() { echo "$line" | sed -n "s/.* *$1=\([0-9]*\).*/\1/p"; }
	record "$1" "$2" "$3" p50_ns="$(g p50_ns)" p99_ns="$(g p99_ns)" mean_ns="$(g mean_ns)"
}

# sigio RUN: P5, the FIFO and a pipe in one process, one write of each in
# turn, so that both see the same host noise.
sigio() {
	cmd="bench_fifo sigio /dev/asyncdev,pipe 20000"
	out=$($B/$cmd 2>&1) || { log "FAIL fifo_sigio run $1: $out"; rc=1; return; }
	latency fifo_sigio "$1" "$cmd" "$(echo "$out" | grep '^/dev/asyncdev: ')"
	latency pipe_sigio "$1" "$cmd" "$(echo "$out" | grep '^pipe: ')"
}

# sleep100us RUN: how long a 100 us clock_nanosleep takes (for P3).
sleep100us() {
	cmd="bench_fifo sleep 100000 1000"
	out=$($B/$cmd 2>&1) || { log "FAIL sleep100us run $1: $out"; rc=1; return; }
	latency sleep100us "$1" "$cmd" "$out"
}

log "setup: $(uname -r), $(nproc) CPUs, $(fio --version), runs=$RUNS runtime=${RT}s in $PROCS processes, ramp=${RAMP}s each, only='${ONLY}' asyncdev='${MODPARAMS}'"
# shellcheck disable=SC2086 # one word per parameter
insmod /lib/modules/asyncdev.ko $MODPARAMS || { log "FAIL insmod asyncdev"; exit 1; }
# null_blk: nullb0 from the module parameters (completes inline, irqmode=0);
# nullb1 from configfs with a 100 us timer completion (irqmode=2). Both
# memory backed, 4 KiB blocks, no I/O scheduler (null_blk at its fastest).
NB0=/dev/nullb0 NB1=""
if insmod $KMOD/configfs.ko && insmod $KMOD/null_blk.ko nr_devices=1 queue_mode=2 \
	irqmode=0 memory_backed=1 bs=4096 gb=1 no_sched=1 hw_queue_depth=1024; then
	mkdir -p /sys/kernel/config && mount -t configfs configfs /sys/kernel/config
	d=/sys/kernel/config/nullb/nullb1
	if mkdir $d && echo 1024 > $d/size && echo 4096 > $d/blocksize &&
	   echo 1 > $d/memory_backed && echo 2 > $d/queue_mode &&
	   echo 2 > $d/irqmode && echo 100000 > $d/completion_nsec &&
	   echo 1 > $d/no_sched && echo 1024 > $d/hw_queue_depth && echo 1 > $d/power; then
		NB1=/dev/nullb1	# the disk takes the configfs directory's name
	fi
else
	log "FAIL: cannot load null_blk"; rc=1
fi
sleep 1
for d in $NB0 $NB1; do
	[ -b "$d" ] || { log "FAIL: $d missing"; rc=1; continue; }
	log "$d: scheduler $(cat /sys/block/${d#/dev/}/queue/scheduler 2>/dev/null)"
	DEV=$d DIRECT=1 SIZE=$SIZE fio "$FIO/prefill.fio" >/dev/null 2>&1 || { log "FAIL prefill $d"; rc=1; }
done
setmem 0 1
DEV=/dev/asyncmem DIRECT=0 SIZE=$SIZE fio "$FIO/prefill.fio" >/dev/null 2>&1 || { log "FAIL prefill asyncmem"; rc=1; }
# P9's peer: a 16 MiB file on tmpfs (always in the page cache).
P9FILE=/mnt/p9/file
mkdir -p /mnt/p9 && mount -t tmpfs -o size=32m tmpfs /mnt/p9 &&
	dd if=/dev/urandom of=$P9FILE bs=1M count=16 2>/dev/null || { log "FAIL tmpfs file for P9"; rc=1; }

# Timing facts for the report.
cs=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null)
ce=$(awk '/^Clock Event Device:/ {print $4; exit}' /proc/timer_list 2>/dev/null)
cfg_note="clocksource $cs, clockevent $ce, hrtimer resolution $(awk '/resolution:/ {print $2; exit}' /proc/timer_list 2>/dev/null) ns"
log "$cfg_note"

r=1
while [ $r -le "$RUNS" ]; do
	log "---- run $r of $RUNS ----"
	if want P1; then
		add rt_once fifo_rt rt /dev/asyncdev 4096 3
		add rt_once pipe_rt rt pipe 4096 3
		measure "$r"
	fi
	if want P1s; then	# the per-call cost without the 4 KiB copies
		add rt_once fifo_rt64 rt /dev/asyncdev 64 2
		add rt_once pipe_rt64 rt pipe 64 2
		measure "$r"
	fi
	if want P5; then
		sigio "$r"
	fi
	setmem 0 1
	if want P9; then	# the copy path: asyncmem vs a tmpfs file in the page cache
		add rt_once mem_pread pread /dev/asyncmem 4096 2
		add rt_once tmpfs_pread pread "$P9FILE" 4096 2
		measure "$r"
	fi
	# Latency 0: every fio and bench_lib measurement in one group.
	if want P2 P3b P4 P6 P7 P8 P8b; then
		add fio_once mem_libaio_qd32 /dev/asyncmem libaio 32 0 1 randread.fio
	fi
	if want P2 P8 P8b; then
		add fio_once nullb_libaio_qd32 "$NB0" libaio 32 1 1 randread.fio
	fi
	if want P8 P8b; then	# two jobs, QD32 each, on the 2 vCPUs
		add fio_once mem_libaio_qd32_2j /dev/asyncmem libaio 32 0 2 randread.fio
		add fio_once nullb_libaio_qd32_2j "$NB0" libaio 32 1 2 randread.fio
	fi
	if want P4 P7 P7b; then
		add fio_once mem_uring_qd32 /dev/asyncmem io_uring 32 0 1 randread.fio
	fi
	if want P6; then
		add fio_once mem_libaio_qd1024 /dev/asyncmem libaio 1024 0 1 randread.fio
	fi
	if want P7 P7b; then
		add lib_once lib_aio_qd32 aio /dev/asyncmem 32
		add lib_once lib_uring_qd32 uring /dev/asyncmem 32
	fi
	if want P7c; then	# registered file and buffers, both sides
		add fio_once mem_uring_fixed_qd32 /dev/asyncmem io_uring 32 0 1 randread-fixed.fio
		add lib_once lib_uring_fixed_qd32 uring-fixed /dev/asyncmem 32
	fi
	measure "$r"
	if want P3 P3b P3c; then
		sleep100us "$r"	# timer wakeup latency, for P3
		setmem 100000 64
		add fio_once mem_lat100_qd32 /dev/asyncmem libaio 32 0 1 randread.fio
		add fio_once mem_lat100_qd1 /dev/asyncmem libaio 1 0 1 randread.fio
		if [ -n "$NB1" ]; then
			add fio_once nullb_lat100_qd32 "$NB1" libaio 32 1 1 randread.fio
			add fio_once nullb_lat100_qd1 "$NB1" libaio 1 1 1 randread.fio
		fi
		measure "$r"
		setmem 0 1
	fi
	r=$((r + 1))
done
setmem 0 1

log "asyncmem stats: $(cd $MEM/stats && for f in *; do printf '%s=%s ' "$f" "$(cat $f)"; done)"
echo "ASYNCDEV-BENCH-JSON-BEGIN"
printf '{"meta":{"kernel":"%s","cpus":%s,"fio":"%s","runs":%s,"runtime_s":%s,"ramp_s":%s,"procs":%s,"nullb_lat":"%s","note":"%s"}}\n' \
	"$(uname -r)" "$(nproc)" "$(fio --version)" "$RUNS" "$RT" "$RAMP" "$PROCS" "$NB1" "$cfg_note"
cat "$RES"
echo "ASYNCDEV-BENCH-JSON-END"
[ -d /sys/kernel/config/nullb/nullb1 ] && echo 0 > /sys/kernel/config/nullb/nullb1/power && rmdir /sys/kernel/config/nullb/nullb1
rmmod null_blk 2>/dev/null
rmmod asyncdev || { log "FAIL rmmod asyncdev"; rc=1; }
exit $rc
