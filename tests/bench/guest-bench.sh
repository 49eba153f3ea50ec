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
# environment): adevbenchruns (3), adevbenchruntime (4 s per fio run),
# adevbenchramp (1 s), adevbenchonly (space separated subset of the rows,
# P1..P9),
# adevbenchmod (asyncdev module parameters, comma separated).
RUNS=${adevbenchruns:-3}
RT=${adevbenchruntime:-4}
RAMP=${adevbenchramp:-1}
ONLY=${adevbenchonly:-}
ONLY=$(echo "$ONLY" | tr ',' ' ')
MODPARAMS=$(echo "${adevbenchmod:-}" | tr ',' ' ')
B=/opt/asyncdev/bench
FIO=$B/fio
SIZE=16m
MEM=/sys/class/misc/asyncmem
RES=/tmp/bench-results
KMOD=/lib/modules/extra
: > "$RES"
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

# fio_run KEY RUN DEV ENGINE QD DIRECT [JOBS [JOBFILE]]: JOBFILE (default
# randread.fio) with JOBS (default 1) jobs, terse output (group_reporting:
# the IOPS of all jobs together).
fio_run() {
	key=$1 run=$2 jobs=${7:-1} job=${8:-randread.fio}
	cmd="DEV=$3 ENGINE=$4 QD=$5 DIRECT=$6 JOBS=$jobs SIZE=$SIZE RUNTIME=$RT RAMP=$RAMP fio --output-format=terse fio/$job"
	line=$(DEV=$3 ENGINE=$4 QD=$5 DIRECT=$6 JOBS=$jobs SIZE=$SIZE RUNTIME=$RT RAMP=$RAMP \
		fio --output-format=terse "$FIO/$job" 2>/tmp/fio.err | grep '^3;' | tail -n 1)
	if [ -z "$line" ] || [ "$(echo "$line" | cut -d';' -f5)" != 0 ]; then
		log "FAIL $key run $run: fio failed: $(cat /tmp/fio.err)"
		rc=1
		return
	fi
	# terse v3: 8 read IOPS, 16 clat mean (us), 40 lat mean (us), 88/89 cpu usr/sys %
	set -- $(echo "$line" | awk -F';' '{gsub("%","",$88); gsub("%","",$89); print $8, $16, $40, $88, $89}')
	record "$key" "$run" "$cmd" iops="$1" clat_us="$2" lat_us="$3" usr_pct="$4" sys_pct="$5"
}

# lib_run KEY RUN aio|uring DEV QD
lib_run() {
	key=$1 run=$2
	cmd="bench_lib $3 $4 $5 $RT $RAMP 4096 16777216"
	out=$($B/bench_lib "$3" "$4" "$5" "$RT" "$RAMP" 4096 16777216 2>&1) || {
		log "FAIL $key run $run: $out"; rc=1; return; }
	iops=$(echo "$out" | sed -n 's/.*iops=\([0-9.]*\).*/\1/p')
	record "$key" "$run" "$cmd" iops="$iops"
}

