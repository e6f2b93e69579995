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
# The event log: QEMU never writes it, so records are injected where the unit would put
# them (an IO_PAGE_FAULT of 00:04.0 and an unknown code) and drained.
m2=$(dmesg_mark)
if echo "inject-event 2 20 101000" > $A 2>/dev/null; then
	echo "inject-event e 18 0" > $A || fail "inject a second event"
	assert "2 events drained" test "$(field events)" = 2
	assert "IO_PAGE_FAULT decoded" sh -c "dmesg | tail -n +$((m2 + 1)) | grep -q 'amdvi: event IoPageFault device 00:04.0 address 0x101000'"
	assert "unknown event code decoded" sh -c "dmesg | tail -n +$((m2 + 1)) | grep -q 'amdvi: event Unknown(14) device 00:03.0'"
	# A full log (255 records: one slot stays free), then 100 more: the ring wraps.
	i=0; while [ $i -lt 255 ]; do echo "inject-event 2 20 $i" > $A || fail "inject #$i"; i=$((i + 1)); done
	assert_not "a 256th record does not fit" sh -c "echo 'inject-event 2 20 0' > $A 2>/dev/null"
	cat $A > /dev/null
	i=0; while [ $i -lt 100 ]; do echo "inject-event 2 20 $i" > $A || fail "inject #$i"; i=$((i + 1)); done
	assert "355 more events drained over the log's wrap" test "$(field events)" = 357
else
	echo "# the unit's event log tail is not writable: injection skipped"
fi
held=$(cat $DBG/pages_held)
echo "pages held with the unit enabled: $held"

# DMA through the IOMMU: QEMU's edu device (00:04.0, requester id 0x0020) copies between
# its 4 KiB buffer and device addresses that rsvm maps in a test domain.
E=/sys/bus/pci/devices/0000:00:04.0
if [ "$(cat $E/vendor 2>/dev/null):$(cat $E/device 2>/dev/null)" = "0x1234:0x11e8" ]; then
	# "head first": the byte sum of a buffer's first 2 KiB and its first 8 bytes; bufsum:
	# the byte sum of the whole buffer. edu moves 2 KiB per DMA (QEMU 7.2: < 4 KiB).
	buf() { sed -n "s/^buf $1 .* head \(0x[0-9a-f]*\) first \(0x[0-9a-f]*\)$/\1 \2/p" $A; }
	bufsum() { sed -n "s/^buf $1 .* sum \(0x[0-9a-f]*\) head .*/\1/p" $A; }
	bufpa() { sed -n "s/^buf $1 iova [0-9a-fx]* pa \(0x[0-9a-f]*\) .*/\1/p" $A; }
	bufwalk() { sed -n "s/^buf $1 .* walk \(0x[0-9a-f]*\) .*/\1/p" $A; }
	# The first quadword of edu's DTE, masked to IW, IR (62:61), Mode (11:9), TV, V.
	dteq0() { q=$(sed -n "s/^dte 0020: \(0x[0-9a-f]*\) .*/\1/p" $A); echo $((q & 0x6000000000000e03)); }
	# edu-dma <to_ram> <iova> <len>: rsvm finds edu, enables memory decoding and bus
	# mastering for the DMA and waits for its completion.
	dma() { echo "edu-dma $1 $2 $3" > $A || fail "edu DMA $*"; }
	echo "dom-create 3" > $A || fail "dom-create"
	echo "dom-map 100000 2" > $A || fail "dom-map"
	assert "2 leaves, 3 PDEs written, domain 1" grep -q "^domain: id 1 levels 3 tables 3 entries_written 4 leaves_4k 2 leaves_2m 0" $A
	assert "the two buffers differ before DMA" test "$(buf 0)" != "$(buf 1)"
	echo "buf1 at device address 0x101000 is host page $(bufpa 1)"
	assert "walking the tables for 0x100000 and 0x101000 gives the buffers' pages" \
		test "$(bufwalk 0) $(bufwalk 1)" = "$(bufpa 0) $(bufpa 1)"
	assert "device address 0x101000 is not buf1's host address" test "$(bufpa 1)" != 0x101000
	assert_not "edu DMA refused while edu's DTE is V=0 (untranslated)" sh -c "echo edu-dma 1 101000 800 > $A"
	echo "dom-attach 20" > $A || fail "dom-attach"
	assert "edu's DTE: V, TV, Mode 3, IR, IW, domain 1" \
		sh -c "test $(dteq0) = $((0x6000000000000603)) && grep -q '^dte 0020: .* domain 1$' $A"
	assert_not "a 4 KiB edu DMA is refused (QEMU 7.2 would abort)" sh -c "echo edu-dma 1 101000 1000 > $A"
	dma 0 100000 800
	dma 1 101000 800
	grep '^buf' $A
	assert "DMA read from 0x100000 and written to 0x101000 moved buf0's bytes into buf1" test "$(buf 1)" = "$(buf 0)"
	# 2 MiB leaf: edu writes the last 4 KiB of a zeroed 2 MiB buffer.
	echo "dom-map2m 200000" > $A || fail "dom-map2m"
	dma 1 3ff000 800
	s0=$(buf 0 | cut -d' ' -f1)
	assert "DMA through a 2 MiB leaf reached the 2 MiB buffer's last page" test "$(bufsum 2)" = "$s0"
	# An unmapped device address in a translated domain: nothing of ours changes.
	echo "dom-fill 1 0" > $A
	dma 1 102000 800
	assert "DMA to an unmapped address wrote nothing" test "$(bufsum 1)" = 0x0
	# Blocked DTE (V=1, TV=1, IR=IW=0): a mapped address is not written either.
	echo "dom-block 20" > $A || fail "dom-block"
	assert "edu's DTE blocked: V, TV, Mode 0, IR=IW=0" test "$(dteq0)" = 3
	dma 1 101000 800
	assert "blocked DTE: DMA to a mapped address wrote nothing" test "$(bufsum 1)" = 0x0
	# Attached again, then unmapped: the IOMMU's cached translation is flushed too.
	echo "dom-attach 20" > $A || fail "dom-attach again"
	dma 1 101000 800
	assert "re-attached: DMA reaches buf1 again" test "$(buf 1)" = "$(buf 0)"
	echo "dom-fill 1 0" > $A
	echo "dom-unmap" > $A || fail "dom-unmap"
	dma 1 101000 800
	assert "after unmap + INVALIDATE_IOMMU_PAGES: DMA wrote nothing" test "$(bufsum 1)" = 0x0
	echo "dom-destroy" > $A || fail "dom-destroy"
	assert "domain freed" test "$(field domains)" = 0
	assert "dom-create beyond the unit's HATS refused" sh -c "! echo 'dom-create 7' > $A"
	assert "pages held back to before the domain" test "$(cat $DBG/pages_held)" = "$held"
	echo "events drained: $(field events)"
else
	echo "# no edu device at 00:04.0: DMA checks skipped"
fi

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
kmemleak_clean "after the cycles"
assert "back to the default load" insmod $RSVM_KO
assert "pages held as before with amdvi off ($held0)" test "$(cat $DBG/pages_held)" = "$held0"
