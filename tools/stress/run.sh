#!/bin/bash
# Reliability and security runs of the whole stack (make stress):
#
#   tools/stress/run.sh [--short] [BUILD]
#
#   1. device fuzzer (qtest-hc1-fuzz) against QEMU built with AddressSanitizer
#      and UBSan (HC1_QEMU_SANITIZE=1 qemu-device/build-qemu.sh BUILD/qemu-asan)
#   2. in one guest with fault-inject=on: the UAPI fuzzer (guest-hc1-uapi-fuzz),
#      every injected fault (guest-hc1-faults), the kill storm
#      (guest-hc1-killstorm), the soak (guest-hc1-soak), then the known answer
#   3. surprise removal and hot re-add (stress-hc1-hotplug in the guest,
#      hotplug-host.py on QMP), then rmmod
#
# Figures go to bench/reliability.json (and the logs to BUILD/stress/).
# --short sizes everything down to a few minutes and uses the normal QEMU
# for the device fuzzer.  Seeds are fixed (override with HC1_STRESS_SEED) so
# that a failure can be replayed.  Exit status: 0 only if every part passed.
set -uo pipefail

short=0
if [ "${1:-}" = --short ]; then
	short=1
	shift
fi
SRC=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
BUILD=$(readlink -f "${1:-$SRC/build}")
OUT=$BUILD/stress
SEED=${HC1_STRESS_SEED:-20261201}
VM="$SRC/tools/vm/hc1-vm"
# stories260K, for the known answer the guest checks after each ordeal.
model=$SRC/models/llama2c/stories260K.bin
tokenizer=$SRC/models/llama2c/tok512.bin
export HC1_BUILD=$BUILD
mkdir -p "$OUT"
rm -f "$OUT"/*.log "$OUT"/sanitizer.*

if [ "$short" = 1 ]; then
	DEV_OPS=50000 FUZZ_CALLS=20000 FAULT_ROUNDS=1 KILLS=100 KILL_PAR=8
	SOAK_SESSIONS=16 SOAK_GENS=20 READERS=4 VM_TIMEOUT=900
else
	DEV_OPS=1000000 FUZZ_CALLS=1000000 FAULT_ROUNDS=5 KILLS=1000 KILL_PAR=16
	SOAK_SESSIONS=64 SOAK_GENS=1000 READERS=8 VM_TIMEOUT=1500
fi

log() { echo "stress: $*" >&2; }
declare -A verdict

# ----------------------------------------------------------- 1. device fuzz
# HC1_QEMU (as for hc1-vm) overrides the normal QEMU the guests run on.
QEMU=${HC1_QEMU:-$BUILD/qemu/qemu-system-x86_64}
export HC1_QEMU=$QEMU
if [ "$short" = 0 ]; then
	log "building QEMU with ASan and UBSan (first time: 15+ minutes)"
	if HC1_QEMU_SANITIZE=1 "$SRC/qemu-device/build-qemu.sh" "$BUILD/qemu-asan" \
		>"$OUT/qemu-asan-build.log" 2>&1; then
		QEMU=$BUILD/qemu-asan/qemu-system-x86_64
	else
		log "sanitizer build failed (see $OUT/qemu-asan-build.log)"
		verdict[device_fuzz]=fail
	fi
fi
if [ -z "${verdict[device_fuzz]:-}" ]; then
	log "device fuzzer: $DEV_OPS operations against $QEMU"
	# Reports go to files, one per process; LSan is off because QEMU does
	# not free everything at exit (not the device's doing).
	ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:log_path=$OUT/sanitizer.asan" \
	UBSAN_OPTIONS="print_stacktrace=1:log_path=$OUT/sanitizer.ubsan" \
	HC1_QEMU=$QEMU timeout 1200 "$BUILD/bin/qtest-hc1-fuzz" "$DEV_OPS" "$SEED" \
		>"$OUT/device-fuzz.log" 2>&1
	rc=$?
	cat "$OUT/device-fuzz.log" >&2
	reports=$(cat "$OUT"/sanitizer.* 2>/dev/null | grep -cE 'ERROR: AddressSanitizer|runtime error:' || true)
	if [ "$rc" = 0 ] && [ "$reports" = 0 ]; then
		verdict[device_fuzz]=pass
	else
		log "device fuzzer: exit $rc, $reports sanitizer reports"
		cat "$OUT"/sanitizer.* 2>/dev/null | head -60 >&2
		verdict[device_fuzz]=fail
	fi
fi
# ---------------------------------------------------------- 2. guest runs
# Each step is marked in the kernel log and checked for kernel reports;
# guest-init fails the whole run on any report as well.
guest_cmd=$(cat <<EOF
step() {
	name=\$1; shift
	echo "hc1-stress: begin \$name" >/dev/kmsg
	n=\$(dmesg | wc -l)
	"\$@"; rc=\$?
	if dmesg | tail -n +\$((n + 1)) | grep -E 'BUG:|WARNING:|Oops|general protection|Call Trace|INFO: possible|Redzone|Poison overwritten'; then
		echo "STRESS-KERNEL-REPORT \$name"; rc=1
	fi
	echo "STRESS-RESULT \$name \$rc"
	[ \$rc = 0 ] || fail=1
}
fail=0
step uapi_fuzz guest-hc1-uapi-fuzz $FUZZ_CALLS 8 $SEED
step faults guest-hc1-faults $FAULT_ROUNDS
step kill_storm guest-hc1-killstorm $KILLS $KILL_PAR $SEED
step soak guest-hc1-soak $SOAK_SESSIONS $SOAK_GENS 16
step known_answer guest-hc1-known-answer
exit \$fail
EOF
)
log "guest: fuzz, faults, kill storm, soak, known answer (fault-inject=on)"
$VM --timeout "$VM_TIMEOUT" --model "$model" --device-opts ",fault-inject=on" -- "$guest_cmd" \
	>"$OUT/guest.log" 2>&1
guest_rc=$?
grep -E '^(fuzz|faults|killstorm|soak):|STRESS-|FAIL' "$OUT/guest.log" >&2
for s in uapi_fuzz faults kill_storm soak known_answer; do
	if grep -q "STRESS-RESULT $s 0" "$OUT/guest.log" && [ "$guest_rc" = 0 ]; then
		verdict[$s]=pass
	else
		verdict[$s]=fail
	fi
done

# ------------------------------------------------------- 3. surprise removal
log "surprise removal and hot re-add ($READERS readers)"
sock=$OUT/qmp.sock
rm -f "$sock"
# With the sanitizer QEMU in full mode: unplugging runs the device's
# teardown, which the fuzzer never reaches.
ASAN_OPTIONS="detect_leaks=0:log_path=$OUT/sanitizer.hotplug-asan" \
UBSAN_OPTIONS="print_stacktrace=1:log_path=$OUT/sanitizer.hotplug-ubsan" \
HC1_QEMU=$QEMU $VM --timeout 600 --model "$model" --qmp "$sock" -- \
	"stress-hc1-hotplug $READERS && guest-hc1-known-answer && rmmod hc1 && echo HC1-HOTPLUG: rmmod ok" \
	>"$OUT/hotplug.log" 2>&1 &
vm_pid=$!
"$SRC/tools/stress/hotplug-host.py" "$sock" "$OUT/hotplug.log" \
	"driver=hc1,id=hc1,bus=rp0,model=$model,tokenizer=$tokenizer" \
	>"$OUT/hotplug-host.log" 2>&1
host_rc=$?
wait "$vm_pid"
vm_rc=$?
cat "$OUT/hotplug-host.log" >&2
grep -E 'HC1-HOTPLUG|reader|matches the reference|FAIL' "$OUT/hotplug.log" >&2
hp_reports=$(cat "$OUT"/sanitizer.hotplug-* 2>/dev/null | grep -cE 'ERROR: AddressSanitizer|runtime error:' || true)
if [ "$host_rc" = 0 ] && [ "$vm_rc" = 0 ] && [ "$hp_reports" = 0 ] &&
	grep -q 'HC1-HOTPLUG: rmmod ok' "$OUT/hotplug.log"; then
	verdict[surprise_removal]=pass
else
	log "surprise removal: host $host_rc, guest $vm_rc"
	verdict[surprise_removal]=fail
fi

# ------------------------------------------------------------- figures
SANITIZER_REPORTS=$(cat "$OUT"/sanitizer.* 2>/dev/null | grep -cE 'ERROR: AddressSanitizer|runtime error:' || true)
mkdir -p "$SRC/bench"
python3 - "$OUT" "$SRC/bench/reliability.json" "$short" "$SEED" \
	"$SANITIZER_REPORTS" "$QEMU" \
	"device_fuzz=${verdict[device_fuzz]}" "uapi_fuzz=${verdict[uapi_fuzz]}" \
	"faults=${verdict[faults]}" "kill_storm=${verdict[kill_storm]}" \
	"soak=${verdict[soak]}" "known_answer=${verdict[known_answer]}" \
	"surprise_removal=${verdict[surprise_removal]}" <<'EOF'
import json, re, sys, time
out, dest, short, seed, san, qemu = sys.argv[1:7]
verdicts = dict(a.split("=", 1) for a in sys.argv[7:])

def text(name):
    try:
        return open(f"{out}/{name}", errors="replace").read()
    except FileNotFoundError:
        return ""

def num(pattern, s, default=None):
    m = re.search(pattern, s)
    return int(m.group(1)) if m else default

dev, guest, hp = text("device-fuzz.log"), text("guest.log"), text("hotplug.log")
hph = text("hotplug-host.log")
res = {
    "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "mode": "short" if short == "1" else "full",
    "seed": int(seed),
    "device_fuzz": {
        "qemu": qemu, "sanitizers": "address,undefined" if "asan" in qemu else "none",
        "operations": num(r"operations (\d+) in", dev),
        "sqes": num(r"sqes (\d+)", dev), "register_writes": num(r"register writes (\d+)", dev),
        "doorbells": num(r"doorbells (\d+)", dev), "memory_writes": num(r"memory writes (\d+)", dev),
        "fault_modes_set": num(r"fault modes (\d+)", dev),
        "bad_register_writes_counted": num(r"device counted (\d+)", dev),
        "sanitizer_reports": int(san),
        "works_after_reset": "generates the same tokens" in dev,
        "verdict": verdicts["device_fuzz"]},
    "uapi_fuzz": {
        "calls": num(r"fuzz: calls (\d+)", guest),
        "unexpected_results": num(r"unexpected (\d+)", guest),
        "errno_histogram": dict((k, int(v)) for k, v in re.findall(r" (E[A-Z0-9]+)=(\d+)", (re.findall(r"fuzz: calls.*", guest) or [""])[0])),
        "io_uring_calls": num(r"\(io_uring (\d+)\)", guest),
        "known_answer_after": "card still generates the reference tokens" in guest,
        "verdict": verdicts["uapi_fuzz"]},
    "faults": {
        "rounds": num(r"faults: rounds (\d+)", guest),
        "injected": num(r"injected (\d+)", guest), "detected": num(r"detected (\d+)", guest),
        "recovered": num(r"recovered (\d+)", guest), "failures": num(r"failures (\d+);", guest),
        "driver_resets": num(r"driver resets (\d+)", guest),
        "verdict": verdicts["faults"]},
    "kill_storm": {
        "killed": num(r"killstorm: killed (\d+)", guest),
        "sessions_after": num(r"killstorm: killed .* sessions (\d+)", guest),
        "dma_buffers_after": num(r"dma_buffers (\d+)", guest),
        "verdict": verdicts["kill_storm"]},
    "soak": {
        "sessions": num(r"soak: sessions (\d+)", guest),
        "generations": num(r"soak: sessions \d+ generations (\d+)", guest),
        "tokens": num(r"soak: .* tokens (\d+)", guest),
        "mismatches": num(r"mismatches (\d+) failures", guest),
        "failures": num(r"soak: .* failures (\d+)", guest),
        "verdict": verdicts["soak"]},
    "surprise_removal": {
        "readers": len(re.findall(r"reader \d+: -ENODEV", hp)),
        "readers_failed": num(r"HC1-HOTPLUG: gone: \d+ readers, (\d+) failed", hp),
        "readd_works": "matches the reference" in hp,
        "rmmod_ok": "HC1-HOTPLUG: rmmod ok" in hp,
        "qemu_sanitizers": "address,undefined" if "asan" in qemu else "none",
        "host_steps": [l for l in hph.splitlines() if l.startswith("hotplug-host")],
        "verdict": verdicts["surprise_removal"]},
    "known_answer_after_all": verdicts["known_answer"],
}
json.dump(res, open(dest, "w"), indent=2)
print(json.dumps({k: v.get("verdict", v) if isinstance(v, dict) else v for k, v in res.items()}, indent=1))
EOF

rc=0
for k in "${!verdict[@]}"; do
	[ "${verdict[$k]}" = pass ] || { log "FAIL: $k"; rc=1; }
done
log "figures in bench/reliability.json; logs in $OUT"
exit $rc
