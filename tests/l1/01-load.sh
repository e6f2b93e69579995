# rsvm loads: /dev/rsvm, features in debugfs and in the log, SVM on every online CPU.
. ./lib.sh
assert "rsvm is loaded" loaded
assert "/dev/rsvm is a character device" test -c /dev/rsvm
f=$DBG/features
assert "features are readable in debugfs" test -r $f
cat $f
assert "NPT present" grep -qx 'npt: yes' $f
L=$(expect_npt_levels)
assert "NPT depth $L follows the host's paging" grep -qx "npt_levels: $L" $f
asids=$(sed -n 's/^asids: //p' $f)
assert "ASID count ($asids) at least 2" test "${asids:-0}" -ge 2
assert "features printed once at load" sh -c "dmesg | grep -c 'rsvm: SVM rev' | grep -qx 1"
online=$(cat /sys/devices/system/cpu/online)
svm=$(cat $DBG/svm_cpus)
echo "online: $online, svm_cpus: $svm"
n_online=$(online_cpus | tr "," "\n" | grep -c .)
n_svm=$(echo "$svm" | tr ',' '\n' | grep -c .)
assert "SVM enabled on every online CPU ($n_svm of $n_online)" test "$n_svm" = "$n_online"
