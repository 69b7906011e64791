#!/usr/bin/env bash
# Root test: the four-node cluster of netns_lib.sh (three network namespaces joined by
# eth over veth, serial over a pty pair and UDP, plus a host/IOP pair over the PCIe
# shim) carrying messages between logical devices on every pair, by name and by pattern:
#
#   one-to-many  app/fan on A --pattern grp/*-->  grp/b (eth), grp/c (udp), grp/d (pcie)
#   many-to-one  app/up on B (eth), C (udp), D (pcie) --name--> sink/a on A
#   one-to-one   app/bc on B --name--> name/c ; app/cb on C --name--> name/b  (serial)
#
# Every receiver (msgr-dt recv) checks content, count and per-path order and then waits
# for its senders to close their paths, so a duplicate or an extra message fails it.
# Then msgrctl -j on every node: links up, names, stats.
set -uo pipefail
BIN=$1
PY=${2:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/netns_lib.sh"
dt_need_root
N=${DT_N:-2000}

dt_cluster
echo "cluster up: A-B eth, B-C serial, A-C udp, A-D pcie"

dt_recv b grp/b "$N" 1
dt_recv c grp/c "$N" 1
dt_recv d grp/d "$N" 1
dt_recv a sink/a $((3 * N)) 3
dt_recv c name/c "$N" 1
dt_recv b name/b "$N" 1
# Names travel: wait until A knows the three group members before the fan-out opens.
dt_until 30 "grp names on A" dt_json a name \
  "{'grp/b','grp/c','grp/d'} <= {n['name'] for n in j}"
dt_send a app/fan 'grp/*' "$N" 120 -p -m 3
dt_send b app/up-b sink/a "$N" 300
dt_send c app/up-c sink/a "$N" 300
# 3000 octets over the PCIe shim: fragmented to the host's slot MTU, which the IOP learns
# only from the host (the core sizes fragments by the negotiated link MTU).
dt_send d app/up-d sink/a "$N" 3000
dt_send b app/bc name/c "$N" 200
dt_send c app/cb name/b "$N" 200
dt_wait_apps

for k in a b c d; do "$BIN/msgrctl" -s "$DT/$k.sock" link; done
dt_json a stats "j['paths']['delivered'] >= 3 * $N and j['node']['drops']['peer_lost'] == 0" ||
  dt_fail "stats of A: $(cat "$DT/q.a.json")"
dt_json a link "len([l for l in j if l['state']=='ESTABLISHED']) == 3 and all(l['downs']==0 for l in j)" ||
  dt_fail "links of A went down: $(cat "$DT/q.a.json")"
"$BIN/msgrctl" -s "$DT/a.sock" stats | head -n 3
dt_stop_all
echo "daemon_cluster_netns: ok"
