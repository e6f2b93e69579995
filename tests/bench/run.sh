#!/bin/sh
# In the test VM (booted with -icount shift=0,sleep=off): the benchmark on rsvm, then on
# kvm_amd with the same binary where it applies. Prints result rows.
iters=${1:-2000}; min_log=${2:-10}; max_log=${3:-28}; repeat=${4:-3}; mib=${5:-1024}
all() {
	rsvm-bench --dev "$1" exit-costs --iters "$iters" || return 1
	rsvm-bench --dev "$1" touch --mib "$mib" || return 1
	rsvm-bench --dev "$1" overhead || return 1
	rsvm-bench --dev "$1" startup || return 1
}
all /dev/rsvm || exit 1
rsvm-bench chase --min-log "$min_log" --max-log "$max_log" --npad 0,7 --repeat "$repeat" || exit 1
rmmod rsvm || exit 1
if insmod /lib/modules/irqbypass.ko && insmod /lib/modules/kvm.ko && insmod /lib/modules/kvm-amd.ko; then
	all /dev/kvm
	rmmod kvm_amd; rmmod kvm; rmmod irqbypass
else
	echo "# kvm_amd could not be loaded: no reference figures"
fi
insmod /lib/modules/rsvm.ko
