#!/usr/bin/env bash
# The demo: installs what is missing, builds, and shows Messenger doing its main job:
#   1. the wire codec encoding and decoding frames (msgr-codec);
#   2. a simulated cluster running the real protocol core (msgr-sim);
#   3. a real cluster of msgrd daemons on this machine, applications exchanging messages
#      between logical devices by name and by pattern, and msgrctl showing links, names,
#      paths and statistics:
#
#        [host: node 1] ==pcie shim== [IOP: node 2] ==serial (pty pair)== [node 3]
#               \\_____________________ udp 127.0.0.1 _______________________//
#               \\== eth (veth) == [node 4 in its own network namespace]     (root only)
#
# Everything it starts is stopped on exit, whatever happens (trap).  Under a minute once
# built.  No root needed (without root the Ethernet part is skipped, and said so).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$MSGR_ROOT"

msgr_install_missing
B=build/plain
msgr_log "building ($B)"
# Configure once; after that cmake --build re-configures by itself when a CMakeLists.txt
# changed, and only the demo's own programs are built (scripts/test.sh builds the rest).
[ -f "$B/CMakeCache.txt" ] || cmake -S "$MSGR_ROOT" -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$B" -j"$(nproc)" --target msgr-codec msgr-sim msgrd msgrctl msgr-send msgr-recv \
  msgr-dt >/dev/null

codec=$B/proto/msgr-codec
sim=$B/stack/sim/msgr-sim
BIN=$B/bin
PY=/usr/bin/python3

msgr_log "1. the wire codec: a few frames, encoded and decoded"
"$codec" encode-demo | head -n 20

msgr_log "2. a 4-node simulated cluster, 10% loss, 5% duplication, one link cut"
"$sim" --nodes 4 --seed 7 --scenario demo | tail -n 12

# ---- 3. the real cluster -------------------------------------------------------------------
T=$(mktemp -d /tmp/msgr-demo.XXXXXX)
PIDS=()
NS=""
stop_all() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
  rm -rf "$T"
}
trap stop_all EXIT
trap 'exit 1' INT TERM
# until_ok SECONDS WHAT CMD...: poll a condition with a deadline (never a fixed sleep).
until_ok() {
  local end=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $end ] && { echo "demo: timed out waiting for $what" >&2; exit 1; }
    sleep 0.05
  done
}
ctl() { local n=$1; shift; echo "\$ msgrctl -s node$n.sock $*"; "$BIN/msgrctl" -s "$T/$n.sock" "$@"; }
q() { "$BIN/msgrctl" -s "$T/$1.sock" -j $2 | "$PY" -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($3) else 1)"; }
msgrd() { # N [ns] BEARER...: start node N, wait until it is ready
  local n=$1; shift
  local pre=()
  if [ "${1:-}" = ns ]; then pre=(ip netns exec "$NS"); shift; fi
  local args=() b
  for b in "$@"; do args+=(--bearer "$b"); done
  "${pre[@]}" "$BIN/msgrd" --node-id "$n" --foreground --socket "$T/$n.sock" --tolerance 1000 \
    --log-level warn "${args[@]}" >"$T/$n.out" 2>"$T/$n.err" &
  PIDS+=($!)
  until_ok 20 "node $n" grep -q READY "$T/$n.out"
}

msgr_log "3. a real cluster: msgrd nodes joined by the PCIe shim, a serial line and UDP"
"$PY" tests/daemon/pty_bridge.py "$T/ttyA" "$T/ttyB" "$T/tty.ctl" >"$T/bridge.out" 2>&1 &
PIDS+=($!)
until_ok 10 "serial line" grep -q READY "$T/bridge.out"
echo "serial line: $T/ttyA <-> $T/ttyB (a pty pair joined like a null-modem cable)"
# Node 3 binds a port the kernel chooses; node 1 is told it and node 3 learns node 1 back.
msgrd 3 "serial:path=$T/ttyB" "udp:bind=127.0.0.1:0,group=none"
port3=$("$BIN/msgrctl" -s "$T/3.sock" -j bearer | "$PY" -c \
  'import json,sys; print([b for b in json.load(sys.stdin) if b["type"]=="udp"][0]["local"].rsplit(":",1)[1])')
