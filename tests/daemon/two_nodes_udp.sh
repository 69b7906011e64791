#!/usr/bin/env bash
# Two msgrd over UDP on loopback (no root needed):
#
#   [msgr-send app/tx]  --a.sock-- msgrd 1 ==udp 127.0.0.1== msgrd 2 --b.sock-- [msgr-recv svc/rx]
#   [msgr-dt hold app/hold1 -> path] ------'                    '----- [msgr-dt hold svc/hold2]
#
# The receiver registers svc/rx on node 2; the sender opens a path by that name from
# node 1 and sends 10,000 numbered messages, checked for content, count and order.
# Two holders keep names and one path alive for as long as the test looks at them, so the
# msgrctl -j checks (links, names, paths, stats, node) never race an application's exit.
#
# Robust when run in parallel with anything else:
#  - no fixed port: node 2 binds port 0 and we read the port the kernel chose from
#    `msgrctl -j bearer`; node 1 binds port 0 too and lists node 2 as its peer (node 2
#    learns node 1's address from its discovery);
#  - no sleep as synchronisation: READY lines, msgrctl -j polled with bounded deadlines,
#    and process exits.
set -euo pipefail
BIN=$1
PY=${2:-/usr/bin/python3}
T=$(mktemp -d /tmp/msgr-2n.XXXXXX)
. "$(dirname "$0")/proc_lib.sh"
pl_fail_extra() {
  local k
  for k in a b; do # is the daemon still answering?
    echo "--- msgrctl $k name: $(timeout 5 "$BIN/msgrctl" -s "$T/$k.sock" -j name 2>&1)"
  done
}

"$BIN/msgrd" --node-id 2 --foreground --socket "$T/b.sock" \
  --bearer "udp:bind=127.0.0.1:0,group=none" >"$T/b.out" 2>"$T/b.err" & PIDS+=($!)
until_ok 30 "node 2 ready" has_line "$T/b.out" READY
PB=$("$BIN/msgrctl" -s "$T/b.sock" -j bearer | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["local"].rsplit(":",1)[1])')
[ "$PB" -gt 0 ] || fail "no port for node 2"
"$BIN/msgrd" --node-id 1 --foreground --socket "$T/a.sock" --pidfile "$T/a.pid" \
  --bearer "udp:bind=127.0.0.1:0,group=none,peer=127.0.0.1:$PB" >"$T/a.out" 2>"$T/a.err" & PIDS+=($!)
until_ok 30 "node 1 ready" has_line "$T/a.out" READY
test -s "$T/a.pid" || fail "no pidfile"
until_ok 30 "link 1-2 up" q "$T/a.sock" link 'any(l["peer"]==2 and l["state"]=="ESTABLISHED" for l in j)'
until_ok 30 "link 2-1 up" q "$T/b.sock" link 'any(l["peer"]==1 and l["state"]=="ESTABLISHED" for l in j)'

# Holders: names on both nodes and one path, alive until the end of the test.
"$BIN/msgr-dt" hold -s "$T/b.sock" -n svc/hold2 >"$T/h2.out" 2>"$T/h2.err" & PIDS+=($!)
until_ok 30 "holder 2" has_line "$T/h2.out" READY
"$BIN/msgr-dt" hold -s "$T/a.sock" -n app/hold1 -o svc/hold2 -t 30 >"$T/h1.out" 2>"$T/h1.err" & PIDS+=($!)
until_ok 30 "holder 1 path open" has_line "$T/h1.out" READY

"$BIN/msgr-recv" -s "$T/b.sock" -n svc/rx -c 10000 -t 40 >"$T/r.out" 2>"$T/r.err" & R=$!
until_ok 30 "receiver ready" has_line "$T/r.out" READY
"$BIN/msgr-send" -s "$T/a.sock" -d app/tx -o svc/rx -c 10000 -z 200 -t 40 >"$T/s.out" 2>"$T/s.err" & S=$!
wait $S || fail "sender"
wait $R || fail "receiver"
cat "$T/s.out" "$T/r.out"
grep -q "OK received 10000" "$T/r.out" || fail "receiver count"

# Names: both holders everywhere; the detached sender's and receiver's names withdrawn
# cluster-wide (the withdrawal from node 2 reaches node 1 asynchronously: poll).
names_ok='{n["name"] for n in j} == {"svc/hold2", "app/hold1"}'
until_ok 30 "names on node 1" q "$T/a.sock" name "$names_ok"
until_ok 30 "names on node 2" q "$T/b.sock" name "$names_ok"
"$BIN/msgrctl" -s "$T/b.sock" name
q "$T/a.sock" path 'any(p["kind"]=="out" and p["state"]=="OPEN" and p["peer"]==2 for p in j)' ||
  fail "held path not shown on node 1: $(cat "$T/q.json")"
q "$T/b.sock" path 'any(p["kind"]=="in" and p["peer"]==1 for p in j)' ||
  fail "held path not shown on node 2: $(cat "$T/q.json")"
"$BIN/msgrctl" -s "$T/a.sock" path
q "$T/b.sock" stats 'j["paths"]["delivered"] >= 10000' || fail "stats: $(cat "$T/q.json")"
q "$T/a.sock" node 'j["node"] == 1 and j["peers_up"] == 1' || fail "node: $(cat "$T/q.json")"
echo "msgrctl json ok"

# Text output and control commands.
"$BIN/msgrctl" -s "$T/a.sock" link
"$BIN/msgrctl" -s "$T/a.sock" link set tolerance 800
q "$T/a.sock" link 'all(l["tolerance_ms"]==800 for l in j)' || fail "tolerance"
"$BIN/msgrctl" -s "$T/a.sock" debug level link debug >/dev/null
q "$T/a.sock" debug 'j["link"]=="debug"' || fail "debug level"
"$BIN/msgrctl" -s "$T/a.sock" capture start "$T/cap.pcap"
"$BIN/msgrctl" -s "$T/a.sock" capture stop
test -f "$T/cap.pcap" || fail "no capture file"
! "$BIN/msgrctl" -s "$T/a.sock" bogus 2>/dev/null || fail "bogus command accepted"

# Clean stop on SIGTERM: exit status 0, pidfile and socket removed.
APID=$(cat "$T/a.pid")
kill -TERM "$APID"
wait "$APID" || fail "msgrd 1 exit status $?"
[ ! -e "$T/a.pid" ] && [ ! -e "$T/a.sock" ] || fail "pidfile or socket left behind"
echo "two_nodes_udp: ok"
