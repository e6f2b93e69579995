# CPU hotplug: SVM follows a CPU going offline and coming back.
. ./lib.sh
L=$(expect_npt_levels)
c=/sys/devices/system/cpu/cpu1/online
[ -w $c ] || skip "cpu1 cannot be offlined (single CPU or no hotplug)"
assert "cpu1 SVM-enabled at start" grep -qw 1 $DBG/svm_cpus
echo 0 > $c || fail "offline cpu1"
assert "cpu1 dropped from svm_cpus after offline ($(cat $DBG/svm_cpus))" sh -c "! grep -qw 1 $DBG/svm_cpus"
rsvm-test selftest --expect-levels $L > /dev/null || fail "self-test with cpu1 offline"
pass "self-test with cpu1 offline"
echo 1 > $c || fail "online cpu1"
assert "cpu1 back in svm_cpus ($(cat $DBG/svm_cpus))" grep -qw 1 $DBG/svm_cpus
taskset -c 1 rsvm-test selftest --expect-levels $L > /dev/null || fail "self-test on cpu1 after online"
pass "self-test on cpu1 after it came back"
# A CPU that comes online while rsvm is loaded later than it went down: unload with cpu1
# offline, load, then online it.
echo 0 > $c && rmmod rsvm && insmod $RSVM_KO || fail "reload with cpu1 offline"
echo 1 > $c || fail "online cpu1 after reload"
assert "cpu1 enabled by the hotplug callback after reload" grep -qw 1 $DBG/svm_cpus
taskset -c 1 rsvm-test selftest --expect-levels $L > /dev/null || fail "self-test on cpu1 after reload"
pass "self-test on cpu1 after reload + online"
