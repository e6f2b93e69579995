#!/bin/sh
# Run the in-VM tests as TAP 13 (kselftest style): tests/l1/run.sh [TEST.sh...]
# Every test starts and must end with rsvm loaded.
cd "$(dirname "$0")" || exit 1
tests="$*"
[ -n "$tests" ] || tests=$(ls [0-9][0-9]-*.sh)
n=$(echo $tests | wc -w)
echo "TAP version 13"
echo "1..$n"
i=0
for t in $tests; do
	i=$((i + 1))
	name=${t%.sh}
	echo "# --- $name"
	{ timeout 600 sh "./$t" 2>&1; echo $? > /tmp/rc; } > /tmp/out
	sed 's/^/# /' /tmp/out
	rc=$(cat /tmp/rc)
	case "$rc" in
	0) echo "ok $i $name" ;;
	4) echo "ok $i $name # SKIP $(sed -n 's/^SKIP: //p' /tmp/out | tail -n1)" ;;
	*) echo "not ok $i $name # exit $rc" ;;
	esac
	# A test killed by the timeout may leave its programs behind, holding /dev/rsvm or
	# /dev/kvm open: end them, so the next test starts clean.
	[ "$rc" = 124 ] || [ "$rc" = 143 ] && killall -q -9 rsvm-test rsvm-bench rsvm-vmm 2>/dev/null && sleep 1
	# A test that left rsvm unloaded must not take the rest down with it.
	grep -q '^rsvm ' /proc/modules || insmod /lib/modules/rsvm.ko 2>/dev/null
done
