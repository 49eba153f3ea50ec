#!/usr/bin/env bash
# Build (once, cached) a debug kernel for running asyncdev's out-of-tree module
# under QEMU: Debian's linux-source-6.1 + `make tinyconfig` + the Kconfig
# fragment tests/qemu/debug-kernel.config (KASAN, lockdep, kmemleak, UBSAN,
# debug-objects, fault injection, ...).
#
# Usage: tests/qemu/debug-kernel.sh
#
# Output tree: $ASYNCDEV_DEBUG_KERNEL_DIR, by default
# ${ASYNCDEV_BUILD:-<repo>/build}/debug-kernel/
#   linux/          extracted, configured and built kernel tree (DEBUG_KDIR);
#                   external modules build with
#                   make -C "$DEBUG_KDIR" M=<dir> modules
#   build.log       output of the last configure/build run
#   .stamp          hash of the inputs of the last successful build
#
# Progress and errors go to stderr.  On success stdout holds exactly two lines:
#   DEBUG_KERNEL=<absolute path to bzImage>
#   DEBUG_KDIR=<absolute path to the kernel tree>
# so `eval "$(tests/qemu/debug-kernel.sh)"` works.
#
# Caching: the inputs (this script, the fragment, the tarball's size/mtime and
# the compiler version) are hashed; when the hash matches the stamp of the last
# successful build, the tree's .config is the one that was built and bzImage
# exists, nothing is done.  The stamp is removed
# before any rebuild and written only after a complete, verified build, so an
# interrupted run leaves no stamp and the next run continues the build
# (incrementally) instead of using a half-built tree.
#
# Environment:
#   ASYNCDEV_DEBUG_KERNEL_DIR  the output tree itself; point it outside the
#                            clone (e.g. /var/cache/asyncdev/debug-kernel) so
#                            that clean clones reuse one built kernel (CI)
#   ASYNCDEV_BUILD           build root (default: <repo>/build); the tree is
#                            its debug-kernel/ unless the variable above is set
#   ASYNCDEV_KERNEL_TARBALL  source tarball (default:
#                            /usr/src/linux-source-6.1.tar.xz, Debian package
#                            linux-source-6.1)
#
# Host needs (Debian packages): linux-source-6.1 build-essential bc flex bison
# libelf-dev xz-utils (libssl-dev is not needed: module signing is off).
# Guest side (not used here): qemu-system-x86 busybox-static cpio.
set -euo pipefail

prog=debug-kernel
say() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }

case ${1-} in
  '') ;;
  -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
  *) die "unexpected argument '$1' (try --help)" ;;
esac

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd -- "$here/../.." && pwd)
self=$here/$(basename -- "${BASH_SOURCE[0]}")
fragment=$here/debug-kernel.config
tarball=${ASYNCDEV_KERNEL_TARBALL:-/usr/src/linux-source-6.1.tar.xz}

