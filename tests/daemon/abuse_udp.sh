#!/usr/bin/env bash
# A hostile local client cannot act for another client, hijack its name or starve it
# (no root needed; the root half, who may attach at all, is access_root.sh):
#
#   msgr-abuse run (V = victim, X = attacker: two connections)      msgr-dt recv svc/rx (-k 1)
#        \-- a.sock -- msgrd 1 =========== udp 127.0.0.1 =========== msgrd 2 -- msgr-dt hold svc/sink
#                                                                             msgr-send -> st/excl
#
# msgr-abuse (tests/daemon/abuse_tool.c) checks, over the raw socket protocol:
#  1-2. X gets ENOENT for every request naming V's device or path (DEV_DEL, PUBLISH,
#       WITHDRAW, OPEN from it, SEND, ACCEPT, CLOSE);
#  3.   V publishes st/excl EXCLUSIVE rank 5, X publishes it EXCLUSIVE rank 5 and rank 1:
#       both shadowed; 10 messages sent by name from node 2 all reach V's device;
#  4.   X hits the per-client limits (MSRV_MAX_DEVS_PER_CLIENT devices,
#       MSRV_MAX_PATHS_PER_CLIENT paths: ELIMIT) and runs 8 paths out of credit (EAGAIN);
#  5.   then V sends N messages on its path and closes it: the receiver on node 2 checks
#       every one exactly once, in order.
# Here: node 1's msgrctl stats count the refusals, and its name table holds st/excl
# three times with V's entry first.  No sleeps: READY lines and msgrctl -j polled.
set -euo pipefail
BIN=$1
PY=${2:-/usr/bin/python3}
T=$(mktemp -d /tmp/msgr-abuse.XXXXXX)
N=3000
. "$(dirname "$0")/proc_lib.sh"

"$BIN/msgrd" --node-id 2 --foreground --socket "$T/b.sock" --log-level warn \
  --bearer "udp:bind=127.0.0.1:0,group=none" >"$T/b.out" 2>"$T/b.err" & PIDS+=($!)
until_ok 30 "node 2 ready" has_line "$T/b.out" READY
PB=$("$BIN/msgrctl" -s "$T/b.sock" -j bearer | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["local"].rsplit(":",1)[1])')
"$BIN/msgrd" --node-id 1 --foreground --socket "$T/a.sock" --log-level warn \
  --bearer "udp:bind=127.0.0.1:0,group=none,peer=127.0.0.1:$PB" >"$T/a.out" 2>"$T/a.err" & PIDS+=($!)
until_ok 30 "node 1 ready" has_line "$T/a.out" READY
until_ok 30 "link 1-2 up" q "$T/a.sock" link 'any(l["peer"]==2 and l["state"]=="ESTABLISHED" for l in j)'

"$BIN/msgr-dt" recv -s "$T/b.sock" -n svc/rx -c $N -k 1 -t 120 >"$T/r.out" 2>"$T/r.err" & R=$!
PIDS+=($R)
until_ok 30 "receiver ready" has_line "$T/r.out" READY
"$BIN/msgr-dt" hold -s "$T/b.sock" -n svc/sink >"$T/sink.out" 2>"$T/sink.err" & PIDS+=($!)
until_ok 30 "sink ready" has_line "$T/sink.out" READY
until_ok 30 "names on node 1" q "$T/a.sock" name '{"svc/rx","svc/sink"} <= {n["name"] for n in j}'

"$BIN/msgr-abuse" run -s "$T/a.sock" -o svc/rx -k svc/sink -x st/excl -c $N >"$T/x.out" 2>"$T/x.err" & X=$!
PIDS+=($X)
until_ok 60 "exclusive names published" has_line "$T/x.out" "READY excl"
until_ok 30 "st/excl on node 2" q "$T/b.sock" name '"st/excl" in {n["name"] for n in j}'
q "$T/a.sock" name '[(n["node"],n["rank"],n["exclusive"]) for n in j if n["name"]=="st/excl"] == [(1,5,True)]*2 + [(1,1,True)]' ||
  fail "st/excl entries on node 1: $(cat "$T/q.json")"
"$BIN/msgr-send" -s "$T/b.sock" -d app/excl -o st/excl -c 10 -z 100 -t 30 >"$T/e.out" 2>"$T/e.err" ||
  fail "sender to st/excl"
until_ok 120 "victim done" has_line "$T/x.out" "OK victim sent"
wait $R || fail "receiver on node 2 (V's messages lost, duplicated or reordered)"
grep -q "OK received $N messages on 1 path(s) from nodes \[1:$N\], 0 bad, 0 extra, 1 closed" "$T/r.out" ||
  fail "receiver: $(cat "$T/r.out")"
cat "$T/x.out" "$T/r.out"
q "$T/a.sock" stats 'j["ipc"]["refused_devices"] >= 1 and j["ipc"]["refused_paths"] >= 1' ||
  fail "refusals not counted: $(cat "$T/q.json")"
echo "node 1 ipc: $("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ipc"])' "$T/q.json")"
kill -0 $X || fail "msgr-abuse exited early"
echo "daemon_abuse_udp: ok"
