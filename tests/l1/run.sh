#!/bin/sh
# Run the in-VM tests as TAP 13 (kselftest style): tests/l1/run.sh [TEST.sh...]
# Every test starts and must end with rsvm loaded.
cd "$(dirname "$0")" || exit 1
tests="$*"
[ -n "$tests" ] || tests=$(ls [0-9][0-9]-*.sh)
n=$(echo $tests | wc -w)
# The state every test starts from: no VMM or test client running, kvm_amd, kvm and
# irqbypass unloaded, edu (00:04.0) bound to no driver, rsvm loaded with its default
# parameters, or not loaded at all in a VM booted without it (vm-run --no-load: the kvm_amd
# reference, ref-linux-guest.sh). Says what it had to undo.
home_rsvm=0; grep -q '^rsvm ' /proc/modules && home_rsvm=1
restore() {
	killall -q -9 rsvm-test rsvm-bench rsvm-vmm rsvm-fuzz qemu-system-x86_64 2>/dev/null && { echo "killed leftover programs"; sleep 1; }
	e=/sys/bus/pci/devices/0000:00:04.0
	if [ -e /sys/bus/pci/drivers/rsvm/0000:00:04.0 ]; then
		echo 0000:00:04.0 > /sys/bus/pci/drivers/rsvm/unbind && echo "unbound edu from rsvm"
	fi
	[ -w $e/driver_override ] && [ "$(cat $e/driver_override)" != "(null)" ] && echo > $e/driver_override
	for m in kvm_amd kvm irqbypass; do
		grep -q "^$m " /proc/modules && { rmmod $m && echo "unloaded $m" || echo "could not unload $m"; }
	done
	# Reloaded even if it is loaded: the test may have loaded it with other parameters.
	if grep -q '^rsvm ' /proc/modules; then rmmod rsvm || echo "could not unload rsvm"; fi
	[ $home_rsvm = 1 ] || return 0
	insmod /lib/modules/rsvm.ko && echo "rsvm reloaded with default parameters"
}
# The emulator's lost interrupts (Documentation/testing.md, "L1's lost interrupts"): QEMU's
# TCG can drop an L1 CPU's interrupt request while a nested guest runs, and a CPU that then
# halts sleeps until something else interrupts it (seen as `soft lockup ... [swapper/N]` in
# default_idle, on rsvm and on kvm_amd). Every 2 s each online CPU gets an IPI (a task placed
# on it), which makes QEMU look at that CPU's APIC again. It cannot hide a CPU that rsvm left
# unable to take interrupts: that CPU would not take the IPI either. vm-run's irq-watch still
# reports each such episode from the host side.
if [ "${rsvm_keepalive:-1}" = 1 ]; then
	(
		trap 'exit 0' TERM
		while :; do
			sleep 2
			for c in /sys/devices/system/cpu/cpu[0-9]*; do
				taskset -c "${c##*cpu}" true 2>/dev/null
			done
		done
	) &
	keepalive=$!
fi
echo "TAP version 13"
echo "1..$n"
i=0
for t in $tests; do
	i=$((i + 1))
	name=${t%.sh}
	echo "# --- $name"
	# A test that needs longer than the default says so in its first line ("# rsvm-timeout: N").
	to=$(sed -n '1s/^# rsvm-timeout: *\([0-9][0-9]*\)$/\1/p' "$t")
	{ timeout "${to:-${rsvm_test_timeout:-600}}" sh "./$t" 2>&1; echo $? > /tmp/rc; } > /tmp/out
	sed 's/^/# /' /tmp/out
	rc=$(cat /tmp/rc)
	case "$rc" in
	0) echo "ok $i $name" ;;
	4) echo "ok $i $name # SKIP $(sed -n 's/^SKIP: //p' /tmp/out | tail -n1)" ;;
	*) echo "not ok $i $name # exit $rc" ;;
	esac
	# A failed test must not fail the tests after it: put the VM back as every test finds it.
	case "$rc" in 0|4) ;; *) restore | sed 's/^/# restore: /' ;; esac
	# A test that left rsvm unloaded must not take the rest down with it.
	[ $home_rsvm = 0 ] || grep -q '^rsvm ' /proc/modules || insmod /lib/modules/rsvm.ko 2>/dev/null
done
if [ -n "${keepalive:-}" ]; then kill "$keepalive" 2>/dev/null; fi
