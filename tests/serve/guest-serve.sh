#!/bin/sh
# hc1-serve in the guest, under load and bad luck: what needs root or the
# card's fault injection (queueing behind a stalled engine, a client that
# leaves, a reset and a removal mid-stream), with curl as the client.
#
# tests/serve/run.py boots the guest with one card (contexts=1,
# fault-inject=on) and drives this script: at each "HC1-SERVE: STEP" line
# the host runs its clients (OpenAI library, Chromium, promtool) against the
# forwarded port, then connects to port 9000 to hand the turn back.
# Prints PASS/FAIL lines (tests/summary.py reads them); exits 1 on a FAIL.
set -u
PORT=8080
URL=http://127.0.0.1:$PORT
MODEL=stories260K
FAULT=/sys/kernel/debug/hc1/hc0/fault_inject
STALL=2 # HC1_TEST_STALL_ENGINE
fails=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1${2:+ ($2)}"; fails=$((fails + 1)); }
check() {
	name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
host_turn() {
	echo "HC1-SERVE: $1"
	nc -l -p 9000 >/dev/null 2>&1
}
ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; } # 10 ms steps
metric() { curl -s -m 30 $URL/metrics | awk -v m="$1" '$1 == m { print $2 }'; }
sessions() { metric "hc1_serve_sessions_active{card=\"0\",model=\"$MODEL\"}"; }
# Wait up to $2 tenths of a second for command $1 to succeed.
wait_for() {
	i=0
	while ! eval "$1" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt "$2" ] && return 1
		sleep 0.1
	done
}
complete() { # prompt max_tokens [extra json]
	curl -s -m 30 -X POST $URL/v1/completions -H 'Content-Type: application/json' \
		-d "{\"model\":\"$MODEL\",\"prompt\":\"$1\",\"max_tokens\":$2,\"temperature\":0${3:+,$3}}"
}

# An unprivileged user in the hc1 group, as the systemd unit runs it.
echo 'hc1serve:x:990:990:hc1-serve:/:/bin/false' >>/etc/passwd
su -s /bin/sh -c "exec env LD_LIBRARY_PATH=$LD_LIBRARY_PATH $(command -v hc1-serve) \
	--listen 0.0.0.0:$PORT --max-queue 3 --io-timeout 5" hc1serve >/tmp/serve.log 2>&1 &
server=$!
check serve-starts wait_for "curl -sf -m 30 $URL/health" 100
check serve-runs-unprivileged test "$(awk '/^Uid:/ { print $2 }' /proc/$server/status)" = 990

# --- curl: the API as any HTTP client sees it
body=$(complete 'Once upon a time' 30)
check serve-curl-complete sh -c "echo '$body' | grep -q '\"text\":\", there was a little girl named Lily'"
check serve-curl-usage sh -c "echo '$body' | grep -q '\"completion_tokens\":30'"
curl -sN -m 30 -X POST $URL/v1/completions -d "{\"model\":\"$MODEL\",\"prompt\":\"Once upon a time\",\"max_tokens\":60,\"temperature\":0,\"stream\":true}" >/tmp/stream
check serve-curl-stream sh -c "[ \$(grep -c '^data: {' /tmp/stream) -ge 2 ] && tail -n 2 /tmp/stream | grep -qx 'data: \[DONE\]' && grep -q '\"finish_reason\":\"length\"' /tmp/stream"
code=$(curl -s -m 30 -o /tmp/err -w '%{http_code}' -X POST $URL/v1/completions -d '{"model":')
check serve-curl-bad-json sh -c "[ $code = 400 ] && grep -q invalid_json /tmp/err"
code=$(curl -s -m 30 -o /tmp/err -w '%{http_code}' -X POST $URL/v1/completions -d "{\"model\":\"$MODEL\",\"prompt\":\"x\",\"logprobs\":3}")
check serve-curl-unsupported-field sh -c "[ $code = 400 ] && grep -q '\"param\":\"logprobs\"' /tmp/err"
head -c 2000000 /dev/zero | tr '\0' 'a' >/tmp/big
code=$(curl -s -m 30 -o /dev/null -w '%{http_code}' -X POST $URL/v1/completions --data-binary @/tmp/big)
check serve-curl-body-limit [ "$code" = 413 ]

host_turn clients

# --- queueing: the one context held by a stalled generation, three waiting
echo $STALL >$FAULT
waiting=""
for i in 1 2 3 4; do
	complete 'Once upon a time' 20 >/tmp/q$i &
	waiting="$waiting $!"
	wait_for "[ \"\$(metric hc1_serve_requests_queued)\" = $((i - 1)) ]" 50
