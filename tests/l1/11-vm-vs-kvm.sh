# Differential: every payload, the memslot rules and the API checks on /dev/kvm (kvm_amd in
# this same L1); exits and final registers must equal rsvm's.
. ./lib.sh
[ -f /lib/modules/kvm-amd.ko ] || skip "no kvm-amd.ko in this VM"
mkdir -p /tmp/traces
for p in $(rsvm-test list); do
	rsvm-test payload "$p" > /tmp/traces/rsvm.$p 2>&1 || { cat /tmp/traces/rsvm.$p; fail "rsvm payload $p"; }
done
rmmod rsvm || fail "rmmod rsvm"
insmod /lib/modules/irqbypass.ko && insmod /lib/modules/kvm.ko && insmod /lib/modules/kvm-amd.ko || fail "load kvm_amd"
kvm_ok=1
for p in $(rsvm-test list); do
	timeout 60 rsvm-test --dev /dev/kvm payload "$p" > /tmp/traces/kvm.$p 2>&1 || { echo "kvm_amd: payload $p:"; cat /tmp/traces/kvm.$p; kvm_ok=0; }
done
timeout 60 rsvm-test --dev /dev/kvm memslots > /tmp/traces/kvm.memslots 2>&1 || { cat /tmp/traces/kvm.memslots; kvm_ok=0; }
# The instructions that reach host state (12-vm-hostile runs them on rsvm): the same guest-
# visible results on kvm_amd (its exit counters are rsvm's only).
timeout 120 rsvm-test --dev /dev/kvm host-state --only insns > /tmp/traces/kvm.insns 2>&1 || { cat /tmp/traces/kvm.insns; kvm_ok=0; }
rmmod kvm_amd; rmmod kvm; rmmod irqbypass
insmod $RSVM_KO || fail "reload rsvm"
[ $kvm_ok = 1 ] || fail "a payload failed its own checks on kvm_amd (see above)"
for p in $(rsvm-test list); do
	# Compare the traces without the check lines (they print the same messages).
	grep -v "^# " /tmp/traces/rsvm.$p > /tmp/traces/r; grep -v "^# " /tmp/traces/kvm.$p > /tmp/traces/k
	if ! diff /tmp/traces/r /tmp/traces/k > /tmp/traces/diff.$p; then
		cat /tmp/traces/diff.$p
		fail "payload $p: rsvm and kvm_amd differ (< rsvm, > kvm_amd)"
	fi
	pass "payload $p: same exits and final registers as kvm_amd"
done
