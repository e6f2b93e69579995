# rsvm-timeout: 900
# Linux as an L2 guest of rsvm-vmm on /dev/rsvm: the test kernel (the same bzImage as L1)
# boots with tests/l2/init as its initramfs; the guest writes a pattern to /dev/vda and reads
# it back after dropping caches, checks that the timer advances, and reboots. Checked here:
# the guest's result lines, the VMM's exit status 0, the pattern in the disk image (2 vCPUs,
# THP-backed RAM); then a guest poweroff (ACPI S5: status 0), a guest panic without ACPI
# (MP table only; status 3), and a shell on the console driven through the VMM's stdin. Plus
# bad input: clear messages, non-zero status.
#
# The same boots on kvm_amd, the reference, run in a VM of their own in which rsvm is never
# loaded (ref-linux-guest.sh, started by tests/run.sh): QEMU's TCG can crash L1 under
# kvm_amd's EVENTINJ injections (issue 12, Documentation/testing.md), and that crash must not
# take rsvm's tests down with it, nor be retried in a VM where rsvm ran. rsvm's own boots get
# one more run only when the module names the emulator's lost guest state (below).
. ./lib.sh
. ./l2lib.sh

# Bad input: clear message, non-zero status.
rsvm-vmm --dev /dev/null --kernel $K > /tmp/neg 2>&1; rc=$?
assert "bad device: non-zero status ($rc)" test $rc != 0
assert "bad device: message says not KVM-compatible" grep -q 'not a KVM-compatible device' /tmp/neg
rsvm-vmm --dev /dev/kvm-missing --kernel $K > /tmp/neg 2>&1; rc=$?
assert "missing device: non-zero status ($rc)" test $rc != 0
rsvm-vmm --dev /dev/null --kernel $K --mem 8M > /tmp/neg 2>&1; rc=$?
assert "--mem 8M: refused ($rc, $(cat /tmp/neg))" test $rc = 1
l2_bad_input /dev/rsvm

# /dev/rsvm claims everything rsvm-vmm needs (split irqchip, MSI, TSC rate).
rsvm-vmm --dev /dev/rsvm --kernel /work/no-such-kernel > /tmp/probe 2>&1
if grep -q 'missing capability' /tmp/probe; then
	fail "/dev/rsvm lacks what rsvm-vmm needs: $(sed 's/^rsvm-vmm: error: //' /tmp/probe)"
fi
m=$(dmesg_mark)
if ! l2_all /dev/rsvm rsvm; then
	# One more run only for the emulator's lost guest state, which the module detects and
	# names (vcpu/run.rs, host_state_as_guest; issue 12, Documentation/testing.md): QEMU
	# wrote the host's own registers into the guest's save area. Any other failure of
	# rsvm's boots fails here.
	dmesg_since $m | grep -q "saved the host's own state as the guest's" || fail "the L2 guest on /dev/rsvm (see above)"
	echo "note: the emulator lost the L2 guest's state (rsvm's log above names it); one more run"
	l2_all /dev/rsvm rsvm || fail "the L2 guest on /dev/rsvm, second run (see above)"
fi
