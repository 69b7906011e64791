#!/usr/bin/env bash
# Root test: msgrd drops root (stack/daemon/priv.c) and still carries traffic.
#
#        netns dtA-<pid>                               netns dtB-<pid>
#   [msgrd 1, --user nobody]==eth (veth pa/pb)==[msgrd 2, --user nobody --keep-caps net_raw]
#                         \\==udp over the same veth (NET.1 <-> NET.2)==//
#   spare veths xa<pid> (in A) and xb<pid> (in B), up, for `msgrctl bearer add` after the drop
#
# Checks, each of which fails if the drop is missing or partial:
#  - /proc/PID/status of both daemons: real/effective/saved/fs uid and gid = nobody's,
#    CapEff/CapPrm/CapBnd = 0 for node 1 and exactly CAP_NET_RAW (bit 13) for node 2,
#    CapInh = CapAmb = 0, NoNewPrivs = 1;
#  - 1000 x 1000-octet messages go through with only eth enabled, then again with only
#    udp enabled (bearers toggled with msgrctl, as root), checked by the receiving
#    msgr-dt (content, count, order) and by each bearer's tx_bytes growing by the payload;
#  - a run-time `bearer add eth:` is refused on node 1 (no CAP_NET_RAW) and accepted on
#    node 2 (kept on purpose);
#  - SIGTERM: exit 0, and the socket (in a directory the dropped daemon may write) removed.
set -uo pipefail
BIN=$1
PY=${2:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/netns_lib.sh"
dt_need_root
id nobody >/dev/null 2>&1 || { echo "*** SKIPPED: no user nobody ***"; exit 77; }
NUID=$(id -u nobody)
NGID=$(id -g nobody)
N=1000
Z=1000
# The dropped daemon removes its socket at exit: it needs write access to the directory.
chown "$NUID:$NGID" "$DT"
chmod 0755 "$DT"

# pv_msgrd KEY NODEID NSKEY EXTRA-ARGS... (bearers given as --bearer in EXTRA-ARGS)
pv_msgrd() {
  local key=$1 id=$2 nsk=$3; shift 3
  : >"$DT/$key.out"
  ip netns exec "$(dt_ns "$nsk")" "$BIN/msgrd" --node-id "$id" --foreground \
    --socket "$DT/$key.sock" --tolerance "$TOL" --log-level "${DT_LOG:-info}" "$@" \
    >>"$DT/$key.out" 2>>"$DT/$key.err" &
  DPID[$key]=$!
  dt_wait_line "$DT/$key.out" "READY node=$id" 60
}
# pv_status KEY FIELD: one line of /proc/PID/status of node KEY, fields tab-joined.
pv_status() { sed -n "s/^$2:[[:space:]]*//p" "/proc/${DPID[$1]}/status" | tr -s ' \t' ' ' | sed 's/ $//'; }
pv_expect() {
  local got; got=$(pv_status "$1" "$2")
  [ "$got" = "$3" ] || dt_fail "node $1 $2: got '$got', want '$3'"
}
# pv_bytes KEY TYPE: tx_bytes of node KEY's bearer of TYPE.
pv_bytes() {
  "$BIN/msgrctl" -s "$DT/$1.sock" -j bearer |
    "$PY" -c "import json,sys; print(sum(b['tx_bytes'] for b in json.load(sys.stdin) if b['type']=='$2'))"
}
pv_bid() {
  "$BIN/msgrctl" -s "$DT/$1.sock" -j bearer |
    "$PY" -c "import json,sys; print([b['id'] for b in json.load(sys.stdin) if b['type']=='$2'][0])"
}

dt_mkns A; dt_mkns B
dt_veth A B "pa$tag" "pb$tag" "$NET.1" "$NET.2"
dt_veth A B "xa$tag" "xb$tag"
pv_msgrd a 1 A --user nobody --bearer "eth:ifname=pa$tag" \
  --bearer "udp:bind=$NET.1:$PORT,group=none,peer=$NET.2:$PORT"
pv_msgrd b 2 B --user nobody --keep-caps net_raw --bearer "eth:ifname=pb$tag" \
  --bearer "udp:bind=$NET.2:$PORT,group=none,peer=$NET.1:$PORT"

for k in a b; do
  pv_expect $k Uid "$NUID $NUID $NUID $NUID"
  pv_expect $k Gid "$NGID $NGID $NGID $NGID"
  pv_expect $k CapInh 0000000000000000
  pv_expect $k CapAmb 0000000000000000
  pv_expect $k NoNewPrivs 1
done
for f in CapEff CapPrm CapBnd; do
  pv_expect a $f 0000000000000000
  pv_expect b $f 0000000000002000 # CAP_NET_RAW = 13
done
echo "both daemons run as nobody: node 1 with no capability, node 2 with CAP_NET_RAW only"

dt_until 30 "two links 1-2" dt_json a link \
  "len([l for l in j if l['peer']==2 and l['state']=='ESTABLISHED']) == 2"
dt_until 30 "two links 2-1" dt_json b link \
  "len([l for l in j if l['peer']==1 and l['state']=='ESTABLISHED']) == 2"

# pv_only TYPE: leave only the bearers of TYPE enabled on both nodes, send N messages
# A -> B and require TYPE's tx_bytes on A to grow by at least the payload.
pv_only() {
  local want=$1 other k
  other=$([ "$want" = eth ] && echo udp || echo eth)
  for k in a b; do
    "$BIN/msgrctl" -s "$DT/$k.sock" bearer enable "$(pv_bid $k "$want")" >/dev/null ||
      dt_fail "enable $want on $k"
    "$BIN/msgrctl" -s "$DT/$k.sock" bearer disable "$(pv_bid $k "$other")" >/dev/null ||
      dt_fail "disable $other on $k"
  done
  dt_until 30 "link over $want" dt_json a link \
    "any(l['peer']==2 and l['state']=='ESTABLISHED' and l['bearer']==$(pv_bid a "$want") for l in j)"
  local before; before=$(pv_bytes a "$want")
  dt_recv b "svc/rx-$want" "$N" 1
  dt_until 30 "name svc/rx-$want on A" dt_json a name "'svc/rx-$want' in {n['name'] for n in j}"
  dt_send a "app/tx-$want" "svc/rx-$want" "$N" "$Z"
  dt_wait_apps
  local after; after=$(pv_bytes a "$want")
  [ $((after - before)) -ge $((N * Z)) ] ||
    dt_fail "$want carried $((after - before)) octets, want >= $((N * Z))"
  echo "  $want: $N x $Z octets delivered after the drop ($((after - before)) octets sent)"
}
pv_only eth
pv_only udp

out=$("$BIN/msgrctl" -s "$DT/a.sock" bearer add "eth:ifname=xa$tag" 2>&1) &&
  dt_fail "node 1 (no CAP_NET_RAW) opened a raw socket: $out"
echo "  node 1 bearer add eth refused: $out"
out=$("$BIN/msgrctl" -s "$DT/b.sock" bearer add "eth:ifname=xb$tag" 2>&1) ||
  dt_fail "node 2 (CAP_NET_RAW kept) could not add an eth bearer: $out"
echo "  node 2 bearer add eth: $out"

dt_stop_all
echo "daemon_priv_netns: ok"
