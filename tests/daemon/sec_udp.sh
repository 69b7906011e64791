#!/usr/bin/env bash
# Secured links seen through msgrctl, under attack (no root needed):
#
#   [msgr-send app/tx] -- msgrd 1 ==udp==> sec_proxy.py ==udp==> msgrd 2 -- [msgr-dt recv svc/rx]
#                                           (replays and forges SECURED frames toward node 2)
#
# Both daemons run security = required with the same cluster key.  Checks:
#  - `msgrctl -j link sec` on both nodes: the link is secured, a cipher and a key are in
#    use, and node 2's replay_drops and auth_failures start at 0;
#  - while 6000 numbered messages flow 1 -> 2, the proxy injects replays (byte-exact
#    copies of a genuine SECURED frame) and forgeries (fresh counter, one ciphertext
#    octet flipped) at three points; afterwards node 2's replay_drops and auth_failures
#    have grown by at least what was injected;
#  - the receiver (msgr-dt recv -k 1) got every message exactly once and in order, and
#    then saw the sender close its path: nothing lost, nothing duplicated;
#  - the text form of `msgrctl link sec` names the cipher.
# Synchronisation: READY lines and msgrctl -j polled against deadlines; no sleeps.
set -euo pipefail
BIN=$1
PY=${2:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/msgr-sec.XXXXXX)
N=6000
. "$(dirname "$0")/proc_lib.sh"
# sec K FIELD: node K's value of FIELD in its (only) link sec row.
sec() {
  "$BIN/msgrctl" -s "$T/$1.sock" -j link sec |
    "$PY" -c "import json,sys; j=json.load(sys.stdin); assert len(j)==1, j; print(j[0]['$2'])"
}

# The cluster key: 32 random octets, private to the daemons' user.
head -c 32 /dev/urandom >"$T/cluster.key"
chmod 0600 "$T/cluster.key"
printf 'security = required\nkeyfile = %s\n' "$T/cluster.key" >"$T/sec.conf"

"$BIN/msgrd" -c "$T/sec.conf" --node-id 2 --foreground --socket "$T/b.sock" \
  --bearer "udp:bind=127.0.0.1:0,group=none" >"$T/b.out" 2>"$T/b.err" & PIDS+=($!)
until_ok 30 "node 2 ready" has_line "$T/b.out" READY
PB=$("$BIN/msgrctl" -s "$T/b.sock" -j bearer | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["local"].rsplit(":",1)[1])')
"$PY" "$HERE/sec_proxy.py" "$PB" 150 400 700 >"$T/proxy.out" 2>"$T/proxy.err" & PROXY=$!
PIDS+=($PROXY)
until_ok 30 "proxy ready" has_line "$T/proxy.out" READY
PX=$(sed -n 's/^READY port=//p' "$T/proxy.out")
"$BIN/msgrd" -c "$T/sec.conf" --node-id 1 --foreground --socket "$T/a.sock" \
  --bearer "udp:bind=127.0.0.1:0,group=none,peer=127.0.0.1:$PX" >"$T/a.out" 2>"$T/a.err" & PIDS+=($!)
until_ok 30 "node 1 ready" has_line "$T/a.out" READY

secured='len(j)==1 and j[0]["state"]=="ESTABLISHED" and j[0]["secured"] and j[0]["send_ready"] and j[0]["cipher"] not in ("none","unknown") and j[0]["key_age_s"] >= 0'
until_ok 30 "secured link on node 1" q "$T/a.sock" "link sec" "$secured"
until_ok 30 "secured link on node 2" q "$T/b.sock" "link sec" "$secured"
q "$T/b.sock" "link sec" 'j[0]["replay_drops"]==0 and j[0]["auth_failures"]==0 and j[0]["peer_policy"]=="required"' ||
  fail "node 2 before the attack: $(cat "$T/q.json")"
echo "secured: node 2 $(cat "$T/q.json")"

"$BIN/msgr-dt" recv -s "$T/b.sock" -n svc/rx -c $N -k 1 -t 60 >"$T/r.out" 2>"$T/r.err" & R=$!
until_ok 30 "receiver ready" has_line "$T/r.out" READY
until_ok 30 "name on node 1" q "$T/a.sock" name '"svc/rx" in {n["name"] for n in j}'
"$BIN/msgr-send" -s "$T/a.sock" -d app/tx -o svc/rx -c $N -z 300 -t 60 >"$T/s.out" 2>"$T/s.err" & S=$!
wait $S || fail "sender"
wait $R || fail "receiver (lost, duplicated or reordered messages?)"
grep -q "OK received $N messages on 1 path(s) from nodes \[1:$N\], 0 bad, 0 extra, 1 closed" "$T/r.out" ||
  fail "receiver: $(cat "$T/r.out")"
cat "$T/s.out" "$T/r.out"

kill -TERM $PROXY
wait $PROXY || fail "proxy"
read -r RP FG < <(sed -n 's/^DONE replays=\([0-9]*\) forged=\([0-9]*\).*/\1 \2/p' "$T/proxy.out")
[ "${RP:-0}" -ge 6 ] && [ "${FG:-0}" -ge 6 ] || fail "the proxy injected too little: $(tail -n 1 "$T/proxy.out")"
q "$T/b.sock" "link sec" "j[0]['replay_drops'] >= $RP and j[0]['auth_failures'] >= $FG" ||
  fail "node 2 did not count the $RP replays and $FG forgeries: $(cat "$T/q.json")"
echo "injected $RP replays and $FG forgeries; node 2: $(cat "$T/q.json")"
"$BIN/msgrctl" -s "$T/b.sock" link sec | tee "$T/sec.txt"
grep -Eq "aes-256-gcm|chacha20-poly1305" "$T/sec.txt" || fail "no cipher in the text form"
echo "daemon_sec_udp: ok"
