#!/bin/bash
# The kernel-log check of every guest run (tests/qemu/run.sh, tests/bench/run.sh).
#
# Usage: klog-check.sh PREFIX CONSOLE_LOG DMESG_OUT ACCEL_ARGS
#   PREFIX       what the messages start with ("run.sh", "bench")
#   CONSOLE_LOG  the guest's whole console output
#   DMESG_OUT    where the kernel log the guest dumped at its end
#                (ASYNCDEV-DMESG-BEGIN .. END) is written
#   ACCEL_ARGS   QEMU's accelerator arguments (tests/qemu/accel.sh)
# Exits 0 when the log is clean, 1 (with the offending lines) otherwise.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 PREFIX CONSOLE_LOG DMESG_OUT ACCEL_ARGS" >&2; exit 2; }
prefix=$1 log=$2 dmesg=$3 accel=$4

bad='BUG:|WARNING:|Oops|general protection fault|list_add corruption|list_del corruption|list corruption|refcount_t:|blocked for more than|soft lockup|hard LOCKUP|rcu_.*stall|self-detected stall|KASAN:|UBSAN:|possible circular locking|possible recursive locking|inconsistent lock state|lock held when returning|Call Trace:|kernel BUG|unreferenced object'
# A debug facility that switches itself off stops checking: that fails too.
bad="$bad|kmemleak: .*[Dd]isabled|ODEBUG: Out of memory|turning off the locking correctness validator|Disabling lock debugging"
sed -n '/^ASYNCDEV-DMESG-BEGIN$/,/^ASYNCDEV-DMESG-END$/p' "$log" > "$dmesg"

# Kernel messages printed on the console during the run (timestamped lines
# outside the final dump) count too: a long run may overflow the log buffer.
klog_all() {
	cat "$dmesg"
	sed '/^ASYNCDEV-DMESG-BEGIN$/,/^ASYNCDEV-DMESG-END$/d' "$log" |
		grep -E '^\[ *[0-9]+\.[0-9]+\] ' || true
}
# Under TCG only, one report is the emulator's, not the guest's: a WARNING
# in exc_debug_kernel (arch/x86/kernel/traps.c), a single-step #DB in
# kernel mode that no kernel code asked for, raised with an EFLAGS whose
# reserved bits are set (b990230a, c1e86b82), which no popf or iret can
# load; seen on 6.12 under null_blk and under asyncmem, always in
# kmem_cache_alloc. Such a block (cut here .. end trace) is left out of
# the check and counted; anything else in it would still fail.
tcgdb_re='WARNING: .* at arch/x86/kernel/traps\.c:[0-9]+ exc_debug_kernel'
tcg=0
case " $accel " in *" tcg "* | *" tcg,"*) tcg=1 ;; esac
klog() {
	if [ $tcg = 0 ]; then klog_all; return; fi
	klog_all | RE=$tcgdb_re awk '
	/------------\[ cut here \]------------/ { n = 0; inblk = 1 }
	inblk { blk[n++] = $0
		if ($0 ~ /---\[ end trace/) {
			inblk = 0
			if (!tcgdb) for (i = 0; i < n; i++) print blk[i]
			tcgdb = 0
		}
		if ($0 ~ ENVIRON["RE"]) tcgdb = 1
		next }
	{ print }
	END { if (inblk) for (i = 0; i < n; i++) print blk[i] }'
}
if [ $tcg = 1 ]; then
	n=$(grep -Ec "$tcgdb_re" "$dmesg" || true)
	[ "$n" = 0 ] || echo "$prefix: note: $n TCG debug-exception warning(s) (exc_debug_kernel, EFLAGS with reserved bits set) left out of the kernel-log check; see $dmesg"
fi
if [ ! -s "$dmesg" ]; then
	echo "$prefix: FAIL: no kernel log from the guest"; exit 1
elif klog | grep -Eq "$bad"; then
	echo "$prefix: FAIL: the guest kernel log reports problems (see $dmesg):"
	klog | grep -En "$bad" | head -n 20; exit 1
fi
exit 0
