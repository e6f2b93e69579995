#!/usr/bin/env bash
# make test: host unit tests, then the in-VM suites (tests/l1) on each CPU configuration.
# Prints a summary per configuration and ends with one line: "N passed, N failed".
#
#   RSVM_CPUS="max max,-la57"   CPU models to run the VM suites on (default: both)
#   RSVM_TESTS="04-world-switch.sh ..."   a subset of tests/l1 to run
#   RSVM_APPEND="k=v ..."   added to the test VM's kernel command line (reaches the tests'
#                           environment: rsvm_soak_secs=, rsvm_test_timeout=)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

passed=0; failed=0; skipped=0
summary=()
logdir="$top/build/test-logs"
mkdir -p "$logdir"

# 1. Host-side unit tests of the userspace crates.
host_log="$logdir/host-cargo-test.log"
(cd "$top/userspace-vmm" && cargo test --quiet --locked --workspace 2>&1) | tee "$host_log" | grep -E '^test result:|panicked|FAILED|error' || true
hp=$(sed -n 's/^test result: .* \([0-9][0-9]*\) passed; \([0-9][0-9]*\) failed.*/\1/p' "$host_log" | awk '{s+=$1} END{print s+0}')
hf=$(sed -n 's/^test result: .* \([0-9][0-9]*\) passed; \([0-9][0-9]*\) failed.*/\2/p' "$host_log" | awk '{s+=$1} END{print s+0}')
if ! grep -q '^test result:' "$host_log"; then hf=$((hf + 1)); echo "not ok - host cargo test did not run (see $host_log)"; fi
passed=$((passed + hp)); failed=$((failed + hf))
summary+=("host (cargo test): $hp passed, $hf failed")

# 2. The in-VM suites, once per CPU configuration. 15-linux-guest boots the test kernel
# as an L2 guest of rsvm-vmm: the VM gets the bzImage and the L2 initramfs in /work.
kdir=${KDIR:-$("$top/scripts/kernel.sh" --print-dir)}
l2_initrd="$top/build/l2-initramfs.cpio.gz"
l2_args=()
if "$top/scripts/mk-guest-initramfs" "$l2_initrd"; then
	l2_args=(--add "$kdir/arch/x86/boot/bzImage" --add "$l2_initrd")
fi
declare -A levels=([max]=5 [max,-la57]=4)
for cpu in ${RSVM_CPUS:-max max,-la57}; do
	log="$logdir/vm-${cpu//[^a-z0-9]/_}.log"
	echo "=== tests/l1 on -cpu $cpu ==="
	args=(--cpu "$cpu" --timeout "${RSVM_VM_TIMEOUT:-1200}" --log "$log" "${l2_args[@]}")
	[ -n "${levels[$cpu]:-}" ] && args+=(--append "rsvm_expect_npt=${levels[$cpu]}")
	[ -n "${RSVM_APPEND:-}" ] && args+=(--append "$RSVM_APPEND")
	out=$("$top/scripts/vm-run" "${args[@]}" -- sh /tests/l1/run.sh ${RSVM_TESTS:-} 2>&1 | tee -a /dev/stderr)
	vrc=$?
	p=$(grep -Ec '^ok [0-9]+ ' <<<"$out" || true)
	s=$(grep -Ec '^ok [0-9]+ .*# SKIP' <<<"$out" || true)
	f=$(grep -Ec '^not ok [0-9]+ ' <<<"$out" || true)
	p=$((p - s))
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' <<<"$out" | head -n1)
	if [ -z "$plan" ] || [ $((p + s + f)) -lt "$plan" ]; then
		echo "not ok - -cpu $cpu: the VM did not run every test (plan ${plan:-none}, ran $((p + s + f)); log $log)"
		f=$((f + 1))
	fi
	# vm-run: 0 and 1 are the runner's own status; 124 timeout, 125 kernel trouble.
	if [ "$vrc" -ge 124 ]; then
		echo "not ok - -cpu $cpu: VM failed (status $vrc: timeout or kernel oops/WARN/lockdep; log $log)"
		f=$((f + 1))
	fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	summary+=("vm -cpu $cpu: $p passed, $f failed, $s skipped")
done

echo "=== summary ==="
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
