#!/usr/bin/env bash
# make bench: the cost of virtualization, measured in the test VM under QEMU -icount (the L1
# TSC counts instructions): exit costs on rsvm and kvm_amd (same client), rsvm's VMRUN floor,
# and the pointer chase natively and in a guest with 4 KiB/2 MiB pages in both levels.
# Writes build/bench/{results.csv,summary.md,chase.png,exits.png,exit-costs.md}.
#   RSVM_BENCH_CPU=max  RSVM_BENCH_ITERS=2000  RSVM_BENCH_MAX_LOG=28  RSVM_BENCH_REPEAT=3
#   RSVM_BENCH_TOUCH_MIB=1024  RSVM_BENCH_IOMMU_MIB=256,1024
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
cpu=${RSVM_BENCH_CPU:-max}
iters=${RSVM_BENCH_ITERS:-2000}
max_log=${RSVM_BENCH_MAX_LOG:-28}
repeat=${RSVM_BENCH_REPEAT:-3}
mib=${RSVM_BENCH_TOUCH_MIB:-1024}
io_mib=${RSVM_BENCH_IOMMU_MIB:-256,1024}
# RSVM_BENCH_KERNELS: which kernels to measure on: "prod" (the test configuration without
# its debug options, scripts/rsvm-prod.config; built and cached on first use, about as long as
# the test kernel) and "debug" (the test kernel, for reference). Each gets its own rsvm.ko
# (built from a copy of the sources in build/bench/KERNEL/module: Kbuild refuses a separate
# output directory for a tree that `make module` has already built in place) and its results
# in build/bench/KERNEL/.
kernels=${RSVM_BENCH_KERNELS:-prod debug}
if [ "${1:-}" != --one ]; then
	for k in $kernels; do
		case "$k" in
		prod) kd=$("$here/kernel.sh" --prod) ;;
		debug) kd=${KDIR:-$("$here/kernel.sh")} ;;
		*) die "RSVM_BENCH_KERNELS: unknown kernel $k (prod, debug)" ;;
		esac
		mo="$RSVM_TOP/build/bench/$k/module"
		mkdir -p "$mo"
		cp -a "$RSVM_TOP/Kbuild" "$mo/"
		rm -rf "$mo/rust"
		(cd "$RSVM_TOP" && find rust -name '*.rs' -o -name '*.c' -o -name '*.h' -o -name '*.S' | cpio -pdm --quiet "$mo")
		make -C "$kd" M="$mo" LLVM= -j"$(nproc)" modules >/dev/null || die "building rsvm.ko for the $k kernel"
		log "bench: the $k kernel ($kd)"
		KDIR=$kd RSVM_KO="$mo/rsvm.ko" RSVM_BENCH_KERNEL=$k "$0" --one
	done
	exit 0
fi
kernel=${RSVM_BENCH_KERNEL:-debug}
out="$RSVM_TOP/build/bench/$kernel"
mkdir -p "$out"
log="$out/vm.log"
# One vCPU, and no kmemleak scanner: under -icount the TSC is QEMU's instruction clock,
# which counts every vCPU's instructions, so background work would be measured too.
# The L2 boot (rsvm-vmm) needs the test kernel and the guest initramfs in the VM.
kdir=${KDIR:-$("$here/kernel.sh" --print-dir)}
"$here/mk-guest-initramfs" "$out/l2-initramfs.cpio.gz"
"$here/vm-run" --icount --smp 1 --append kmemleak=off --cpu "$cpu" --timeout 7200 --log "$log" \
	--add "$kdir/arch/x86/boot/bzImage" --add "$out/l2-initramfs.cpio.gz" \
	-- sh /tests/bench/run.sh "$iters" 10 "$max_log" "$repeat" "$mib" "$io_mib" >/dev/null
