# After everything before it (load/unload cycles, VMs, hostile input), kmemleak finds no
# unreferenced object allocated by rsvm.
. ./lib.sh
k=/sys/kernel/debug/kmemleak
[ -w $k ] || skip "kernel without kmemleak"
# Two scans: an object is reported only if it stays unreferenced across scans.
echo scan > $k; sleep 1; echo scan > $k
cat $k > /tmp/leaks
n=$(grep -c '^unreferenced object' /tmp/leaks)
echo "kmemleak: $n unreferenced objects in total"
if grep -q 'rsvm' /tmp/leaks; then
	cat /tmp/leaks
	fail "kmemleak reports objects allocated by rsvm"
fi
pass "no leak attributed to rsvm"