# fifo_rt KEY RUN MODE TARGET [BYTES [SECONDS]]: bench_fifo MODE TARGET
# (rt DEV|pipe, or pread FILE) in 5 processes of SECONDS/5 each; records
# their median rate and its min..max. Under TCG one process's rate falls in
# one of two modes ~1.6x apart, pipe and FIFO alike, and keeps it for the
# process's life (8 placements of the user buffer in one process agree;
# what decides the mode is not known): one process per run made P1 a draw.
fifo_rt() {
	key=$1 run=$2 mode=$3 target=$4 bytes=${5:-4096} secs=${6:-3}
	part=$(awk "BEGIN { print $secs / 5 }")
	cmd="5 x bench_fifo $mode $target $part $bytes"
	rates=""
	for i in 1 2 3 4 5; do
		out=$($B/bench_fifo "$mode" "$target" "$part" "$bytes" 2>&1) || {
			log "FAIL $key run $run: $out"; rc=1; return; }
		rates="$rates $(echo "$out" | sed -n 's/.*ops_per_s=\([0-9]*\).*/\1/p')"
	done
	set -- $(printf '%s\n' $rates | sort -n)
	record "$key" "$run" "$cmd" ops_per_s="$3" min_ops_per_s="$1" max_ops_per_s="$5"
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

log "setup: $(uname -r), $(nproc) CPUs, $(fio --version), runs=$RUNS runtime=${RT}s ramp=${RAMP}s only='${ONLY}' asyncdev='${MODPARAMS}'"
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
		fifo_rt fifo_rt "$r" rt /dev/asyncdev
		fifo_rt pipe_rt "$r" rt pipe
	fi
	if want P1s; then	# the per-call cost without the 4 KiB copies
		fifo_rt fifo_rt64 "$r" rt /dev/asyncdev 64 2
		fifo_rt pipe_rt64 "$r" rt pipe 64 2
	fi
	if want P5; then
		sigio "$r"
	fi
	setmem 0 1
	if want P9; then	# the copy path: asyncmem vs a tmpfs file in the page cache
		fifo_rt mem_pread "$r" pread /dev/asyncmem 4096 2
		fifo_rt tmpfs_pread "$r" pread "$P9FILE" 4096 2
	fi
	if want P2 P3b P4 P6 P7 P8; then
		fio_run mem_libaio_qd32 "$r" /dev/asyncmem libaio 32 0
	fi
	if want P2 P8; then
		fio_run nullb_libaio_qd32 "$r" "$NB0" libaio 32 1
	fi
	if want P8; then	# two jobs, QD32 each, on the 2 vCPUs
		fio_run mem_libaio_qd32_2j "$r" /dev/asyncmem libaio 32 0 2
		fio_run nullb_libaio_qd32_2j "$r" "$NB0" libaio 32 1 2
	fi
	if want P4 P7; then
		fio_run mem_uring_qd32 "$r" /dev/asyncmem io_uring 32 0
	fi
	if want P6; then
		fio_run mem_libaio_qd1024 "$r" /dev/asyncmem libaio 1024 0
	fi
	if want P7; then
		lib_run lib_aio_qd32 "$r" aio /dev/asyncmem 32
		lib_run lib_uring_qd32 "$r" uring /dev/asyncmem 32
	fi
	if want P7c; then	# registered file and buffers, both sides
		fio_run mem_uring_fixed_qd32 "$r" /dev/asyncmem io_uring 32 0 1 randread-fixed.fio
		lib_run lib_uring_fixed_qd32 "$r" uring-fixed /dev/asyncmem 32
	fi
	if want P3 P3b; then
		sleep100us "$r"	# timer wakeup latency, for P3
		setmem 100000 64
		fio_run mem_lat100_qd32 "$r" /dev/asyncmem libaio 32 0
		fio_run mem_lat100_qd1 "$r" /dev/asyncmem libaio 1 0
		setmem 0 1
		if [ -n "$NB1" ]; then
			fio_run nullb_lat100_qd32 "$r" "$NB1" libaio 32 1
			fio_run nullb_lat100_qd1 "$r" "$NB1" libaio 1 1
		fi
	fi
	r=$((r + 1))
done
setmem 0 1

log "asyncmem stats: $(cd $MEM/stats && for f in *; do printf '%s=%s ' "$f" "$(cat $f)"; done)"
echo "ASYNCDEV-BENCH-JSON-BEGIN"
printf '{"meta":{"kernel":"%s","cpus":%s,"fio":"%s","runs":%s,"runtime_s":%s,"ramp_s":%s,"nullb_lat":"%s","note":"%s"}}\n' \
	"$(uname -r)" "$(nproc)" "$(fio --version)" "$RUNS" "$RT" "$RAMP" "$NB1" "$cfg_note"
cat "$RES"
echo "ASYNCDEV-BENCH-JSON-END"
[ -d /sys/kernel/config/nullb/nullb1 ] && echo 0 > /sys/kernel/config/nullb/nullb1/power && rmdir /sys/kernel/config/nullb/nullb1
rmmod null_blk 2>/dev/null
rmmod asyncdev || { log "FAIL rmmod asyncdev"; rc=1; }
exit $rc
