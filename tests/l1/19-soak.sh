# Soak: a busy L2 Linux guest on rsvm (2 vCPUs, THP-backed RAM, tests/l2/init with
# l2_test=soak) must keep its state while the host hits it between entries: SIGSTOP/SIGCONT
# to the VMM (every vCPU leaves KVM_RUN with EINTR and re-enters), its threads moved between
# CPUs (taskset), memory compaction and page-cache drops (pinned guest pages must stay put),
# and other VMs created and destroyed beside it (rsvm-test's payloads), all of which also
# interrupt the guest with host IPIs and timer interrupts. Passes only if the guest's own
# checks hold to the end, the VMM exits 0 and neither kernel's log shows a problem.
# rsvm_soak_secs= on the kernel command line sets the guest's busy time (make soak: long).
. ./lib.sh
K=/work/bzImage; I=/work/l2-initramfs.cpio.gz
[ -f "$K" ] && [ -f "$I" ] || skip "no $K or $I (tests/run.sh adds them)"
SECS=${rsvm_soak_secs:-100}
log=/tmp/l2-soak.log
rm -f /tmp/soakdisk.img; dd if=/dev/zero of=/tmp/soakdisk.img bs=1M count=8 2>/dev/null
before=$(cat $DBG/pinned_pages)
m=$(dmesg_mark)
rsvm-vmm --dev /dev/rsvm --kernel $K --initrd $I --mem 256M --cpus 2 --hugepages \
	--disk /tmp/soakdisk.img --timeout $((SECS + 400)) --stats \
	--cmdline "console=ttyS0 reboot=k panic=1 pci=off l2_test=soak l2_soak=$SECS" < /dev/null > $log 2>&1 &
pid=$!
i=0
while ! grep -q 'RSVM-L2: soak cpu' $log && kill -0 $pid 2>/dev/null && [ $i -lt 300 ]; do sleep 1; i=$((i + 1)); done
grep -q 'RSVM-L2: soak cpu' $log || { kill -9 $pid 2>/dev/null; wait $pid; tail -n 40 $log | sed 's/^/  L2| /'; fail "the soak guest did not start its workers"; }

# The host side, until the VMM exits. Other VMs beside the guest run in the background.
( while kill -0 $pid 2>/dev/null; do
	for p in $(rsvm-test list); do kill -0 $pid 2>/dev/null || break; rsvm-test payload "$p" > /dev/null 2>&1 || echo "soak: payload $p failed"; done
	echo vms >> /tmp/soak-hits
done ) > /tmp/soak-vms.log 2>&1 &
vms=$!
rm -f /tmp/soak-hits
stops=0; moves=0; compactions=0; mask=1
while kill -0 $pid 2>/dev/null; do
	kill -STOP $pid 2>/dev/null; usleep 20000; kill -CONT $pid 2>/dev/null
	stops=$((stops + 1))
	mask=$((3 - mask))
	for t in /proc/$pid/task/*; do taskset -p $mask "${t##*/}" > /dev/null 2>&1; done
	moves=$((moves + 1))
	if [ $((stops % 10)) = 0 ]; then
		echo 1 > /proc/sys/vm/compact_memory; echo 3 > /proc/sys/vm/drop_caches
		compactions=$((compactions + 1))
	fi
	usleep 200000
done
wait $pid; rc=$?
kill $vms 2>/dev/null; wait $vms 2>/dev/null
killall -q -9 rsvm-test 2>/dev/null
nvms=$(grep -c vms /tmp/soak-hits 2>/dev/null || echo 0)
grep -E '^RSVM-L2: (soak|FAIL)|rsvm-vmm:' $log | sed 's/^/  L2| /'
if [ $rc != 0 ] || grep -q 'RSVM-L2: FAIL' $log || ! grep -q 'RSVM-L2: soak ok' $log; then
	tail -n 60 $log | sed -e 's/^/  L2| /' -e 's/Oops/O0ps/g; s/BUG:/BUG_:/g; s/WARNING:/WARNING_:/g; s/Kernel panic/Kernel_panic/g; s/Call Trace:/Call_Trace:/g; s/soft lockup/soft_lockup/g'
	fail "soak: the guest's checks (VMM exit status $rc)"
fi
pass "soak: the guest's checks held for ${SECS} s: $stops SIGSTOP/SIGCONT, $moves migrations, $compactions compactions, $nvms rounds of other VMs"
assert "soak: the host was really busy (>= 20 stops, >= 2 compactions)" test $stops -ge 20 -a $compactions -ge 2
assert_not "soak: other VMs beside the guest failed ($(head -n 3 /tmp/soak-vms.log))" grep -q failed /tmp/soak-vms.log
assert_not "soak: L1's kernel log is clean" sh -c "dmesg | tail -n +$((m + 1)) | grep -E 'Oops|BUG:|WARNING:|Call Trace|soft lockup|rcu: INFO|general protection|hung_task'"
assert "soak: pinned pages back to $before" test "$(cat $DBG/pinned_pages)" = "$before"
