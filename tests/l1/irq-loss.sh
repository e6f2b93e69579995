# The emulator's lost interrupt (issue 12, Documentation/testing.md "L1's lost timer
# interrupts"): a minimal reproducer, not part of `make test` (RSVM_TESTS=irq-loss.sh).
#
# CPU 0 runs a guest that exits as fast as it can (rsvm-bench exit-costs: CPUID, OUT, HLT...)
# under kvm_amd, then under rsvm, and for reference a plain busy loop with no guest. CPU 1
# watches CPU 0's local timer interrupt count (LOC in /proc/interrupts): a busy CPU ticks at
# HZ, so a count that stands still for 2 s means the CPU lost its timer interrupt (the
# one-shot APIC timer is re-armed only by its handler, so nothing else brings it back). The
# watcher then wakes CPU 0 with an IPI (a task moved there), which makes QEMU look at the
# APIC again, and counts a stall. Prints the stalls per case; fails if the busy loop without
# a guest stalls (the watcher itself would be wrong then).
#   rsvm_irqloss_secs=N   seconds per case (default 120)
. ./lib.sh
SECS=${rsvm_irqloss_secs:-120}
[ "$(online_cpus | tr , " " | wc -w)" -ge 2 ] || skip "needs 2 CPUs"
taskset -p -c 1 $$ > /dev/null
loc0() { awk '$1 == "LOC:" { print $2 }' /proc/interrupts; }
now() { cut -d. -f1 /proc/uptime; }
nap() { sleep 0.5 2>/dev/null || usleep 500000; }

# watch NAME PID: counts CPU 0's stalls while PID lives.
watch() {
	stalls=0; still=0; last=$(loc0)
	while kill -0 "$2" 2>/dev/null; do
		nap
		cur=$(loc0)
		if [ "$cur" = "$last" ]; then still=$((still + 1)); else still=0; fi
		last=$cur
		if [ "$still" = 4 ]; then
			stalls=$((stalls + 1))
			echo "$1: CPU 0 took no timer interrupt for 2 s while busy (uptime $(now) s)"
			taskset -c 0 true
		fi
	done
	echo "irq-loss: $1: $stalls stalls in $SECS s"
}

# guest DEV: exits on CPU 0 for SECS seconds.
guest() {
	end=$(($(now) + SECS))
	while [ "$(now)" -lt "$end" ]; do
		rsvm-bench --dev "$1" --cpu 0 exit-costs --iters 20000 --repeat 1 > /dev/null 2>&1 || { echo "rsvm-bench on $1 failed"; return 1; }
	done
}

taskset -c 0 sh -c "end=\$((\$(cut -d. -f1 /proc/uptime) + $SECS)); while [ \$(cut -d. -f1 /proc/uptime) -lt \$end ]; do :; done" &
watch "no guest" $!
native=$stalls

unload_rsvm || fail "rmmod rsvm"
insmod /lib/modules/irqbypass.ko && insmod /lib/modules/kvm.ko && insmod /lib/modules/kvm-amd.ko || fail "load kvm_amd"
guest /dev/kvm &
watch "kvm_amd" $!
rmmod kvm_amd; rmmod kvm; rmmod irqbypass
load_rsvm || fail "insmod rsvm"
guest /dev/rsvm &
watch "rsvm" $!
assert "irq-loss: the watcher sees no stall without a guest" test "$native" = 0
