#!/usr/bin/env bash
# make test: host unit tests, then the in-VM suites (tests/l1) on each CPU configuration.
# Prints a summary per configuration and ends with one line: "N passed, N failed".
#
#   RSVM_CPUS="max max,-la57"   CPU models to run the VM suites on (default: both)
#   RSVM_TESTS="04-world-switch.sh ..."   a subset of tests/l1 to run (make-run: tests/host/make-run.sh)
#   RSVM_APPEND="k=v ..."   added to the test VM's kernel command line (reaches the tests'
#                           environment: rsvm_soak_secs=, rsvm_test_timeout=)
#   RSVM_KST="full subset"  what 30-kvm-selftests.sh runs on each CPU model in turn (Linux's
#                           KVM selftests: the whole table, or kvm-selftests.conf's subset)
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

kdir=${KDIR:-$("$top/scripts/kernel.sh" --print-dir)}

# 1b. The world switch's speculation mitigations, in the built object (scripts/check-exit-path).
xp_log="$logdir/check-exit-path.log"
"$top/scripts/check-exit-path" "$top/rust/svm/vmenter.o" "$kdir" > "$xp_log" 2>&1
grep -v '^ok' "$xp_log" || true
xp=$(grep -c '^ok' "$xp_log"); xf=$(grep -c '^not ok' "$xp_log")
if ! grep -q '^ok\|^not ok' "$xp_log"; then xf=$((xf + 1)); echo "not ok - scripts/check-exit-path did not run (see $xp_log)"; fi
passed=$((passed + xp)); failed=$((failed + xf))
summary+=("host (check-exit-path): $xp passed, $xf failed")

# 2. The in-VM suites, once per CPU configuration. 15-linux-guest boots the test kernel
# as an L2 guest of rsvm-vmm: the VM gets the bzImage and the L2 initramfs in /work.
l2_initrd="$top/build/l2-initramfs.cpio.gz"
l2_args=()
if "$top/scripts/mk-guest-initramfs" "$l2_initrd"; then
	l2_args=(--add "$kdir/arch/x86/boot/bzImage" --add "$l2_initrd")
fi
# Linux's KVM selftests (tests/l1/30-kvm-selftests.sh), built from the same source as the
# test kernel, go into the VM only when that test is selected: the full table on the first CPU
# model, the named subset on the others (the suite's time budget), RSVM_KST to choose.
kst_args=(); kst_modes=(${RSVM_KST:-full subset})
if [ -z "${RSVM_TESTS:-}" ] || [[ "${RSVM_TESTS}" == *kvm-selftests* ]]; then
	if kst_dir=$("$top/scripts/kselftests.sh"); then
		kst_args=(--add-tree "$kst_dir=/kselftests")
	else
		echo "not ok - building the KVM selftests failed: 30-kvm-selftests skips"
		failed=$((failed + 1))
	fi
