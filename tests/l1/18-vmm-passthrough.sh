# rsvm-vmm --passthrough (amdvi=1): QEMU's edu (00:04.0) bound to rsvm, given to the test
# kernel booted as an L2 guest on rsvm-vmm's emulated PCI bus. The guest (tests/l2/init,
# l2_test=edu) finds 1234:11e8 with its BAR0, drives it through BAR0 with devmem, DMAs a
# pattern RAM -> edu -> RAM through memmap-reserved guest memory, aims a DMA above its RAM
# (the data must land nowhere: not in guest RAM, not at that address in L1), and gets edu's
# MSI through the emulated MSI capability. With ACPI (PNP0A03 + _PRT) and with --no-acpi (MP
# table + conf1 probing). Then: a second VMM asking for the busy device, bad BDFs, an unbound
# device, /dev/kvm: status 1 with a clear message. After each run nothing is left: pinned
# pages back, edu's DTE blocked again, no domain, no rsvm-vmm process.
#
# tests/run.sh adds /work/bzImage and /work/l2-initramfs.cpio.gz to the VM.
. ./lib.sh
K=/work/bzImage; I=/work/l2-initramfs.cpio.gz
A=$DBG/amdvi
BDF=0000:00:04.0
E=/sys/bus/pci/devices/$BDF
TMO=${RSVM_L2_TIMEOUT:-400}
[ -f "$K" ] && [ -f "$I" ] || skip "no $K or $I (tests/run.sh adds them)"
[ -r /sys/firmware/acpi/tables/IVRS ] || skip "no IVRS table (no -device amd-iommu)"
[ "$(cat $E/vendor 2>/dev/null):$(cat $E/device 2>/dev/null)" = "0x1234:0x11e8" ] || skip "no edu at $BDF"
[ -e $E/driver ] && skip "edu already has a driver ($(readlink $E/driver))"
command -v rsvm-vmm > /dev/null || fail "rsvm-vmm not installed"
field() { sed -n "s/^$1: //p" $A; }
dte() { echo "dte 20" > $A && sed -n 's/^peek 0020: \(0x[0-9a-f]*\) \(0x[0-9a-f]*\) .*/\1 \2/p' $A; }
l2_show() { sed -e 's/^/  L2| /' -e 's/Oops/O0ps/g; s/BUG:/BUG_:/g; s/WARNING:/WARNING_:/g; s/Kernel panic/Kernel_panic/g; s/Call Trace:/Call_Trace:/g; s/general protection/general_protection/g; s/soft lockup/soft_lockup/g; s/rcu: INFO/rcu_INFO/g; s/hung_task/hung-task/g; s/UBSAN:/UBSAN_:/g; s/lockdep/lock-dep/g'; }

MEM_MIB=128
# Reserved from the guest kernel for the DMA buffers (guest-physical), and the address above
# guest RAM the isolation DMA aims at.
EDU_RAM=0x6000000
OUTSIDE=0x10000000
CMDLINE="console=ttyS0 reboot=k panic=1 memmap=1M\$$EDU_RAM l2_test=edu edu_ram=$EDU_RAM edu_outside=$OUTSIDE edu_mem_mib=$MEM_MIB"
PAT0=$(printf '0x%08X' $((0x5a17c0de)))

unload_rsvm || fail "rmmod"
insmod $RSVM_KO amdvi=1 || fail "insmod amdvi=1"
echo rsvm > $E/driver_override || fail "driver_override"
echo $BDF > /sys/bus/pci/drivers_probe || fail "drivers_probe"
assert "edu bound to rsvm" test "$(basename "$(readlink $E/driver)")" = rsvm
assert "bound, unassigned: DTE blocked ($(dte))" test "$(dte)" = "0x0000000000000003 0x0000000000000000"
pinned0=$(cat $DBG/pinned_pages)
host_out0=$(devmem $OUTSIDE 32 2>/dev/null || echo none)

