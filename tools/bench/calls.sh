# Runs in the guest (busybox sh, as hc1-vm's command), booted with two
# vCPUs: the driver's own cost per read() and WAIT, the engine idle, with 8
# and 64 sessions calling at once from threads of their own.  Each result
# is one line "BENCH {json}" on the console.  ROUNDS is set by run.sh in
# front of this text.
set -eu
for s in 8 64; do
	for path in read wait; do
		echo "BENCH $(hc1-bench-guest calls --path $path --sessions $s --rounds $ROUNDS)"
	done
done
