# rsvm's AMD-Vi driver (module parameter amdvi=1): the unit from the IVRS is claimed and
# enabled, commands complete (COMPLETION_WAIT round trips counted in debugfs), unload turns
# it off and restores its registers, and nothing leaks over 20 load/unload cycles.
. ./lib.sh
A=$DBG/amdvi
[ -r /sys/firmware/acpi/tables/IVRS ] || skip "no IVRS table (no -device amd-iommu)"
field() { sed -n "s/^$1: //p" $A; }

assert "rsvm without amdvi=1 leaves the IOMMU alone" test ! -e $A
held0=$(cat $DBG/pages_held)
unload_rsvm || fail "rmmod"
m=$(dmesg_mark)
insmod $RSVM_KO amdvi=1 || fail "insmod amdvi=1"
dmesg_since $m | grep amdvi
assert "debugfs amdvi exists" test -r $A
cat $A
assert "unit found at QEMU's MMIO base 0xfed80000" test "$(field mmio_base)" = 0xfed80000
assert "unit is 0000:00:03.0 (the IVHD's device id)" test "$(field devid)" = 0000:00:03.0
assert "MMIO region claimed by rsvm" grep -q "fed80000-fed83fff : rsvm-amdvi" /proc/iomem
ctl=$(field control)
assert "IommuEn, EventLogEn, CmdBufEn set (control $ctl)" test $((ctl & 0x1005)) = $((0x1005))
saved0=$(field saved_control)
assert "unit was off before rsvm (control $saved0)" test $((saved0 & 1)) = 0
w0=$(field completion_waits); c0=$(field commands)
assert "a COMPLETION_WAIT completed during enable" test "$w0" -ge 1
echo wait > $A || fail "COMPLETION_WAIT"
assert "COMPLETION_WAIT round trip counted" test "$(field completion_waits)" = $((w0 + 1))
assert "command counted" test "$(field commands)" = $((c0 + 1))
echo "inv-dte 20" > $A || fail "INVALIDATE_DEVTAB_ENTRY"
echo "inv-domain 1" > $A || fail "INVALIDATE_IOMMU_PAGES"
assert "invalidations + their waits counted" test "$(field commands)" = $((c0 + 5))
assert_not "bad command refused" sh -c "echo bogus > $A"
assert_not "bad argument refused" sh -c "echo 'inv-dte zz' > $A"
# 300 waits: the 256-entry ring wraps (QEMU reports head 0x1000 at the wrap).
i=0; while [ $i -lt 300 ]; do echo wait > $A || fail "wait #$i"; i=$((i + 1)); done
assert "300 more round trips over the ring's wrap" test "$(field completion_waits)" = $((w0 + 303))
held=$(cat $DBG/pages_held)
echo "pages held with the unit enabled: $held"

rmmod rsvm || fail "rmmod"
assert "MMIO region released" sh -c "! grep -q rsvm-amdvi /proc/iomem"
dmesg | tail -n +$((m + 1)) | grep -q 'BUG: rsvm unloads' && fail "leak reported at unload"
# The next load finds the control register as the first one did: unload restored it.
insmod $RSVM_KO amdvi=1 || fail "insmod amdvi=1 after unload"
assert "control restored at unload ($(field saved_control) = $saved0)" test "$(field saved_control)" = "$saved0"
rmmod rsvm || fail "rmmod"

# 20 cycles, each with a round trip; then kmemleak.
i=0
while [ $i -lt 20 ]; do
	insmod $RSVM_KO amdvi=1 || fail "insmod #$i"
	echo wait > $A || fail "wait in cycle #$i"
	rmmod rsvm || fail "rmmod #$i"
	i=$((i + 1))
done
pass "20 load/unload cycles with amdvi=1"
dmesg | tail -n +$((m + 1)) | grep -q 'BUG: rsvm unloads' && fail "leak reported at unload"
pass "no leak reported at any unload"
assert "no amdvi error logged" sh -c "! dmesg | tail -n +$((m + 1)) | grep -q 'amdvi:.*\(timed out\|full\|rejected\|reads\)'"
k=/sys/kernel/debug/kmemleak
if [ -w $k ]; then
	echo scan > $k; sleep 1; echo scan > $k
	if grep -q rsvm $k; then cat $k; fail "kmemleak: objects allocated by rsvm unreferenced"; fi
	pass "kmemleak: nothing of rsvm's after the cycles"
fi
assert "back to the default load" insmod $RSVM_KO
assert "pages held as before with amdvi off ($held0)" test "$(cat $DBG/pages_held)" = "$held0"
