# Helpers for the in-VM tests (sourced). kselftest conventions: exit 0 pass, 1 fail, 4 skip.
KSFT_PASS=0; KSFT_FAIL=1; KSFT_SKIP=4
RSVM_KO=/lib/modules/rsvm.ko
DBG=/sys/kernel/debug/rsvm

fail() { echo "FAIL: $*"; exit $KSFT_FAIL; }
skip() { echo "SKIP: $*"; exit $KSFT_SKIP; }
pass() { echo "ok: $*"; }
# assert "description" command...: run, fail the test if it fails.
assert() { d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }
assert_not() { d=$1; shift; if "$@"; then fail "$d"; else pass "$d"; fi; }

loaded() { grep -q '^rsvm ' /proc/modules; }
load_rsvm() { loaded || insmod "$RSVM_KO"; }
unload_rsvm() { ! loaded || rmmod rsvm; }

# NPT depth the host must use: given by the harness on the kernel command line
# (rsvm_expect_npt=N reaches init's environment), else from the CPU's LA57 flag.
expect_npt_levels() {
	if [ -n "${rsvm_expect_npt:-}" ]; then echo "$rsvm_expect_npt"
	elif grep -qw la57 /proc/cpuinfo; then echo 5
	else echo 4; fi
}

# Kernel messages since a mark: `m=$(dmesg_mark)`, then `dmesg_since $m`.
dmesg_mark() { dmesg | wc -l; }
dmesg_since() { dmesg | tail -n +$(($1 + 1)); }

# Unreclaimable slab and free memory, in kB, after dropping caches.
mem_snapshot() {
	sync; echo 3 > /proc/sys/vm/drop_caches
	awk '/^SUnreclaim:/{s=$2} /^MemFree:/{f=$2} END{print s, f}' /proc/meminfo
}

# Online CPUs as "0,1,...".
online_cpus() {
	for d in /sys/devices/system/cpu/cpu[0-9]*; do
		if [ ! -f "$d/online" ] || [ "$(cat "$d/online")" = 1 ]; then echo "${d##*cpu}"; fi
	done | sort -n | tr '\n' ',' | sed 's/,$//'
}

# kmemleak_clean "what": two kmemleak scans (an object is reported only if it stays
# unreferenced across both); fail if any unreferenced object was allocated by rsvm. Nothing
# is checked on a kernel without kmemleak.
kmemleak_clean() {
	k=/sys/kernel/debug/kmemleak
	[ -w $k ] || return 0
	echo scan > $k; sleep 1; echo scan > $k
	if grep -q rsvm $k; then cat $k; fail "kmemleak: objects allocated by rsvm unreferenced"; fi
	pass "kmemleak: nothing of rsvm's $1"
}
