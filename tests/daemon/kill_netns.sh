#!/usr/bin/env bash
# Root test: kill -9 of a node under traffic, on the cluster of netns_lib.sh.
#
#   1. Names held on every node (svc/a, svc/b, svc/c); svc/b's holder behaves like a
#      supervised application (msgr-dt hold -R: re-attaches when its msgrd comes back).
#   2. Traffic: A -> B (eth) and C -> B (serial) into a receiver on B, and A -> C (udp)
#      into a checking receiver on C that must finish intact whatever happens to B.
#   3. kill -9 B's msgrd.  A and C must report the link to B down, through the client
#      library's status events (msgr-dt watch) and msgrctl, within tolerance + one probe
#      interval of the kill.
#   4. Restart B's msgrd (same command): links A-B and B-C come back, svc/b is
#      republished by its holder and A's and C's names reach B, with no manual step.
#      Fresh traffic A -> B and C -> B by name is delivered intact.
set -uo pipefail
BIN=$1
PY=${2:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/netns_lib.sh"
dt_need_root

dt_cluster
echo "cluster up: A-B eth, B-C serial, A-C udp, A-D pcie"
for k in a c; do
  "$BIN/msgr-dt" watch -s "$DT/$k.sock" >"$DT/watch.$k.out" 2>"$DT/watch.$k.err" &
  XPIDS+=($!)
  dt_wait_line "$DT/watch.$k.out" READY 30
done
for k in a b c; do
  "$BIN/msgr-dt" hold -s "$DT/$k.sock" -n "svc/$k" -R -t 60 >"$DT/hold.$k.out" 2>"$DT/hold.$k.err" &
  XPIDS+=($!)
  dt_wait_line "$DT/hold.$k.out" READY 30
done
all_names="{'svc/a','svc/b','svc/c'} <= {n['name'] for n in j}"
for k in a b c; do dt_until 30 "names on $k" dt_json $k name "$all_names"; done

# Traffic.  The flows into B die with B (their senders fail: not checked); A -> C must not.
dt_recv c flow/c 20000 1
"$BIN/msgr-recv" -s "$DT/b.sock" -n flow/b -c 100000000 -t 60 >"$DT/victim.out" 2>&1 &
XPIDS+=($!)
dt_wait_line "$DT/victim.out" READY 30
for k in a c; do
  "$BIN/msgr-send" -s "$DT/$k.sock" -d "app/to-b-$k" -o flow/b -c 100000000 -z 200 -t 60 \
    >"$DT/victim.$k.out" 2>&1 &
  XPIDS+=($!)
done
dt_send a app/ac flow/c 20000 200
dt_until 30 "traffic into B" dt_json b stats "j['paths']['delivered'] > 500"

probe=$("$BIN/msgrctl" -s "$DT/a.sock" -j link |
        "$PY" -c 'import json,sys; print(max(l["probe_ms"] for l in json.load(sys.stdin)))')
limit=$((TOL + probe))
t_kill=$(date +%s.%N)
kill -9 "${DPID[b]}"
wait "${DPID[b]}" 2>/dev/null
unset 'DPID[b]'
echo "killed B at $t_kill; limit tolerance $TOL + probe $probe = $limit ms"
for k in a c; do
  dt_wait_line "$DT/watch.$k.out" "LINK peer=2 .* up=0" 10
  t_down=$(grep -m1 "LINK peer=2 .* up=0" "$DT/watch.$k.out" | cut -d' ' -f2)
  ms=$("$PY" -c "print(round(($t_down - $t_kill) * 1000))")
  echo "  node $k: link to B down after $ms ms (status event)"
  [ "$ms" -le "$limit" ] || dt_fail "node $k saw B down after $ms ms > $limit ms"
  dt_json $k link "not any(l['peer']==2 and l['state']=='ESTABLISHED' for l in j)" ||
    dt_fail "msgrctl on $k still shows the link to B: $(cat "$DT/q.$k.json")"
  dt_json $k stats "j['node']['links_down'] >= 1 and j['node']['peers_down'] >= 1" ||
    dt_fail "msgrctl stats on $k: $(cat "$DT/q.$k.json")"
done
dt_until 30 "svc/b withdrawn on A" dt_json a name "'svc/b' not in {n['name'] for n in j}"
dt_wait_apps   # A -> C went on, intact, while B died

# Restart B: same command line, nothing else.
dt_msgrd b 2 B "$BB" "$BB2"
dt_links a 2 3 4; dt_links b 1 3; dt_links c 1 2
for k in a c; do dt_wait_line "$DT/watch.$k.out" "LINK peer=2 .* up=1" 10; done
dt_wait_line "$DT/hold.b.out" "again 1" 30
for k in a b c; do dt_until 30 "names on $k after restart" dt_json $k name "$all_names"; done
echo "B restarted: links up, names republished"
dt_recv b flow2/b 4000 2
dt_send a app/a2b flow2/b 2000 300
dt_send c app/c2b flow2/b 2000 300
dt_wait_apps
"$BIN/msgrctl" -s "$DT/a.sock" link
dt_stop_all
echo "daemon_kill_netns: ok"