res="$out/results.csv"
grep -E '^(exit|chase|touch|overhead|startup|boot|iommu_map),' "$log" > "$res" || die "no results (log: $log)"
val() { awk -F, -v n="$1" -v d="$2" '$1 == "exit" && $2 == n && $3 == d { print $4 }' "$res"; }
ratio() { if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; else echo "-"; fi; }
{
	echo "# Exit costs on the $kernel kernel, L1 instructions per round trip (QEMU TCG -icount shift=0, -cpu $cpu, -smp 1, $iters iterations)"
	echo
	echo "| exit | rsvm | kvm_amd | rsvm / kvm_amd | goal |"
	echo "| --- | ---: | ---: | ---: | --- |"
	line() { local r k; r=$(val "$2" rsvm); k=$(val "$2" kvm); echo "| $1 | $r | ${k:--} | $(ratio "$r" "$k") | $3 |"; }
	line "CPUID (in kernel)" cpuid "<= 0.5"
	line "VMMCALL (in kernel)" vmmcall ""
	line "RDMSR PAT (in kernel)" rdmsr ""
	line "OUT to userspace and back" out_roundtrip "<= 0.7"
	line "HLT to userspace and back" hlt_roundtrip ""
	line "HLT woken by the in-kernel APIC timer (incl. its 50 us)" hlt_wakeup ""
	# Under -icount shift=0 the L1 TSC runs at 1 GHz: the timer's 50 us are 50,000 ticks.
	sub() { [ -n "$1" ] && awk -v a="$1" 'BEGIN { printf "%.0f", a - 50000 }'; }
	r=$(sub "$(val hlt_wakeup rsvm)"); k=$(sub "$(val hlt_wakeup kvm)")
	echo "| ... of which sleep + hrtimer wake-up + injection (minus 50,000) | $r | ${k:--} | $(ratio "$r" "$k") | |"
	line "MMIO write to userspace and back" mmio_roundtrip ""
	echo "| floor: bare VMRUN/#VMEXIT in the module | $(val floor_vmrun rsvm) | | | |"
	b() { awk -F, -v d="$1" -v c="$2" '$1 == "boot" && $2 == d { print $c }' "$res"; }
	echo
	echo "# Linux (the test kernel) booting as L2 under rsvm-vmm, 1 vCPU, 128 MiB: VM start to the init marker"
	echo
	echo "| | rsvm | kvm_amd | rsvm / kvm_amd | goal |"
	echo "| --- | ---: | ---: | ---: | --- |"
	echo "| L1 instructions (millions) | $(b rsvm 3) | $(b kvm 3) | $(ratio "$(b rsvm 3)" "$(b kvm 3)") | <= 1 |"
	echo "| exits to the VMM | $(b rsvm 4) | $(b kvm 4) | $(ratio "$(b rsvm 4)" "$(b kvm 4)") | |"
	echo "| VMM resident beyond guest RAM (KiB) | $(b rsvm 5) | $(b kvm 5) | | <= 5120 |"
	echo
	echo "# Pin and IOMMU-map a VM's memory (rsvm amdvi=1, edu assigned; medians of $repeat; L1 instructions = ns at 1 GHz)"
	echo
	echo "| memory | backing | pin + map (s) | I/O PTEs written | tables | 4 KiB leaves | 2 MiB leaves | unmap + unpin (s) |"
	echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	awk -F, '$1 == "iommu_map" { k = $2 "," $3; n[k]++; t[k, n[k]] = $4; u[k, n[k]] = $10; row[k] = $6 "|" $7 "|" $8 "|" $9; if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
		function med(a, k, c,   i, j, x, v) { for (i = 1; i <= c; i++) v[i] = a[k, i]; for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }; return v[int((c + 1) / 2)] }
		END { for (i = 1; i <= m; i++) { k = order[i]; split(k, f, ","); split(row[k], r, "|");
			printf "| %s MiB | %s | %.4f | %d | %d | %d | %d | %.4f |\n", f[1], f[2] == "2m" ? "2 MiB (THP)" : "4 KiB", med(t, k, n[k]) / 1e9, r[1], r[2], r[3], r[4], med(u, k, n[k]) / 1e9 } }' "$res"
} | tee "$out/exit-costs.md"
(cd "$RSVM_TOP/userspace-vmm" && cargo run --quiet --release --locked -p rsvm-bench -- report "$res" --out "$out")
