# Guest payloads in real, 32-bit protected and 64-bit long mode (page tables built by the
# test), through kvm-ioctls on /dev/rsvm: IO and MMIO round trips of every size and form,
# string I/O, CPUID, MSRs, exceptions inside the guest, #UD for SVM instructions, VMMCALL,
# XSETBV, HLT, triple fault, read-only slots, slot delete while idle. Each result is
# checked against the architecture; pinned pages return to zero.
. ./lib.sh
before=$(cat $DBG/pinned_pages)
mkdir -p /tmp/traces
for p in $(rsvm-test list); do
	rsvm-test payload "$p" > /tmp/traces/rsvm.$p 2>&1 || { cat /tmp/traces/rsvm.$p; fail "payload $p"; }
	pass "payload $p"
done
after=$(cat $DBG/pinned_pages)
assert "pinned pages back to $before (now $after)" test "$before" = "$after"
