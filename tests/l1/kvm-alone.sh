# The emulator reproducer (Documentation/testing.md, "The -cpu max failures"): kvm_amd alone,
# rsvm never loaded in this boot (vm-run --no-load), runs what the suite runs on /dev/kvm,
# ROUNDS times, with kvm_amd reloaded every round as the suite does: every payload, the
# memslot rules, the APIC checks, and the L2 Linux boot (2 vCPUs, THP). Not part of
# `make test` (no number): scripts/flake-loop --kvm-alone runs it. A problem in L1's log fails
# the boot (vm-run); a step failing prints and counts.
#   sh /tests/l1/kvm-alone.sh ROUNDS
. ./lib.sh
rounds=${1:-5}
K=/work/bzImage; I=/work/l2-initramfs.cpio.gz
! loaded || fail "rsvm is loaded: boot with vm-run --no-load"
bad=0; r=1
while [ $r -le "$rounds" ]; do
	insmod /lib/modules/irqbypass.ko && insmod /lib/modules/kvm.ko && insmod /lib/modules/kvm-amd.ko || fail "load kvm_amd"
	for p in $(rsvm-test list); do
		timeout 60 rsvm-test --dev /dev/kvm payload "$p" > /tmp/kvm.$p 2>&1 || { echo "round $r: payload $p failed"; bad=$((bad + 1)); }
	done
	timeout 60 rsvm-test --dev /dev/kvm memslots > /dev/null 2>&1 || { echo "round $r: memslots failed"; bad=$((bad + 1)); }
	timeout 120 rsvm-test --dev /dev/kvm lapic > /dev/null 2>&1 || { echo "round $r: lapic failed"; bad=$((bad + 1)); }
	rm -f /tmp/kdisk.img; dd if=/dev/zero of=/tmp/kdisk.img bs=1M count=8 2>/dev/null
	timeout 400 rsvm-vmm --dev /dev/kvm --kernel $K --initrd $I --mem 128M --cpus 2 --hugepages --disk /tmp/kdisk.img \
		--timeout 300 < /dev/null > /tmp/kl2.log 2>&1
	rc=$?
	if [ $rc != 0 ] || ! grep -q 'RSVM-L2: done' /tmp/kl2.log; then
		echo "round $r: L2 boot on kvm_amd: status $rc"; tail -n 30 /tmp/kl2.log | sed 's/^/  L2| /; s/Oops/O0ps/g; s/BUG:/BUG_:/g; s/WARNING:/WARNING_:/g; s/Call Trace:/Call_Trace:/g; s/Kernel panic/Kernel_panic/g'
		bad=$((bad + 1))
	fi
	rmmod kvm_amd; rmmod kvm; rmmod irqbypass
	echo "kvm-alone: round $r done, uptime $(cut -d' ' -f1 /proc/uptime) s, $bad failures so far"
	r=$((r + 1))
done
[ $bad = 0 ] || fail "kvm-alone: $bad failures in $rounds rounds"
pass "kvm-alone: $rounds rounds"
