# rmmod is refused while /dev/rsvm is open, and works once it is closed.
. ./lib.sh
exec 3< /dev/rsvm
assert_not "rmmod refused while /dev/rsvm is open" rmmod rsvm 2>/dev/null
assert "rsvm still loaded" loaded
rsvm-test api > /dev/null || fail "device works after the refused rmmod"
exec 3<&-
assert "rmmod succeeds once closed" rmmod rsvm
assert_not "/dev/rsvm is gone" test -e /dev/rsvm
assert "insmod again" insmod $RSVM_KO