# Kbuild cannot cope with whitespace (or ':' / '#', which break make rules)
# in the source path.
check_path() {
  case $1 in
    *[[:space:]:#]*) die "build path '$1' contains whitespace, ':' or '#'; set ASYNCDEV_DEBUG_KERNEL_DIR or ASYNCDEV_BUILD to a plain path" ;;
  esac
}
out=${ASYNCDEV_DEBUG_KERNEL_DIR:-${ASYNCDEV_BUILD:-$repo/build}/debug-kernel}
check_path "$out"
mkdir -p -- "$out" || die "cannot create build directory '$out'"
out=$(cd -- "$out" && pwd)
check_path "$out"
kdir=$out/linux
bzimage=$kdir/arch/x86/boot/bzImage
log=$out/build.log
stamp=$out/.stamp
[[ -r $fragment ]] || die "missing Kconfig fragment $fragment"

# Do not let a calling make (e.g. `make check-debug`) or the user's
# environment leak variables into Kbuild: MAKEFLAGS carries the parent's
# command-line variables (M=, O=, V=, ...) and jobserver fds.
unset MAKEFLAGS MFLAGS MAKEOVERRIDES GNUMAKEFLAGS MAKELEVEL MAKEFILES \
      KBUILD_OUTPUT KBUILD_EXTMOD KBUILD_EXTRA_SYMBOLS KBUILD_DEFCONFIG \
      KCONFIG_CONFIG KCONFIG_ALLCONFIG KCONFIG_OVERWRITECONFIG \
      ARCH SUBARCH SRCARCH CROSS_COMPILE LLVM CC LD AR NM OBJCOPY HOSTCC HOSTCXX \
      KCFLAGS KCPPFLAGS KAFLAGS KRUSTFLAGS LOCALVERSION INSTALL_MOD_PATH \
      O M V W C

# ---------------------------------------------------------------------------
# Cache check (fast path: must stay well under a second).
# ---------------------------------------------------------------------------
mkdir -p -- "$out" || die "cannot create $out"
exec 9>"$out/.lock"
if ! flock -n 9; then
  say "another debug-kernel.sh is running on $out; waiting for it"
  flock 9
fi

tarball_id() {
  if [[ -r $tarball ]]; then
    stat -L -c '%n %s %Y' -- "$tarball"
  else
    echo "missing $tarball"
  fi
}

inputs_hash() {
  {
    echo "asyncdev debug-kernel v1"
    sha256sum <"$self"
    sha256sum <"$fragment"
    tarball_id
    gcc --version 2>/dev/null | head -n 1 || echo "no gcc"
  } | sha256sum | cut -d' ' -f1
}

want=$(inputs_hash)

print_result() {
  printf 'DEBUG_KERNEL=%s\n' "$bzimage"
  printf 'DEBUG_KDIR=%s\n' "$kdir"
}

config_hash() { sha256sum <"$kdir/.config" 2>/dev/null | cut -d' ' -f1; }

if [[ -f $stamp && -f $bzimage && -f $kdir/.config &&
      "$(<"$stamp")" == "inputs=$want config=$(config_hash)" ]]; then
  say "up to date ($kdir)"
  print_result
  exit 0
fi

# ---------------------------------------------------------------------------
# (Re)build.
# ---------------------------------------------------------------------------
start=$SECONDS
rm -f -- "$stamp"
trap 'echo >&2; say "interrupted; the tree is left unstamped and will be rebuilt/continued next run"; exit 130' INT TERM HUP

# Preflight: fail early and clearly rather than deep inside Kbuild.
[[ $(uname -m) == x86_64 ]] || die "this script builds an x86_64 kernel natively; host is $(uname -m)"
[[ -r $tarball ]] || die "kernel source tarball $tarball not found (apt-get install linux-source-6.1)"
missing=()
for tool in make gcc ld flex bison bc perl tar xz sha256sum flock; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
((${#missing[@]} == 0)) || die "missing host tools: ${missing[*]} (apt-get install build-essential bc flex bison xz-utils)"
echo '#include <gelf.h>' | gcc -E -x c - >/dev/null 2>&1 ||
  die "libelf headers not found (needed by objtool/ORC unwinder): apt-get install libelf-dev"

: >"$log" || die "cannot write $log"
jobs=$(nproc 2>/dev/null || echo 2)

# run PHASE CMD...: run CMD with its output in the log; on failure show the
# log's tail and exit non-zero.
run() {
  local phase=$1; shift
  say "$phase"
  printf '\n===== %s: %s\n' "$phase" "$*" >>"$log"
  local rc=0
  "$@" >>"$log" 2>&1 || rc=$?
  if ((rc != 0)); then
    {
      echo "----- last 40 lines of $log -----"
      tail -n 40 -- "$log"
      echo "----- end of log -----"
      # With -j the first real error is usually far above the tail.
      if grep -q -E '(error|Error|ERROR)[: ]' "$log"; then
        echo "----- first error lines in $log -----"
        grep -n -m 15 -E ': (fatal )?error:|\*\*\* |ERROR: |undefined reference' -- "$log" || true
        echo "-----"
      fi
    } >&2
    die "$phase failed (exit $rc); full log: $log"
  fi
}

# 1. Extract (only if not already extracted from this very tarball).  The
#    tarball is unpacked into a scratch directory and renamed into place, so
#    an interrupted extraction never looks like a complete tree.
marker=$kdir/.asyncdev-extracted
if [[ -d $kdir && -f $marker && "$(<"$marker")" == "$(tarball_id)" ]]; then
  say "source already extracted in $kdir"
else
  if [[ -e $kdir ]]; then
    say "removing stale or incomplete tree $kdir"
    rm -rf -- "$kdir"
  fi
  tmp=$out/.extract.tmp
  rm -rf -- "$tmp"
  mkdir -p -- "$tmp"
  run "extracting $(basename -- "$tarball") (about a minute)" tar -xJf "$tarball" -C "$tmp"
  top=("$tmp"/*/)
  ((${#top[@]} == 1)) && [[ -f ${top[0]}Makefile && -f ${top[0]}Kconfig ]] ||
    die "unexpected tarball layout in $tarball (expected one top-level kernel directory)"
  tarball_id >"${top[0]}.asyncdev-extracted"
  mv -- "${top[0]%/}" "$kdir"
  rm -rf -- "$tmp"
fi

kmake() { make -C "$kdir" "$@"; }

# 2. Configure: tinyconfig (64-bit flavour) + fragment + olddefconfig.
run "make tinyconfig" kmake ARCH=x86_64 tinyconfig
run "merging $(basename -- "$fragment")" \
  bash -c 'cd "$1" && scripts/kconfig/merge_config.sh -m .config "$2"' _ "$kdir" "$fragment"
run "make olddefconfig" kmake olddefconfig

# 3. Verify: kconfig silently drops options whose dependencies are not met.
say "verifying .config"
required=(
  64BIT SMP ACPI PCI PRINTK PRINTK_TIME TTY SERIAL_8250 SERIAL_8250_CONSOLE
  BLK_DEV_INITRD RD_GZIP DEVTMPFS DEVTMPFS_MOUNT PROC_FS PROC_SYSCTL SYSFS
  TMPFS SHMEM MULTIUSER BINFMT_ELF BINFMT_SCRIPT MODULES MODULE_UNLOAD FUTEX
  EPOLL SIGNALFD TIMERFD EVENTFD AIO IO_URING POSIX_TIMERS HIGH_RES_TIMERS
  NET UNIX FILE_LOCKING KALLSYMS KALLSYMS_ALL STACKTRACE DEBUG_FS
  DEBUG_KERNEL SLUB STACKDEPOT KASAN KASAN_GENERIC PROVE_LOCKING LOCKDEP
  DEBUG_ATOMIC_SLEEP DEBUG_LIST DEBUG_OBJECTS DEBUG_OBJECTS_WORK
  DEBUG_OBJECTS_TIMERS DEBUG_OBJECTS_FREE DEBUG_KMEMLEAK UBSAN
  FAULT_INJECTION FAILSLAB FAULT_INJECTION_DEBUG_FS SOFTLOCKUP_DETECTOR
  DETECT_HUNG_TASK
)
declare -A cfg=()
while IFS= read -r line; do
  case $line in
    CONFIG_*=*) name=${line%%=*}; cfg[${name#CONFIG_}]=${line#*=} ;;
  esac
done <"$kdir/.config"

bad=()
declare -A reported=()
for opt in "${required[@]}"; do
  [[ ${cfg[$opt]-} == y ]] && continue
  bad+=("CONFIG_$opt=${cfg[$opt]-<unset>} (required =y)")
  reported[$opt]=1
done
if [[ ${cfg[UNWINDER_ORC]-} != y && ${cfg[FRAME_POINTER]-} != y ]]; then
  bad+=("neither CONFIG_UNWINDER_ORC nor CONFIG_FRAME_POINTER is =y")
fi
# Every explicit request in the fragment must have stuck, too.
while IFS= read -r line; do
  if [[ $line =~ ^CONFIG_([A-Za-z0-9_]+)=(.*)$ ]]; then
    opt=${BASH_REMATCH[1]} val=${BASH_REMATCH[2]}
    [[ ${cfg[$opt]-} == "$val" || -n ${reported[$opt]-} ]] ||
      bad+=("CONFIG_$opt=${cfg[$opt]-<unset>} (fragment asks $val)")
  elif [[ $line =~ ^#\ CONFIG_([A-Za-z0-9_]+)\ is\ not\ set ]]; then
    opt=${BASH_REMATCH[1]}
    [[ -z ${cfg[$opt]-} || ${cfg[$opt]} == n ]] ||
      bad+=("CONFIG_$opt=${cfg[$opt]} (fragment asks: not set)")
  fi
done <"$fragment"
if ((${#bad[@]})); then
  for b in "${bad[@]}"; do printf '  %s\n' "$b" >&2; done
  die "${#bad[@]} option(s) did not end up as requested in $kdir/.config (missing dependency? add it to $fragment)"
fi
say "all ${#required[@]} required options and every fragment line are in effect"

# 4. Build.  `modules` produces Module.symvers (exported symbols, so modpost
#    can check external modules); modules_prepare provides what
#    `make -C <tree> M=<dir> modules` needs.
run "building bzImage + modules_prepare with -j$jobs (several minutes; log: $log)" \
  kmake -j"$jobs" bzImage modules modules_prepare

for f in "$bzimage" "$kdir/Module.symvers" "$kdir/scripts/mod/modpost" \
         "$kdir/include/generated/utsrelease.h" "$kdir/include/config/auto.conf"; do
  [[ -f $f ]] || die "build finished but $f is missing; see $log"
done

printf 'inputs=%s config=%s\n' "$want" "$(config_hash)" >"$stamp.tmp" &&
  mv -f -- "$stamp.tmp" "$stamp"
release=$(make -s -C "$kdir" kernelrelease 2>/dev/null || echo '?')
say "done in $((SECONDS - start))s: kernel $release"
print_result