fi
declare -A levels=([max]=5 [max,-la57]=4)
# RSVM_TESTS minus make-run (step 3, not a tests/l1 file) and ref-linux-guest (its own VM).
l1_tests=$(for t in ${RSVM_TESTS:-}; do case "$t" in make-run|ref-linux-guest.sh) ;; *) echo "$t" ;; esac; done)
# The kvm_amd reference of 15-linux-guest runs in a VM of its own (below).
want_ref=0
case " ${RSVM_TESTS:-15-linux-guest.sh} " in *" 15-linux-guest.sh "*|*" ref-linux-guest.sh "*) want_ref=1 ;; esac
[ ${#l2_args[@]} -gt 0 ] || want_ref=0
vm_cpus=${RSVM_CPUS:-max max,-la57}

# vm_suite LABEL LOG VM-RUN-ARGS... -- COMMAND: boot the test VM, run the TAP suite in it,
# count. Sets p, s, f (passed, skipped, failed: a missing plan entry or a VM that failed
# counts as a failure), vrc (vm-run's status) and out (the suite's output).
vm_suite() {
	local label=$1 log=$2; shift 2
	out=$("$top/scripts/vm-run" --log "$log" "$@" 2>&1 | tee -a /dev/stderr)
	vrc=$?
	p=$(grep -Ec '^ok [0-9]+ ' <<<"$out" || true)
	s=$(grep -Ec '^ok [0-9]+ .*# SKIP' <<<"$out" || true)
	f=$(grep -Ec '^not ok [0-9]+ ' <<<"$out" || true)
	p=$((p - s))
	# The suite's plan follows its "TAP version 13" (the kernel's own KTAP prints a 1..0).
	local plan
	plan=$(sed -n '/^TAP version 13$/{n;s/^1\.\.\([0-9]*\)$/\1/p}' <<<"$out" | head -n1)
	if [ -z "$plan" ] || [ $((p + s + f)) -lt "$plan" ]; then
		echo "not ok - $label: the VM did not run every test (plan ${plan:-none}, ran $((p + s + f)); log $log)"
		f=$((f + 1))
	fi
	# vm-run: 0 and 1 are the runner's own status; 124 timeout, 125 kernel trouble.
	if [ "$vrc" -ge 124 ]; then
		echo "not ok - $label: VM failed (status $vrc: timeout or kernel oops/WARN/lockdep; log $log)"
		f=$((f + 1))
	fi
}

model=0
for cpu in $vm_cpus; do
	tag=${cpu//[^a-z0-9]/_}
	if [ -z "${RSVM_TESTS:-}" ] || [ -n "$l1_tests" ]; then
		log="$logdir/vm-$tag.log"
		echo "=== tests/l1 on -cpu $cpu ==="
		kst=${kst_modes[$model]:-${kst_modes[-1]}}
		# The selftests' own time on top of the rest: both hypervisors, 30 s per test at most.
		extra=0
		if [ ${#kst_args[@]} -gt 0 ]; then extra=900; [ "$kst" = full ] && extra=2400; fi
		vm_to=${RSVM_VM_TIMEOUT:-$((1200 + extra))}
		args=(--cpu "$cpu" --timeout "$vm_to" "${l2_args[@]}" "${kst_args[@]}" --append "rsvm_kst=$kst")
		[ -n "${levels[$cpu]:-}" ] && args+=(--append "rsvm_expect_npt=${levels[$cpu]}")
		[ -n "${RSVM_APPEND:-}" ] && args+=(--append "$RSVM_APPEND")
		vm_suite "-cpu $cpu" "$log" "${args[@]}" -- sh /tests/l1/run.sh $l1_tests
		# The selftests' table (test | kvm_amd | rsvm | note), as Markdown.
		if grep -q '^# kst|' <<<"$out"; then
			kst_log="$logdir/kvm-selftests-$tag.md"
			{ sed -n 's/^# kst| \([^(].*\)$/| \1 |/p' <<<"$out" | sed '2i| --- | --- | --- | --- |'
			  echo; sed -n 's/^# kst| \((.*\)$/\1/p' <<<"$out"; } > "$kst_log"
			echo "KVM selftests table: $kst_log"
		fi
		passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
		summary+=("vm -cpu $cpu: $p passed, $f failed, $s skipped")
	fi
	model=$((model + 1))
	[ "$want_ref" = 1 ] || continue
	# The kvm_amd reference of 15-linux-guest, in a VM where rsvm is never loaded (vm-run
	# --no-load). QEMU's TCG can crash L1 under kvm_amd's EVENTINJ injections (issue 12,
	# Documentation/testing.md): such a crash gets one fresh boot, which hides nothing of
	# rsvm's, and does not take rsvm's own tests (above) with it.
	echo "=== the kvm_amd reference (ref-linux-guest) on -cpu $cpu, rsvm not loaded ==="
	args=(--no-load --cpu "$cpu" --timeout "${RSVM_REF_TIMEOUT:-1500}" "${l2_args[@]}")
	[ -n "${RSVM_APPEND:-}" ] && args+=(--append "$RSVM_APPEND")
	for try in 1 2; do
		vm_suite "kvm_amd reference, -cpu $cpu" "$logdir/vm-ref-$tag-$try.log" "${args[@]}" -- sh /tests/l1/run.sh ref-linux-guest.sh
		[ "$vrc" -ge 124 ] && [ "$try" = 1 ] || break
		echo "note: the kvm_amd reference's VM failed (status $vrc; rsvm was never loaded in it): one fresh boot (emulator bug, testing.md)"
	done
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	note=""; [ "$try" = 2 ] && note=" (on its second boot)"
	summary+=("vm -cpu $cpu, kvm_amd reference: $p passed, $f failed, $s skipped$note")
done

# 3. make run as a user drives it (tests/host/make-run.sh), on the first CPU model, in a full
# run or when RSVM_TESTS names make-run.
if [ -z "${RSVM_TESTS:-}" ] || [[ "${RSVM_TESTS}" == *make-run* ]]; then
	cpu1=$(set -- ${RSVM_CPUS:-max max,-la57}; echo "$1")
	echo "=== make run on -cpu $cpu1 ==="
	mr_log="$logdir/make-run.log"
	"$top/tests/host/make-run.sh" --cpu "$cpu1" > "$mr_log" 2>&1
	cat "$mr_log"
	mp=$(grep -c '^ok' "$mr_log"); mf=$(grep -c '^not ok' "$mr_log")
	[ "$mp" = 0 ] && [ "$mf" = 0 ] && mf=1
	passed=$((passed + mp)); failed=$((failed + mf))
	summary+=("make run (-cpu $cpu1): $mp passed, $mf failed")
fi

echo "=== summary ==="
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
