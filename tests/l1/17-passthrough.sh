# Device assignment (amdvi=1): QEMU's edu (00:04.0) bound to rsvm with driver_override as
# VFIO does, its DMA blocked while unassigned; rsvm-test acts as the VMM (guest drives edu
# through its BAR in the NPT: DMA through the VM's I/O domain, factorial, MSI, then INTx
# level-triggered; isolation; hostile cases); unbind while assigned releases it (MSI, then
# INTx routed); unbind restores V=0; no host IRQ left behind; nothing leaks.
. ./lib.sh
A=$DBG/amdvi
BDF=0000:00:04.0
E=/sys/bus/pci/devices/$BDF
[ -r /sys/firmware/acpi/tables/IVRS ] || skip "no IVRS table (no -device amd-iommu)"
[ "$(cat $E/vendor 2>/dev/null):$(cat $E/device 2>/dev/null)" = "0x1234:0x11e8" ] || skip "no edu at $BDF"
[ -e $E/driver ] && skip "edu already has a driver ($(readlink $E/driver))"
field() { sed -n "s/^$1: //p" $A; }
# The DTE of edu (device id 0x0020): quadword 0 and 1.
dte() { echo "dte 20" > $A && sed -n 's/^peek 0020: \(0x[0-9a-f]*\) \(0x[0-9a-f]*\) .*/\1 \2/p' $A; }

held0=$(cat $DBG/pages_held)
unload_rsvm || fail "rmmod"
m=$(dmesg_mark)
insmod $RSVM_KO amdvi=1 || fail "insmod amdvi=1"
assert "debugfs amdvi exists" test -r $A
held=$(cat $DBG/pages_held)
pinned0=$(cat $DBG/pinned_pages)
assert "edu's DTE is V=0 while edu is not rsvm's ($(dte))" test "$(dte)" = "0x0000000000000000 0x0000000000000000"

bind() {
	echo rsvm > $E/driver_override || fail "driver_override"
	echo $BDF > /sys/bus/pci/drivers_probe || fail "drivers_probe"
}
unbind() {
	echo $BDF > /sys/bus/pci/drivers/rsvm/unbind || fail "unbind"
}
bind
assert "edu bound to rsvm" test "$(basename "$(readlink $E/driver)")" = rsvm
# V=1, TV=1, Mode 0, IR=IW=0: DMA blocked; domain 0.
assert "bound, unassigned: DTE blocked (V=1 TV=1 IR=IW=0) ($(dte))" test "$(dte)" = "0x0000000000000003 0x0000000000000000"
grep '^bound' $A
# QEMU's IVRS has no alias entries: edu's DTE is the only one it uses.
assert "bound line shows edu's IVRS alias (none)" grep -q '^bound 0000:00:04.0 vm 0 .* alias - events' $A

# rsvm's host IRQs of edu (MSI "rsvm-assigned", INTx "rsvm-intx").
no_rsvm_irq() { ! grep -q 'rsvm-' /proc/interrupts; }
timeout 200 rsvm-test passthrough --device $BDF --other 0000:00:00.0 || fail "rsvm-test passthrough"
grep '^bound' $A
assert "no rsvm host IRQ left after the test's VMs ($(grep rsvm- /proc/interrupts))" no_rsvm_irq
# INTx left disabled at the device (command register bit 10, config byte 5 bit 2).
intx_disabled() { [ $(( $(od -An -tu1 -j5 -N1 $E/config) & 4 )) -ne 0 ]; }
assert "released: INTx disabled at the device" intx_disabled
assert "released: DTE blocked again ($(dte))" test "$(dte)" = "0x0000000000000003 0x0000000000000000"
assert "no domain left" test "$(field domains)" = 0
assert "guest pages unpinned ($(cat $DBG/pinned_pages))" test "$(cat $DBG/pinned_pages)" = "$pinned0"
assert "pages held as before ($held)" test "$(cat $DBG/pages_held)" = "$held"

