# The benchmark pipeline end to end at its smallest: exit costs (50 iterations) and the
# pointer chase (1-2 KiB working sets, NPAD 0, both orders, natively and in a guest with
# 4 KiB/2 MiB pages in both levels, one run each). Timings are not asserted; that every
# measurement completes and is positive is (rsvm-bench fails otherwise).
. ./lib.sh
rsvm-bench exit-costs --iters 50 --repeat 1 > /tmp/exits.csv || { cat /tmp/exits.csv; fail "exit costs"; }
cat /tmp/exits.csv
assert "eight exit-cost rows (cpuid, vmmcall, rdmsr, out, hlt, hlt wake-up, mmio, floor)" test "$(grep -c "^exit," /tmp/exits.csv)" = 8
rsvm-bench chase --min-log 10 --max-log 11 --npad 0 --repeat 1 > /tmp/chase.csv || { cat /tmp/chase.csv; fail "pointer chase"; }
cat /tmp/chase.csv
rows=$(grep -c '^chase,' /tmp/chase.csv)
# 2 sizes x 2 orders x (2 native + 4 guest) rows
assert "all 24 chase measurements present ($rows)" test "$rows" = 24
rsvm-bench touch --mib 4 > /tmp/touch.csv || { cat /tmp/touch.csv; fail "touch"; }
cat /tmp/touch.csv
# 4 MiB of 4 KiB backing: at least 1024 nested page faults; 2 MiB backing: 2 MiB leaves.
awk -F, '$3 == "4k" && $6 >= 1024 { ok4 = 1 } $3 == "2m" && $9 >= 1 { ok2 = 1 } END { exit !(ok4 && ok2) }' /tmp/touch.csv \
	|| fail "touch: 4 KiB backing faults per page, 2 MiB backing maps 2 MiB leaves"
pass "touch: 4 KiB vs 2 MiB backing"
rsvm-bench overhead || fail "overhead"
rsvm-bench startup || fail "startup"
assert "no pinned pages left" test "$(cat $DBG/pinned_pages)" = 0
