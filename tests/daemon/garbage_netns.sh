#!/usr/bin/env bash
# Root test: garbage while traffic flows, on the cluster of netns_lib.sh.
#
#   traffic  A -> B by name over eth (veth), B -> C and C -> B by name over serial
#   garbage  eth_inject.py in A's namespace sends INJ frames with the Messenger EtherType
#            from random source MACs to B's MAC (every 8th broadcast): truncated, random
#            and header-shaped; pty_bridge.py writes NOISE random bytes into each
#            direction of the serial line, interleaved with the real frames.
#
# Then: every receiver got every message exactly once, intact and in order (msgr-dt recv
# waits for the sender's close: a duplicate or an extra message fails it); every daemon
# is still running; msgrctl -j stats on B counts at least INJ drops on the eth bearer and
# in the core, and the serial bearers of B and C count the noise (CRC/framing/runt drops).
set -uo pipefail
BIN=$1
PY=${2:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/netns_lib.sh"
dt_need_root
N=${DT_N:-5000}
INJ=${DT_INJ:-5000}
NOISE=${DT_NOISE:-20000}

dt_cluster
echo "cluster up: A-B eth, B-C serial, A-C udp, A-D pcie"
mac_b=$(dt_mac B "vba$tag")
[ -n "$mac_b" ] || dt_fail "no MAC for B"

drops_b() { # eth bearer drops + core drops on B (JSON stats)
  "$BIN/msgrctl" -s "$DT/b.sock" -j stats | "$PY" -c '
import json, sys
j = json.load(sys.stdin)
eth = [b for b in j["bearers"] if b["type"] == "eth"][0]
print(sum(eth["drops"].values()) + j["node"]["drops_total"] - j["node"]["drops"]["dup_seq"])'
}
before=$(drops_b)

dt_recv b eth/b "$N" 1
dt_recv c ser/c "$N" 1
dt_recv b ser/b "$N" 1
dt_send a app/ab eth/b "$N" 200
dt_send b app/bc ser/c "$N" 100
dt_send c app/cb ser/b "$N" 100
# Garbage while the senders run: start it once traffic flows on both media.
dt_until 30 "traffic on eth and serial" dt_json b stats "j['paths']['delivered'] > 300"
: >"$DT/inject.out"
ip netns exec "$(dt_ns A)" "$PY" "$HERE/eth_inject.py" "vab$tag" "$mac_b" "$INJ" "$tag" \
  >"$DT/inject.out" 2>"$DT/inject.err" &
INJPID=$!
echo "noise $NOISE" >"$DT/ser.ctl"
wait $INJPID || dt_fail "eth_inject.py: $(cat "$DT/inject.err")"
cat "$DT/inject.out"
dt_wait_line "$DT/bridge.out" "NOISE DONE" 60
echo "serial noise: $NOISE random bytes each way"
dt_wait_apps

for k in a b c d; do kill -0 "${DPID[$k]}" 2>/dev/null || dt_fail "msgrd $k died"; done
after=$(drops_b)
echo "B counted $((after - before)) garbage drops (eth bearer + core) for $INJ injected frames"
[ $((after - before)) -ge "$INJ" ] || dt_fail "B counted $((after - before)) drops for $INJ frames"
for k in b c; do
  dt_json $k stats "sum(b['drops']['crc'] + b['drops']['framing'] + b['drops']['too_short'] +
                        b['drops']['too_long'] for b in j['bearers'] if b['type']=='serial') > 0" ||
    dt_fail "no serial drops counted on $k: $(cat "$DT/q.$k.json")"
done
"$BIN/msgrctl" -s "$DT/b.sock" stats
dt_stop_all
echo "daemon_garbage_netns: ok"
