# Memory: NPT faults on first touch, counted per exit reason; KVM's memslot rules.
. ./lib.sh
rsvm-test first-touch || fail "first touch"
rsvm-test memslots || fail "memslot rules"
assert "no pinned pages left" test "$(cat $DBG/pinned_pages)" = 0
