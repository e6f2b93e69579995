#!/bin/sh
# In the test VM (booted with -icount shift=0,sleep=off): the benchmark on rsvm, then on
# kvm_amd with the same binary where it applies. Prints result rows.
iters=${1:-2000}; min_log=${2:-10}; max_log=${3:-28}; repeat=${4:-3}; mib=${5:-1024}
io_mib=${6:-256,1024}
# boot DEV NAME: Linux as L2 under rsvm-vmm to its init marker; the row is
# boot,<name>,<L1 instructions in millions>,<exits>,<VMM KiB resident beyond guest RAM>
# (under -icount shift=0 a second of L1 time is 10^9 instructions).
boot() {
	[ -f /work/bzImage ] && [ -f /work/l2-initramfs.cpio.gz ] || return 0
	dd if=/dev/zero of=/tmp/bench-disk.img bs=1M count=8 2>/dev/null
	rsvm-vmm --dev "$1" --kernel /work/bzImage --initrd /work/l2-initramfs.cpio.gz --mem 128M \
		--disk /tmp/bench-disk.img --mark "RSVM-L2: init started" --stats --timeout 1200 \
		< /dev/null > /tmp/boot.log 2>&1 || { tail -n 20 /tmp/boot.log; return 1; }
	awk -v d="$2" '/rsvm-vmm: mark / { for (i = 1; i <= NF; i++) { if ($i == "after") s = $(i + 1); if ($i == "exits") n = $(i - 1) } }
		/rsvm-vmm: resident / { for (i = 1; i <= NF; i++) if ($i == "beyond") k = $(i - 2) }
		END { if (s == "") exit 1; printf "boot,%s,%.0f,%s,%s\n", d, s * 1000, n, k }' /tmp/boot.log
}
# iommu_map: pin and IOMMU-map (issue #5): rsvm reloaded with amdvi=1, QEMU's edu bound to it
# as VFIO binds a device (driver_override, drivers_probe), then unbound and rsvm reloaded as
# it was. Rows: iommu_map,<MiB>,<4k|2m>,<ns>,<ticks>,<entries>,<tables>,<4k leaves>,<2m leaves>,...
iommu_map() {
	bdf=0000:00:04.0; e=/sys/bus/pci/devices/$bdf
	if [ ! -r /sys/firmware/acpi/tables/IVRS ] || [ ! -e $e ]; then
		echo "# no AMD-Vi or no edu: no iommu_map rows"
		return 0
	fi
	rmmod rsvm && insmod /lib/modules/rsvm.ko amdvi=1 || return 1
	echo rsvm > $e/driver_override && echo $bdf > /sys/bus/pci/drivers_probe || return 1
	rc=0
	rsvm-bench iommu-map --device $bdf --mib "$io_mib" --repeat "$repeat" || rc=1
	echo $bdf > /sys/bus/pci/drivers/rsvm/unbind
	echo > $e/driver_override
	rmmod rsvm && insmod /lib/modules/rsvm.ko || return 1
	return $rc
}
all() {
	rsvm-bench --dev "$1" exit-costs --iters "$iters" || return 1
	rsvm-bench --dev "$1" touch --mib "$mib" || return 1
	rsvm-bench --dev "$1" overhead || return 1
	rsvm-bench --dev "$1" startup || return 1
	boot "$1" "$(basename "$1")" || return 1
}
all /dev/rsvm || exit 1
iommu_map || exit 1
rsvm-bench chase --min-log "$min_log" --max-log "$max_log" --npad 0,7 --repeat "$repeat" || exit 1
rmmod rsvm || exit 1
if insmod /lib/modules/irqbypass.ko && insmod /lib/modules/kvm.ko && insmod /lib/modules/kvm-amd.ko; then
	all /dev/kvm
	rmmod kvm_amd; rmmod kvm; rmmod irqbypass
else
	echo "# kvm_amd could not be loaded: no reference figures"
fi
insmod /lib/modules/rsvm.ko
