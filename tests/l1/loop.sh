#!/bin/sh
# Run the in-VM suite (or a subset) ROUNDS times in one boot: uptime, VM churn and memory
# fragmentation build up as in a long `make test`. Used by scripts/flake-loop (issue: the
# -cpu max failures after long runs). Prints "loop: round R: P passed, F failed" per round
# and exits 1 at the first round with a failure.
#   sh /tests/l1/loop.sh ROUNDS [TEST.sh...]
rounds=$1; shift
cd "$(dirname "$0")" || exit 1
r=1
while [ "$r" -le "$rounds" ]; do
	echo "loop: round $r of $rounds, uptime $(cut -d' ' -f1 /proc/uptime) s, $(grep -E '^(MemFree|AnonHugePages):' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
	# The TAP lines as they come (the console shows progress); the details in the log.
	sh ./run.sh "$@" 2>&1 | tee /tmp/loop-round.log | awk '/^(not )?ok / { print; fflush() }'
	p=$(grep -c '^ok ' /tmp/loop-round.log); f=$(grep -c '^not ok ' /tmp/loop-round.log)
	echo "loop: round $r: $p passed, $f failed"
	if [ "$f" != 0 ]; then
		grep -B60 '^not ok ' /tmp/loop-round.log | tail -n 120
		exit 1
	fi
	r=$((r + 1))
done
echo "loop: all $rounds rounds passed"
