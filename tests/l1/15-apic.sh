# The in-kernel local APIC through KVM's ABI (KVM_CAP_SPLIT_IRQCHIP, KVM_SIGNAL_MSI): the
# capability rules and errnos, HLT sleeping in the kernel until another thread's MSI (the
# vCPU thread's CPU time stays far below the wall time), a signal while halted, vCPUs closed
# with a periodic timer armed; then the same program on kvm_amd, which must agree. (The
# APIC register, timer, EOI, TPR and IPI payloads run in 09 and are compared with kvm_amd
# in 11.) Nothing leaks: slab and pinned pages are checked by 13-kmemleak and here.
. ./lib.sh
held=$(cat $DBG/pages_held)
rsvm-test lapic || fail "in-kernel APIC on /dev/rsvm"
pass "in-kernel APIC on /dev/rsvm"
assert "module pages back to $held" test "$(cat $DBG/pages_held)" = "$held"
[ -f /lib/modules/kvm-amd.ko ] || skip "no kvm-amd.ko in this VM"
rmmod rsvm || fail "rmmod rsvm"
insmod /lib/modules/irqbypass.ko && insmod /lib/modules/kvm.ko && insmod /lib/modules/kvm-amd.ko || fail "load kvm_amd"
rc=0
timeout 120 rsvm-test --dev /dev/kvm lapic || rc=$?
rmmod kvm_amd; rmmod kvm; rmmod irqbypass
insmod $RSVM_KO || fail "reload rsvm"
[ $rc = 0 ] || fail "the same checks on kvm_amd ($rc)"
pass "the same checks on kvm_amd"