# The pin-and-map benchmark at its smallest (make bench runs 256 MiB and 1 GiB): every page
# pinned and mapped in the VM's domain when the memslot arrives, 2 MiB I/O leaves with THP
# backing, all unpinned when it goes (rsvm-bench checks pinned_pages itself).
out=$(rsvm-bench iommu-map --device $BDF --mib 8 --repeat 1) || fail "rsvm-bench iommu-map"
echo "$out" | sed 's/^/# /'
assert "8 MiB, 4 KiB backing: 2048 4 KiB I/O leaves, none of 2 MiB" test "$(echo "$out" | awk -F, '$3 == "4k" { print $8 "," $9 }')" = "2048,0"
assert "8 MiB, THP backing: four 2 MiB I/O leaves" test "$(echo "$out" | awk -F, '$3 == "2m" { print $8 "," $9 }')" = "0,4"
assert "pinned pages back after the benchmark" test "$(cat $DBG/pinned_pages)" = "$pinned0"

# Unbind while assigned: the VM loses the device (DMA blocked, BAR out of its NPT, MSI
# freed), then its DTE goes back to V=0.
rsvm-test passthrough --device $BDF --hold-secs 3 > /tmp/hold.out 2>&1 &
pid=$!
i=0; while ! grep -q '^assigned' /tmp/hold.out && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
assert "held: assigned to the holder" grep -q '^assigned' /tmp/hold.out
grep '^bound' $A
unbind
rc=0; wait $pid || rc=$?
cat /tmp/hold.out
assert "the holder saw the device taken away (exit $rc)" test $rc = 0
assert "unbound: edu has no driver" test ! -e $E/driver
assert "unbound: DTE V=0 as before ($(dte))" test "$(dte)" = "0x0000000000000000 0x0000000000000000"
assert "no domain left" test "$(field domains)" = 0
assert "unbound with MSI routed: its host IRQ freed" no_rsvm_irq

# The same with edu's INTx routed.
bind
rsvm-test passthrough --device $BDF --hold-secs 3 --intx > /tmp/hold.out 2>&1 &
pid=$!
i=0; while ! grep -q '^assigned' /tmp/hold.out && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
assert "held with INTx: assigned to the holder" grep -q '^assigned' /tmp/hold.out
assert "INTx routed: rsvm-intx host IRQ requested" grep -q 'rsvm-intx' /proc/interrupts
unbind
rc=0; wait $pid || rc=$?
cat /tmp/hold.out
assert "the INTx holder saw the device taken away (exit $rc)" test $rc = 0
assert "unbound with INTx routed: its host IRQ freed" no_rsvm_irq
assert "unbound with INTx routed: INTx disabled at the device" intx_disabled
assert "unbound: DTE V=0 as before ($(dte))" test "$(dte)" = "0x0000000000000000 0x0000000000000000"

# Bind and unbind again 10 times.
i=0
while [ $i -lt 10 ]; do bind; unbind; i=$((i + 1)); done
pass "10 bind/unbind cycles"
assert "DTE V=0 after the cycles" test "$(dte)" = "0x0000000000000000 0x0000000000000000"
echo > $E/driver_override
assert "pinned pages back ($(cat $DBG/pinned_pages))" test "$(cat $DBG/pinned_pages)" = "$pinned0"
assert "pages held back ($(cat $DBG/pages_held))" test "$(cat $DBG/pages_held)" = "$held"

# rmmod while edu is bound: the driver goes first, DTE restored, nothing leaked.
bind
rmmod rsvm || fail "rmmod with edu bound"
assert "edu unbound by rmmod" test ! -e $E/driver
echo > $E/driver_override
dmesg | tail -n +$((m + 1)) | grep -q 'BUG: rsvm unloads' && fail "leak reported at unload"
pass "no leak reported at unload"
kmemleak_clean ""
assert "back to the default load" insmod $RSVM_KO
assert "pages held as before with amdvi off ($held0)" test "$(cat $DBG/pages_held)" = "$held0"
