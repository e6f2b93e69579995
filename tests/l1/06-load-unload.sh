# Load and unload 50 times: no growth in slab or page use, SVM off after each unload.
. ./lib.sh
unload_rsvm || fail "initial rmmod"
# Warm up: first loads populate caches (kernfs nodes, module loader structures).
for i in 1 2 3; do insmod $RSVM_KO && rmmod rsvm || fail "warm-up cycle $i"; done
set -- $(mem_snapshot); slab0=$1; free0=$2
i=0
while [ $i -lt 50 ]; do
	insmod $RSVM_KO || fail "insmod #$i"
	rmmod rsvm || fail "rmmod #$i"
	i=$((i + 1))
done
set -- $(mem_snapshot); slab1=$1; free1=$2
echo "SUnreclaim: $slab0 -> $slab1 kB; MemFree: $free0 -> $free1 kB"
# One leaked page per cycle would be 200 kB; the bounds leave room for per-CPU and
# allocator noise only.
assert "unreclaimable slab grew < 64 kB ($((slab1 - slab0)) kB)" test $((slab1 - slab0)) -lt 64
assert "free memory shrank < 192 kB ($((free0 - free1)) kB)" test $((free0 - free1)) -lt 192
# SVM is really off after unload: kvm_amd (if present) can enable it on every CPU.
if [ -f /lib/modules/kvm-amd.ko ]; then
	insmod /lib/modules/irqbypass.ko && insmod /lib/modules/kvm.ko || fail "kvm.ko"
	assert "kvm_amd loads after rsvm's unload (EFER.SVME was cleared)" insmod /lib/modules/kvm-amd.ko
	rmmod kvm_amd; rmmod kvm; rmmod irqbypass
fi
assert "final insmod" insmod $RSVM_KO