msgrd 1 "pcie:name=demo$$,role=host,sock=$T/pcie.sock" "udp:bind=127.0.0.1:0,group=none,peer=127.0.0.1:$port3"
msgrd 2 "pcie:name=demo$$,role=iop,sock=$T/pcie.sock" "serial:path=$T/ttyA"
nodes="1 2 3"
if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null; then
  NS=msgr-demo-$$
  ip netns add "$NS"
  ip -n "$NS" link set lo up
  ip link add "dm1-$$" type veth peer name "dm4-$$" netns "$NS"
  ip link set "dm1-$$" up
  ip -n "$NS" link set "dm4-$$" up
  msgrd 4 ns "eth:ifname=dm4-$$"
  # A bearer added to a running node, as an operator would.
  ctl 1 bearer add "eth:ifname=dm1-$$"
  nodes="1 2 3 4"
else
  echo "(not root: the raw Ethernet part between network namespaces is skipped)"
fi
until_ok 20 "links of node 1" q 1 link "len([l for l in j if l['state']=='ESTABLISHED']) == $([ -n "$NS" ] && echo 3 || echo 2)"
until_ok 20 "links of node 2" q 2 link "len([l for l in j if l['state']=='ESTABLISHED']) == 2"
ctl 1 bearer
ctl 1 link
ctl 2 link

msgr_log "applications: logical devices by name, one-to-one, many-to-one and one-to-many"
N=2000
# A logger on node 3 receives from node 1 (over udp) and node 2 (over the serial line).
"$BIN/msgr-recv" -s "$T/3.sock" -n svc/logger -c $((2 * N)) -t 30 >"$T/logger.out" 2>&1 &
LOGGER=$!
PIDS+=($LOGGER)
until_ok 10 "svc/logger" grep -q READY "$T/logger.out"
# A member of group demo/disk* on every node but node 1; node 1 writes to all at once.
members=0
for n in $nodes; do
  [ "$n" = 1 ] && continue
  "$BIN/msgr-recv" -s "$T/$n.sock" -n "demo/disk$n" -c $N -t 30 >"$T/disk$n.out" 2>&1 &
  PIDS+=($!)
  until_ok 10 "demo/disk$n" grep -q READY "$T/disk$n.out"
  members=$((members + 1))
done
# A long-lived path from the IOP to the host, to look at with msgrctl.
"$BIN/msgr-dt" hold -s "$T/1.sock" -n svc/console >"$T/hold1.out" 2>&1 &
PIDS+=($!)
until_ok 10 "svc/console" grep -q READY "$T/hold1.out"
"$BIN/msgr-dt" hold -s "$T/2.sock" -n iop/agent -o svc/console -t 20 >"$T/hold2.out" 2>&1 &
PIDS+=($!)
until_ok 20 "path iop/agent -> svc/console" grep -q READY "$T/hold2.out"
ctl 1 name
ctl 1 path

echo "\$ msgr-send (node 1) -> svc/logger; msgr-send (node 2) -> svc/logger; msgr-send (node 1) -> pattern demo/disk*"
"$BIN/msgr-send" -s "$T/1.sock" -d app/writer1 -o svc/logger -c $N -z 256 -t 30 >"$T/s1.out" 2>&1 &
S1=$!
"$BIN/msgr-send" -s "$T/2.sock" -d app/writer2 -o svc/logger -c $N -z 256 -t 30 >"$T/s2.out" 2>&1 &
S2=$!
"$BIN/msgr-send" -s "$T/1.sock" -d app/fanout -o 'demo/disk*' -p -m $members -c $N -z 512 -t 30 \
  >"$T/s3.out" 2>&1 &
S3=$!
ok=1
for p in $S1 $S2 $S3; do wait $p || ok=0; done
wait $LOGGER || ok=0
for f in "$T"/s?.out "$T"/logger.out "$T"/disk*.out; do echo "  $(basename "$f" .out): $(tail -n 1 "$f")"; done
for n in $nodes; do [ "$n" = 1 ] || grep -q "^OK" "$T/disk$n.out" || ok=0; done
[ $ok = 1 ] || { echo "demo: an application failed" >&2; exit 1; }

msgr_log "msgrctl: statistics"
ctl 1 stats
ctl 3 -j node

msgr_log "stopping every process (SIGTERM: daemons close bearers and remove their sockets)"
stop_all
trap - EXIT
msgr_log "done"
