# The benchmark pipeline end to end at its smallest: exit costs (50 iterations) and the
# pointer chase (1-2 KiB working sets, NPAD 0, both orders, natively and in a guest with
# 4 KiB/2 MiB pages in both levels). Timings are not asserted; that every measurement
# completes and is positive is.
. ./lib.sh
rsvm-test exit-costs --iters 50 || fail "exit costs"
rsvm-test chase --min-log 10 --max-log 11 > /tmp/chase.csv || { cat /tmp/chase.csv; fail "pointer chase"; }
grep -v '^# ' /tmp/chase.csv
rows=$(grep -c '^\(native\|guest\),' /tmp/chase.csv)
# 2 sizes x 2 orders x (2 native + 4 guest) rows
assert "all 24 chase measurements present ($rows)" test "$rows" = 24
assert "no pinned pages left" test "$(cat $DBG/pinned_pages)" = 0
