# The first world switch: a real-mode guest under NPT exits on OUT, HLT, CPUID; next RIPs
# come from the instruction (no NRIP save here). On every CPU, repeatedly, without leaks.
. ./lib.sh
L=$(expect_npt_levels)
before=$(cat $DBG/pages_held)
for cpu in $(cat $DBG/svm_cpus | tr ',' ' '); do
	taskset -c "$cpu" rsvm-test selftest --expect-levels "$L" > /tmp/st.out || { cat /tmp/st.out; fail "self-test on cpu$cpu"; }
	pass "self-test on cpu$cpu ($L-level NPT)"
done
cat /tmp/st.out
i=0
while [ $i -lt 50 ]; do
	rsvm-test selftest --expect-levels "$L" > /tmp/st.out || { cat /tmp/st.out; fail "self-test run $i"; }
	i=$((i + 1))
done
pass "50 more self-tests"
after=$(cat $DBG/pages_held)
assert "pages held back to $before (now $after)" test "$before" = "$after"
