# rsvm-timeout: 1200
# Linux as an L2 guest of rsvm-vmm: the test kernel (the same bzImage as L1) boots with
# tests/l2/init as its initramfs; the guest writes a pattern to /dev/vda and reads it back
# after dropping caches, checks that the timer advances, and reboots. Checked here: the
# guest's result lines, the VMM's exit status 0, the pattern in the disk image (2 vCPUs,
# THP-backed RAM); then a guest poweroff (ACPI S5: status 0), a guest panic without ACPI
# (MP table only; status 3), and a shell on
# the console driven through the VMM's stdin. On /dev/kvm
# (kvm_amd) always; on /dev/rsvm when it offers what rsvm-vmm needs (split irqchip etc.),
# otherwise that part is reported as skipped. Plus bad input: clear messages, non-zero status.
#
# tests/run.sh adds /work/bzImage and /work/l2-initramfs.cpio.gz to the VM.
. ./lib.sh
K=/work/bzImage; I=/work/l2-initramfs.cpio.gz
[ -f "$K" ] && [ -f "$I" ] || skip "no $K or $I (tests/run.sh adds them)"
[ -f /lib/modules/kvm-amd.ko ] || skip "no kvm-amd.ko in this VM"
command -v rsvm-vmm > /dev/null || fail "rsvm-vmm not installed"
PATTERN=RSVM-L2-DISK-PATTERN-5a17c0de
# Per boot: a normal one takes 40-60 s here; the kvm_amd reference's emulator hang (retried
# below) must leave the retry and rsvm's boots room inside the test's own 1200 s.
TMO=${RSVM_L2_TIMEOUT:-200}

# The L2 console in L1's output, with the words vm-run scans L1's console for defused (the
# L2 kernel's own warnings must not look like L1's).
l2_show() { sed -e 's/^/  L2| /' -e 's/Oops/O0ps/g; s/BUG:/BUG_:/g; s/WARNING:/WARNING_:/g; s/Kernel panic/Kernel_panic/g; s/Call Trace:/Call_Trace:/g; s/general protection/general_protection/g; s/soft lockup/soft_lockup/g; s/rcu: INFO/rcu_INFO/g; s/hung_task/hung-task/g; s/UBSAN:/UBSAN_:/g; s/lockdep/lock-dep/g'; }

