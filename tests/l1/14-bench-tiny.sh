# The benchmark pipeline end to end at its smallest: exit costs (50 iterations) and the
# pointer chase (1-2 KiB working sets, NPAD 0, both orders, natively and in a guest with
# 4 KiB/2 MiB pages in both levels, one run each). Timings are not asserted; that every
# measurement completes and is positive is (rsvm-bench fails otherwise).
. ./lib.sh
rsvm-bench exit-costs --iters 50 > /tmp/exits.csv || { cat /tmp/exits.csv; fail "exit costs"; }
cat /tmp/exits.csv
assert "three exit-cost rows (cpuid, out_roundtrip, floor_vmrun)" test "$(grep -c '^exit,' /tmp/exits.csv)" = 3
rsvm-bench chase --min-log 10 --max-log 11 --npad 0 --repeat 1 > /tmp/chase.csv || { cat /tmp/chase.csv; fail "pointer chase"; }
cat /tmp/chase.csv
rows=$(grep -c '^chase,' /tmp/chase.csv)
# 2 sizes x 2 orders x (2 native + 4 guest) rows
assert "all 24 chase measurements present ($rows)" test "$rows" = 24
assert "no pinned pages left" test "$(cat $DBG/pinned_pages)" = 0