# run_l2 NAME [ARGS]: boot the guest with edu passed through; check its result lines and
# that nothing is left afterwards.
run_l2() {
	name=$1; shift; log=/tmp/l2pt-$name.log
	t0=$(date +%s)
	rsvm-vmm --kernel $K --initrd $I --mem ${MEM_MIB}M --timeout "$TMO" --passthrough $BDF \
		--cmdline "$CMDLINE" "$@" < /dev/null > $log 2>&1 &
	pid=$!
	i=0; while ! grep -q 'RSVM-L2: init started' $log && [ $i -lt "$TMO" ] && kill -0 $pid 2>/dev/null; do sleep 1; i=$((i + 1)); done
	# While the guest runs: all of its RAM pinned; edu assigned (a second VMM is refused).
	pinned=$(cat $DBG/pinned_pages)
	rsvm-vmm --kernel $K --mem 64M --timeout 30 --passthrough $BDF < /dev/null > /tmp/l2pt-busy.log 2>&1; brc=$?
	wait $pid; rc=$?
	t1=$(date +%s)
	grep -E '^RSVM-L2|rsvm-vmm:|No irq handler|pci 0000:00|PCI|ACPI: PCI' $log | l2_show
	if [ $rc != 0 ] || grep -q 'RSVM-L2: FAIL' $log || ! grep -q 'RSVM-L2: done' $log; then
		echo "--- $name: last lines of the guest console:"; tail -n 60 $log | l2_show
		fail "$name: L2 guest with edu (rsvm-vmm exit status $rc)"
	fi
	pass "$name: L2 Linux with edu passed through ran and rebooted in $((t1 - t0)) s; VMM exit 0"
	assert "$name: the VMM said all guest RAM is pinned" grep -q "all $MEM_MIB MiB of guest RAM are pinned" $log
	assert "$name: edu is the guest's 00:01.0" grep -q "$BDF is the guest's 0000:00:01.0" $log
	assert "$name: guest RAM pinned while assigned ($pinned pages, before $pinned0)" test "$pinned" -ge $((pinned0 + MEM_MIB * 256))
	assert "$name: a second VMM is refused the busy device (status $brc: $(tail -n1 /tmp/l2pt-busy.log))" \
		sh -c "test $brc = 1 && grep -q 'busy' /tmp/l2pt-busy.log"
	assert "$name: guest found edu (1234:11e8) on its PCI bus" grep -q 'RSVM-L2: edu found at 0000:00:01.0' $log
	assert "$name: guest sees BAR0 (1 MiB) in resource" grep -q 'RSVM-L2: edu BAR0 0x.* size 1048576' $log
	assert "$name: guest routed edu's INTA to an IRQ" grep -q 'RSVM-L2: edu intx routed to irq [1-9]' $log
	assert "$name: guest drove edu's registers through BAR0" grep -q 'RSVM-L2: edu registers ok' $log
	assert "$name: DMA RAM -> edu -> RAM round trip in guest memory" grep -q 'RSVM-L2: edu dma ok' $log
	assert "$name: DMA above guest RAM did not land in guest RAM" grep -q 'RSVM-L2: edu dma outside guest ram done' $log
	assert "$name: edu's MSI reached the guest on the vector it programmed" grep -q 'RSVM-L2: edu msi ok' $log
	assert "$name: edu's INTx reached the guest twice, level-triggered (uio_pci_generic)" grep -q 'RSVM-L2: edu intx ok' $log
	if [ "$host_out0" != none ]; then
		got=$(devmem $OUTSIDE 32)
		assert "$name: L1 physical $OUTSIDE does not hold the guest's pattern ($got)" test "$got" != "$PAT0"
	fi
	# Nothing left: the process is gone, the VM fd closed, the device released.
	assert "$name: no rsvm-vmm left" test -z "$(pidof rsvm-vmm)"
	assert "$name: edu released: DTE blocked again ($(dte))" test "$(dte)" = "0x0000000000000003 0x0000000000000000"
	assert "$name: no I/O domain left" test "$(field domains)" = 0
	assert "$name: guest pages unpinned ($(cat $DBG/pinned_pages), before $pinned0)" test "$(cat $DBG/pinned_pages)" = "$pinned0"
	assert "$name: edu still bound to rsvm" test "$(basename "$(readlink $E/driver)")" = rsvm
}

run_l2 acpi
assert "acpi: the guest found the PCI root bridge in ACPI" grep -q 'PCI0' /tmp/l2pt-acpi.log
run_l2 mptable --no-acpi
assert "mptable: the guest routed INTA from the MP table" grep -q '0000:00:01.0: PCI->APIC IRQ transform: INT A' /tmp/l2pt-mptable.log

# Bad input: status 1 and a message that says what is wrong.
bad() {
	want=$1; shift
	rsvm-vmm --kernel $K --mem 64M --timeout 60 "$@" < /dev/null > /tmp/l2pt-bad.log 2>&1; rc=$?
	if [ $rc = 1 ] && grep -q "$want" /tmp/l2pt-bad.log; then
		pass "$*: status 1, $(grep -m1 "$want" /tmp/l2pt-bad.log)"
	else
		cat /tmp/l2pt-bad.log; fail "$*: status $rc (want 1 and '$want')"
	fi
}
bad "is not a PCI address" --passthrough 0000:00:4
bad "is not a PCI address" --passthrough 0000:00:20.0
bad "is not a PCI address" --passthrough edu
bad "no such PCI device" --passthrough 0000:7f:00.0
bad "not bound to rsvm" --passthrough 0000:00:00.0
bad "at most 4 devices" --passthrough $BDF --passthrough $BDF --passthrough $BDF --passthrough $BDF --passthrough $BDF
assert "no rsvm-vmm left after the bad inputs" test -z "$(pidof rsvm-vmm)"
assert "pinned pages back after the bad inputs" test "$(cat $DBG/pinned_pages)" = "$pinned0"
assert "edu's DTE blocked after the bad inputs ($(dte))" test "$(dte)" = "0x0000000000000003 0x0000000000000000"

# /dev/kvm has no device assignment: refused with a message naming /dev/rsvm.
echo $BDF > /sys/bus/pci/drivers/rsvm/unbind || fail "unbind"
echo > $E/driver_override
rmmod rsvm || fail "rmmod rsvm"
if [ -f /lib/modules/kvm-amd.ko ]; then
	insmod /lib/modules/irqbypass.ko && insmod /lib/modules/kvm.ko && insmod /lib/modules/kvm-amd.ko || fail "load kvm_amd"
	rsvm-vmm --dev /dev/kvm --kernel $K --mem 64M --passthrough $BDF < /dev/null > /tmp/l2pt-bad.log 2>&1; rc=$?
	rmmod kvm_amd; rmmod kvm; rmmod irqbypass
	[ $rc = 1 ] && grep -q 'needs /dev/rsvm' /tmp/l2pt-bad.log || { cat /tmp/l2pt-bad.log; insmod $RSVM_KO; fail "/dev/kvm --passthrough: status $rc (want 1, 'needs /dev/rsvm')"; }
	pass "/dev/kvm --passthrough: status 1, $(grep -m1 'needs /dev/rsvm' /tmp/l2pt-bad.log)"
fi
kmemleak_clean "after the passthrough runs"
assert "back to the default load" insmod $RSVM_KO