# boot_l2 DEV NAME [RSVM-VMM ARGS]: boot the guest on DEV; fail the test if anything is wrong.
boot_l2() {
	dev=$1; name=$2; shift 2; log=/tmp/l2-$name.log
	rm -f /tmp/l2disk.img; dd if=/dev/zero of=/tmp/l2disk.img bs=1M count=8 2>/dev/null
	t0=$(date +%s)
	rsvm-vmm --dev "$dev" --kernel $K --initrd $I --mem 128M --disk /tmp/l2disk.img \
		--timeout "$TMO" --stats "$@" < /dev/null > $log 2>&1
	rc=$?
	t1=$(date +%s)
	grep -E '^RSVM-L2|rsvm-vmm:|^ +[a-z-]+ +(0x[0-9a-f]+ +)?[0-9]+$' $log | l2_show
	if [ $rc != 0 ] || grep -q 'RSVM-L2: FAIL' $log || ! grep -q 'RSVM-L2: done' $log; then
		echo "--- $name: last lines of the guest console:"; tail -n 60 $log | l2_show
		fail "$name: L2 guest (rsvm-vmm exit status $rc)"
	fi
	assert "$name: guest init ran" grep -q 'RSVM-L2: init started' $log
	assert "$name: guest read back its disk pattern" grep -q 'RSVM-L2: disk ok' $log
	assert "$name: guest timer advances" grep -q 'RSVM-L2: timer ok' $log
	got=$(dd if=/tmp/l2disk.img bs=512 skip=8 count=1 2>/dev/null | head -c ${#PATTERN})
	assert "$name: the pattern is in the disk image on the L1 side" test "$got" = "$PATTERN"
	pass "$name: L2 Linux booted, ran and rebooted in $((t1 - t0)) s; VMM exit 0"
}

# Bad input: clear message, non-zero status (needs no device).
rsvm-vmm --dev /dev/null --kernel $K > /tmp/neg 2>&1; rc=$?
assert "bad device: non-zero status ($rc)" test $rc != 0
assert "bad device: message says not KVM-compatible" grep -q 'not a KVM-compatible device' /tmp/neg
rsvm-vmm --dev /dev/kvm-missing --kernel $K > /tmp/neg 2>&1; rc=$?
assert "missing device: non-zero status ($rc)" test $rc != 0
rsvm-vmm --dev /dev/null --kernel $K --mem 8M > /tmp/neg 2>&1; rc=$?
assert "--mem 8M: refused ($rc, $(cat /tmp/neg))" test $rc = 1

unload_rsvm || fail "rmmod rsvm"
insmod /lib/modules/irqbypass.ko && insmod /lib/modules/kvm.ko && insmod /lib/modules/kvm-amd.ko || fail "load kvm_amd"
kvm_unload() { rmmod kvm_amd; rmmod kvm; rmmod irqbypass; }
rsvm-vmm --dev /dev/kvm --kernel /work/no-such-kernel > /tmp/neg 2>&1; rc=$?
[ $rc = 1 ] && grep -q -- '--kernel /work/no-such-kernel: No such file' /tmp/neg || { cat /tmp/neg; kvm_unload; fail "missing kernel: status 1 and a message"; }
pass "missing kernel: status 1, $(cat /tmp/neg)"
head -c 100000 /dev/urandom > /tmp/garbage
rsvm-vmm --dev /dev/kvm --kernel /tmp/garbage > /tmp/neg 2>&1; rc=$?
[ $rc = 1 ] && grep -q 'not a loadable bzImage' /tmp/neg || { cat /tmp/neg; kvm_unload; fail "corrupt kernel: status 1 and a message"; }
pass "corrupt kernel: status 1, $(cat /tmp/neg)"
rsvm-vmm --dev /dev/kvm --kernel $K --disk /work/no-such-disk > /tmp/neg 2>&1; rc=$?
[ $rc = 1 ] && grep -q 'no-such-disk' /tmp/neg || { cat /tmp/neg; kvm_unload; fail "missing disk: status 1 and a message"; }
pass "missing disk: status 1"

# end_l2 DEV NAME HOW STATUS MESSAGE [ARGS]: the guest ends by HOW (l2_end=); the VMM must
# exit with STATUS and say MESSAGE.
end_l2() {
	dev=$1; name=$2; how=$3; want=$4; msg=$5; shift 5
	rsvm-vmm --dev "$dev" --kernel $K --initrd $I --mem 64M --timeout "$TMO" "$@" \
		--cmdline "console=ttyS0 reboot=k panic=1 pci=off l2_end=$how" < /dev/null > /tmp/l2-$name.log 2>&1
	rc=$?
	grep -E '^rsvm-vmm:' /tmp/l2-$name.log | l2_show
	[ $rc = "$want" ] && grep -q "$msg" /tmp/l2-$name.log || {
		tail -n 30 /tmp/l2-$name.log | l2_show; fail "$name: guest $how $*: VMM exit status $rc (expected $want, '$msg')"; }
	pass "$name: guest $how $*: VMM exit status $want, '$msg'"
}

# shell_l2 DEV NAME: a shell on the guest console, driven through the VMM's stdin (a FIFO):
# the command's output must come back computed (42), and `exit` ends the run with status 0.
# The disk is attached --disk-ro: the guest must see it read-only and cannot change it.
# Run with --no-acpi: the MP-table boot and the command-line virtio-mmio device.
shell_l2() {
	dev=$1; name=$2; shift 2
	log=/tmp/l2-$name-shell.log; rm -f /tmp/l2in; mkfifo /tmp/l2in
	head -c 65536 /dev/zero | tr '\0' x > /tmp/l2ro.img; before=$(md5sum < /tmp/l2ro.img)
	rsvm-vmm --dev "$dev" --kernel $K --initrd $I --mem 64M --timeout "$TMO" --disk /tmp/l2ro.img --disk-ro "$@" \
		--cmdline "console=ttyS0 reboot=k panic=1 pci=off l2_end=shell" < /tmp/l2in > $log 2>&1 &
	pid=$!
	exec 3> /tmp/l2in
	i=0; while ! grep -q 'RSVM-L2: shell' $log && [ $i -lt "$TMO" ] && kill -0 $pid 2>/dev/null; do sleep 1; i=$((i + 1)); done
	sleep 2
	echo 'dd if=/dev/zero of=/dev/vda bs=512 count=1 conv=fsync 2>/dev/null; echo STDIN-$((6 * 7))-OK RO-$(cat /sys/block/vda/ro)' >&3
	i=0; while ! grep -q 'STDIN-42-OK' $log && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
	echo 'exit' >&3
	wait $pid; rc=$?
	exec 3>&-
	grep -E '^rsvm-vmm:|STDIN' $log | l2_show
	grep -q 'STDIN-42-OK' $log || { tail -n 30 $log | l2_show; fail "$name: a command typed on stdin ran in the guest shell"; }
	[ $rc = 0 ] || fail "$name: shell exit: VMM exit status $rc"
	pass "$name: guest shell on the console: stdin in, output out, exit status 0"
	assert "$name: --disk-ro: the guest sees a read-only /dev/vda" grep -q 'STDIN-42-OK RO-1' $log
	assert "$name: --disk-ro: the image is unchanged after the guest tried to write" test "$(md5sum < /tmp/l2ro.img)" = "$before"
}

kvm_ref() { boot_l2 /dev/kvm kvm_amd --cpus 2 --hugepages && end_l2 /dev/kvm kvm_amd poweroff 0 'the guest powered off' && end_l2 /dev/kvm kvm_amd panic 3 'the guest kernel panicked' --no-acpi && shell_l2 /dev/kvm kvm_amd --no-acpi; }
( kvm_ref ); r=$?
if [ $r != 0 ]; then
	# kvm_amd injects interrupts with EVENTINJ, which QEMU's TCG can deliver twice (issue 12,
	# Documentation/testing.md): the reference gets one more try. rsvm's runs below get none.
	echo "note: the kvm_amd reference failed once; running it again (emulator bug, testing.md)"
	( kvm_ref ); r=$?
fi
kvm_unload
load_rsvm || fail "reload rsvm"
[ $r = 0 ] || fail "the L2 guest on /dev/kvm (see above)"

# /dev/rsvm claims everything rsvm-vmm needs (split irqchip, MSI, TSC rate).
rsvm-vmm --dev /dev/rsvm --kernel /work/no-such-kernel > /tmp/probe 2>&1
if grep -q 'missing capability' /tmp/probe; then
	fail "/dev/rsvm lacks what rsvm-vmm needs: $(sed 's/^rsvm-vmm: error: //' /tmp/probe)"
fi
( boot_l2 /dev/rsvm rsvm --cpus 2 --hugepages && end_l2 /dev/rsvm rsvm poweroff 0 'the guest powered off' && end_l2 /dev/rsvm rsvm panic 3 'the guest kernel panicked' --no-acpi && shell_l2 /dev/rsvm rsvm --no-acpi ) || fail "the L2 guest on /dev/rsvm (see above)"
