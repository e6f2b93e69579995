# rsvm and kvm_amd cannot both own SVM: whichever loads second fails cleanly, in both orders,
# and the first keeps working.
. ./lib.sh
[ -f /lib/modules/kvm-amd.ko ] || skip "no kvm-amd.ko in this VM"
L=$(expect_npt_levels)
kvm_load() { insmod /lib/modules/irqbypass.ko && insmod /lib/modules/kvm.ko && insmod /lib/modules/kvm-amd.ko; }
kvm_unload() { rmmod kvm_amd 2>/dev/null; rmmod kvm 2>/dev/null; rmmod irqbypass 2>/dev/null; true; }

# Order 1: rsvm first.
m=$(dmesg_mark)
insmod /lib/modules/irqbypass.ko && insmod /lib/modules/kvm.ko || fail "kvm.ko loads beside rsvm"
if insmod /lib/modules/kvm-amd.ko 2>/tmp/err; then fail "kvm_amd loaded while rsvm owns SVM"; fi
pass "kvm_amd refused while rsvm is loaded: $(cat /tmp/err)"
dmesg_since $m
kvm_unload
assert "rsvm keeps SVM on every CPU" test "$(cat $DBG/svm_cpus)" = "$(online_cpus)"
for cpu in $(cat $DBG/svm_cpus | tr ',' ' '); do
	taskset -c $cpu rsvm-test selftest --expect-levels $L > /dev/null || fail "rsvm self-test on cpu$cpu after kvm_amd's failed load"
done
pass "rsvm works on every CPU after kvm_amd's failed load"

# Order 2: kvm_amd first.
rmmod rsvm || fail "rmmod rsvm"
kvm_load || fail "kvm_amd loads when rsvm is not loaded"
[ -c /dev/kvm ] || fail "/dev/kvm present"
m=$(dmesg_mark)
if insmod $RSVM_KO 2>/tmp/err; then fail "rsvm loaded while kvm_amd owns SVM"; fi
grep -q 'busy' /tmp/err || fail "insmod error is EBUSY: $(cat /tmp/err)"
pass "rsvm refused with EBUSY while kvm_amd is loaded: $(cat /tmp/err)"
dmesg_since $m
assert "the refusal names kvm_amd" sh -c "dmesg | tail -n +$((m + 1)) | grep -q 'likely kvm_amd'"
assert_not "no /dev/rsvm left behind" test -e /dev/rsvm
assert_not "no rsvm debugfs left behind" test -e $DBG
kvm_unload
assert "rsvm loads once kvm_amd is gone" insmod $RSVM_KO
rsvm-test selftest --expect-levels $L > /dev/null || fail "self-test after both orders"
pass "self-test after both orders"