done
check serve-queue-holds-three [ "$(metric hc1_serve_requests_queued)" = 3 ]
curl -s -m 30 -i -X POST $URL/v1/completions -d "{\"model\":\"$MODEL\",\"prompt\":\"x\",\"max_tokens\":1}" >/tmp/full
check serve-queue-full-503 sh -c "head -n 1 /tmp/full | grep -q ' 503' && grep -qi '^retry-after: 1' /tmp/full && grep -q queue_full /tmp/full"
host_turn queue-full
echo 0 >$FAULT
wait $waiting
# FIFO: the server logs each request as the card takes it.
ids=$(for i in 1 2 3 4; do grep -o '"id":"cmpl-[0-9a-f]*"' /tmp/q$i | cut -d'"' -f4; done | tr '\n' ' ')
started=$(grep -o 'cmpl-[0-9a-f]* started' /tmp/serve.log | cut -d' ' -f1 | grep -F "$(echo $ids | tr ' ' '\n')" | tr '\n' ' ')
check serve-queue-fifo [ "$started" = "$ids" ]
check serve-queue-all-answered sh -c "grep -l 'little girl named Lily' /tmp/q1 /tmp/q2 /tmp/q3 /tmp/q4 | wc -l | grep -qx 4"

# --- a client that leaves mid-stream: its context is freed on the card
echo $STALL >$FAULT
curl -sN -m 30 -X POST $URL/v1/completions -d "{\"model\":\"$MODEL\",\"prompt\":\"Once\",\"max_tokens\":100,\"stream\":true}" >/dev/null &
client=$!
wait_for "[ \"\$(sessions)\" = 1 ]" 50
kill $client
t0=$(ms)
wait_for "[ \"\$(sessions)\" = 0 ]" 50 && t1=$(ms)
check serve-disconnect-cancels sh -c "[ \"$(sessions)\" = 0 ] && [ \"$(metric 'hc1_serve_cancelled_total{reason="disconnect"}')\" -ge 1 ]"
echo "serve: context free $((${t1:-$(ms)} - t0)) ms after the client left (engine stalled: found by the keep-alive write)"
echo 0 >$FAULT
# And while tokens flow: a long generation left after its first chunk.
curl -sN -m 30 -X POST $URL/v1/completions -d "{\"model\":\"$MODEL\",\"prompt\":\"Once\",\"max_tokens\":500,\"stream\":true}" | head -c 1 >/dev/null
check serve-disconnect-streaming wait_for "[ \"\$(sessions)\" = 0 ]" 50

# --- a reset mid-stream ends the stream with an error event; the card serves again
echo $STALL >$FAULT
curl -sN -m 30 -X POST $URL/v1/completions -d "{\"model\":\"$MODEL\",\"prompt\":\"Once\",\"max_tokens\":100,\"stream\":true}" >/tmp/reset &
client=$!
wait_for "[ \"\$(sessions)\" = 1 ]" 50
hcctl reset >/dev/null
wait $client
check serve-reset-error-event sh -c "grep -q '^data: {\"error\"' /tmp/reset"
echo 0 >$FAULT
check serve-reset-serves-again wait_for "complete 'Once upon a time' 30 | grep -q 'little girl named Lily'" 100

# --- a removal mid-stream: error event, not ready, then the card comes back
addr=$(basename "$(readlink -f /sys/class/hc1/hc0/device)")
echo $STALL >$FAULT
curl -sN -m 30 -X POST $URL/v1/completions -d "{\"model\":\"$MODEL\",\"prompt\":\"Once\",\"max_tokens\":100,\"stream\":true}" >/tmp/remove &
client=$!
wait_for "[ \"\$(sessions)\" = 1 ]" 50
echo 1 >/sys/bus/pci/devices/$addr/remove
wait $client
check serve-remove-error-event sh -c "grep -q '^data: {\"error\"' /tmp/remove"
check serve-remove-not-ready wait_for "[ \"\$(curl -s -m 30 -o /dev/null -w '%{http_code}' $URL/health)\" = 503 ]" 50
echo 1 >/sys/bus/pci/rescan
# What the udev rule does for the new node.
wait_for "ls /dev/hc/*" 50
for n in /dev/hc/*; do chgrp hc1 "$n" && chmod 0660 "$n"; done
# The card is the same device: its fault injection is still set.
for f in /sys/kernel/debug/hc1/*/fault_inject; do echo 0 >"$f"; done
check serve-remove-ready-again wait_for "curl -sf -m 30 $URL/health" 100
check serve-remove-serves-again wait_for "complete 'Once upon a time' 30 | grep -q 'little girl named Lily'" 50

kill $server
wait $server 2>/dev/null
check serve-stops-on-sigterm sh -c "grep -q 'stopping' /tmp/serve.log"
[ $fails = 0 ]
