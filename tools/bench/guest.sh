# Runs in the guest (busybox sh, as hc1-vm's command): every end-to-end
# figure, then the coalescing sweep by reloading hc1.ko with other INTC
# settings.  Each result is one line "BENCH {json}" on the console.
# ROUNDS and SWEEP are set by run.sh in front of this text.
set -eu
b=hc1-bench-guest
emit() { echo "BENCH $*"; }

for path in mmap read uring; do
	for s in 1 8 64; do
		# A round of 64 sessions is 64 generations: an eighth of the rounds.
		r=$ROUNDS
		if [ "$s" -eq 64 ]; then
			r=$((ROUNDS / 8))
			[ "$r" -ge 2 ] || r=2
		fi
		emit "$($b throughput --path $path --sessions $s --rounds $r)"
	done
done
emit "$($b ttft --runs 60 --prompt-tokens 16)"

# coalesce_tokens:coalesce_usecs pairs; the module writes INTC at probe.
for pair in $SWEEP; do
	t=${pair%:*} u=${pair#*:}
	rmmod hc1
	insmod /lib/hc1/hc1.ko coalesce_tokens=$t coalesce_usecs=$u
	i=0
	while [ ! -e /dev/hc/0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	for s in 1 8; do
		r=$($b throughput --path mmap --sessions $s --rounds $ROUNDS)
		emit "{\"sweep\": {\"coalesce_tokens\": $t, \"coalesce_usecs\": $u}, \"run\": $r}"
	done
done
