# The memory and VM-setup ABI a KVM client needs before its first KVM_RUN
# (KVM_SET_USER_MEMORY_REGION2, KVM_SET_TSS_ADDR, KVM_SET_IDENTITY_MAP_ADDR,
# KVM_SET_NR_MMU_PAGES, the VM's KVM_GET_TSC_KHZ, ENABLE_CAP(KVM_CAP_MAX_VCPU_ID), 1024 vCPUs, KVM_GET_STATS_FD,
# KVM_GET/HAS_DEVICE_ATTR on the system fd), bad inputs included: the same program on rsvm
# and on kvm_amd, which must both pass it. Nothing leaks: module pages, pinned pages, slab.
. ./lib.sh
held=$(cat $DBG/pages_held)
rsvm-test vm-setup || fail "VM setup ABI on /dev/rsvm"
pass "VM setup ABI on /dev/rsvm"
assert "module pages back to $held" test "$(cat $DBG/pages_held)" = "$held"
assert "no guest pages left pinned" test "$(cat $DBG/pinned_pages)" = 0
# Slab: a second identical run must leave the live slab objects where the first did. The
# caches' page counts (SUnreclaim) drift by 10-170 kB a run with nothing leaked (measured
# over six runs: the live objects moved by ~14 kB a run, kmemleak empty), so live bytes are
# counted (active objects x size, kmemleak's own metadata left out): a leak of 64 bytes per
# vCPU (~1030 a run) would show as 64 kB.
live_slab_kb() {
	sync; echo 3 > /proc/sys/vm/drop_caches
	awk 'NR > 2 && $1 != "kmemleak_object" {s += $2 * $4} END {print int(s / 1024)}' /proc/slabinfo
}
slab0=$(live_slab_kb)
rsvm-test vm-setup > /dev/null || fail "VM setup ABI on /dev/rsvm, second run"
slab1=$(live_slab_kb)
assert "live slab objects steady over a second run ($slab0 -> $slab1 kB)" test $((slab1 - slab0)) -lt 64
assert "module pages back to $held after the second run" test "$(cat $DBG/pages_held)" = "$held"
kmemleak_clean "after the VM-setup checks"
[ -f /lib/modules/kvm-amd.ko ] || skip "no kvm-amd.ko in this VM"
rmmod rsvm || fail "rmmod rsvm"
insmod /lib/modules/irqbypass.ko && insmod /lib/modules/kvm.ko && insmod /lib/modules/kvm-amd.ko || fail "load kvm_amd"
rc=0
timeout 300 rsvm-test --dev /dev/kvm vm-setup || rc=$?
rmmod kvm_amd; rmmod kvm; rmmod irqbypass
insmod $RSVM_KO || fail "reload rsvm"
[ $rc = 0 ] || fail "the same checks on kvm_amd ($rc)"
pass "the same checks on kvm_amd"
