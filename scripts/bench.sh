#!/usr/bin/env bash
# make bench: exit costs under QEMU -icount (the L1 TSC counts instructions), on rsvm and
# kvm_amd in the same L1, with the same client; a table with ratios.
#   RSVM_BENCH_CPU=max  RSVM_BENCH_ITERS=2000
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
cpu=${RSVM_BENCH_CPU:-max}
iters=${RSVM_BENCH_ITERS:-2000}
out="$RSVM_TOP/build/bench"
mkdir -p "$out"
log="$out/exit-costs.log"
# One vCPU, and no kmemleak scanner: under -icount the TSC is QEMU's instruction clock,
# which counts every vCPU's instructions, so background work would be measured too.
"$here/vm-run" --icount --smp 1 --append kmemleak=off --cpu "$cpu" --timeout 900 --log "$log" \
	-- sh /tests/bench/exit-costs.sh "$iters" >/dev/null
res="$out/exit-costs.txt"
grep -E '^(cpuid_exit|out_roundtrip|floor_vmrun) ' "$log" > "$res" || die "no results (log: $log)"
val() { awk -v n="$1" -v d="$2" '$1 == n && $2 == d { print $3 }' "$res"; }
ratio() { if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; else echo "-"; fi; }
{
	echo "# Exit costs, L1 instructions per round trip (QEMU TCG -icount shift=0, -cpu $cpu, -smp 1, $iters iterations)"
	echo
	echo "| exit | rsvm | kvm_amd | rsvm / kvm_amd | goal |"
	echo "| --- | ---: | ---: | ---: | --- |"
	r=$(val cpuid_exit rsvm); k=$(val cpuid_exit kvm_amd)
	echo "| CPUID (in kernel) | $r | ${k:--} | $(ratio "$r" "$k") | <= 0.5 |"
	r=$(val out_roundtrip rsvm); k=$(val out_roundtrip kvm_amd)
	echo "| OUT to userspace and back | $r | ${k:--} | $(ratio "$r" "$k") | <= 0.7 |"
	echo "| floor: bare VMRUN/#VMEXIT in the module | $(val floor_vmrun rsvm) | | | |"
} | tee "$out/exit-costs.md"
