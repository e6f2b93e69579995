#!/bin/sh
# In the test VM (booted with -icount shift=0,sleep=off): exit costs on rsvm, then on
# kvm_amd, same client binary. Prints "name device value" lines.
iters=${1:-2000}
rsvm-test exit-costs --iters "$iters" | sed 's/^\([a-z_]*\) \(.*\)$/\1 rsvm \2/' || exit 1
rmmod rsvm || exit 1
if insmod /lib/modules/irqbypass.ko && insmod /lib/modules/kvm.ko && insmod /lib/modules/kvm-amd.ko; then
	rsvm-test --dev /dev/kvm exit-costs --iters "$iters" | sed 's/^\([a-z_]*\) \(.*\)$/\1 kvm_amd \2/'
	rmmod kvm_amd; rmmod kvm; rmmod irqbypass
else
	echo "# kvm_amd could not be loaded: no reference figures"
fi
insmod /lib/modules/rsvm.ko
