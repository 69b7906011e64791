#!/usr/bin/env bash
# live_capture.sh MODE BIN PY PLUGIN ABI [MINETD MNPING]
#
# A live capture from the running cluster, decoded by tshark with the freshly built
# plugin (tests/dissector/check_live.py does the decoding and the checks).
#
# MODE udp     two msgrd on loopback over UDP (msgr-send/msgr-recv traffic: small
#              messages and 5000-byte ones, so DATA, BUNDLE and FRAGMENT frames, names
#              and two paths opened, used and closed or aborted).  Captured twice: by dumpcap on lo (root
#              only; the wire view) and by node 2's own capture (`msgrctl capture`,
#              LINKTYPE_IPV4).  The link counters of both nodes (msgrctl -j link) are
#              saved once nothing is in flight, for the sequence-analysis cross-check.
# MODE netns   root: two namespaces joined by a veth (eth bearer) and a pty pair (serial
#              bearer), plus a PCIe-shim node; dumpcap on the veth, msgrd's capture for
#              serial and PCIe (LINKTYPE_USER0).  Then two msgr-minetd nodes on another
#              veth, an ICMP ping (mnping) and a 64 KiB TCP transfer across MINET,
#              dumpcap on that veth.
#
# Synchronisation is never a sleep: READY lines, "Capturing on" from dumpcap,
# msgrctl -j polled with bounded deadlines, process exits, and a marker datagram that
# must appear in dumpcap's file before dumpcap is stopped.
set -euo pipefail
MODE=$1 BIN=$2 PY=$3 PLUGIN=$4 ABI=$5 MINETD=${6:-} MNPING=${7:-}
HERE=$(cd "$(dirname "$0")" && pwd)
DAEMON_TESTS=$HERE/../daemon
T=$(mktemp -d /tmp/msgr-live.XXXXXX)
chmod 755 "$T"
PIDS=()
NSS=()
KEEP=0
tag=$$
cleanup() {
  local p n
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  if [ $KEEP = 1 ]; then echo "files kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
  echo "FAIL: $*"
  local f
  for f in "$T"/*.err "$T"/*.out; do [ -s "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done
  KEEP=1
  exit 1
}
skip() { echo "*** SKIPPED: $* ***"; exit 77; }
# until_ok SECONDS WHAT CMD...: poll CMD every 50 ms until it succeeds (bounded).
until_ok() {
  local secs=$1 what=$2 i=0; shift 2
  until "$@" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt $((secs * 20)) ] && fail "timeout ($secs s): $what"
    sleep 0.05
  done
}
has_line() { grep -q -- "$2" "$1"; }
# q SOCK WHAT PYEXPR: msgrctl -j WHAT on SOCK, true if PYEXPR holds (j = the JSON).
q() {
  "$BIN/msgrctl" -s "$1" -j $2 >"$T/q.json" 2>/dev/null || return 1
  "$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($3) else 1)" "$T/q.json"
}
# dumpcap_start NAME IFACE FILTER [NETNS]: capture to $T/NAME.pcap; waits until capturing.
declare -A DC=()
dumpcap_start() {
  local pre=()
  [ -n "${4:-}" ] && pre=(ip netns exec "$4")
  "${pre[@]}" dumpcap -q -P -i "$2" -f "$3" -w "$T/$1.pcap" >"$T/dumpcap-$1.out" 2>"$T/dumpcap-$1.err" &
  DC[$1]=$!
  PIDS+=($!)
  until_ok 30 "dumpcap $1 capturing" has_line "$T/dumpcap-$1.err" "Capturing on"
}
# dumpcap_stop NAME MARKER: MARKER (a string inside a datagram the caller has sent)
# must be in the file, which means every frame before it is too; then stop dumpcap.
dumpcap_stop() {
  until_ok 30 "marker in $1.pcap" grep -aq -- "$2" "$T/$1.pcap"
  kill -INT "${DC[$1]}"
  wait "${DC[$1]}" || fail "dumpcap $1 exit status"
  chmod 644 "$T/$1.pcap"
}
# msgrd_start KEY NODEID NETNS|"" BEARER...
msgrd_start() {
  local key=$1 id=$2 ns=$3; shift 3
  local pre=() args=() b
  [ -n "$ns" ] && pre=(ip netns exec "$ns")
  for b in "$@"; do args+=(--bearer "$b"); done
  "${pre[@]}" "$BIN/msgrd" --node-id "$id" --foreground --socket "$T/$key.sock" \
    "${args[@]}" >"$T/$key.out" 2>"$T/$key.err" &
  PIDS+=($!)
  until_ok 30 "msgrd $key ready" has_line "$T/$key.out" "READY node=$id"
}
# The link counters are read when nothing is in flight, before the captures stop
# (link*.json), and again after they stopped (link*.after.json): a late retransmission
# between the two widens the range the check accepts instead of making it flaky.
links_after() {
  "$BIN/msgrctl" -s "$T/a.sock" -j link >"$T/link1.after.json"
  "$BIN/msgrctl" -s "$T/b.sock" -j link >"$T/link2.after.json"
}
link_up() { q "$T/$1.sock" link "any(l['peer']==$2 and l['state']=='ESTABLISHED' for l in j)"; }
idle() { q "$T/$1.sock" link "all(l['inflight']==0 for l in j)"; }
check() { "$PY" "$HERE/check_live.py" --plugin "$PLUGIN" --abi "$ABI" "$@" || fail "check_live.py $*"; }

# MSGR_LIVE_SAVE=DIR: keep the dumpcap captures there (minus the marker datagram) as
# the committed live examples (target dissector-live-examples), with less traffic.
SAVE=${MSGR_LIVE_SAVE:-}
NBIG=100 NSMALL=500
[ -n "$SAVE" ] && NBIG=3 NSMALL=20
save() {
  [ -n "$SAVE" ] && [ -f "$T/$1" ] || return 0
  "$PY" - "$T/$1" "$SAVE/$2" "MSGR-LIVE-MARKER-$tag" <<'PYEOF'
import struct, sys
src, dst, marker = sys.argv[1], sys.argv[2], sys.argv[3].encode()
d = open(src, "rb").read()
out, off, n = [d[:24]], 24, 0
e = "<" if d[:4] == b"\xd4\xc3\xb2\xa1" else ">"
while off + 16 <= len(d):
    incl = struct.unpack(e + "I", d[off + 8:off + 12])[0]
    rec = d[off:off + 16 + incl]
    if marker not in rec:
        out.append(rec)
        n += 1
    off += 16 + incl
open(dst, "wb").write(b"".join(out))
print("saved %s (%d frames)" % (dst, n))
PYEOF
}

HAVE_DUMPCAP=0
command -v dumpcap >/dev/null && HAVE_DUMPCAP=1

case $MODE in
udp)
  ROOT=0; [ "$(id -u)" -eq 0 ] && [ $HAVE_DUMPCAP = 1 ] && ROOT=1
  msgrd_start b 2 "" "udp:bind=127.0.0.1:0,group=none"
  "$BIN/msgrctl" -s "$T/b.sock" capture start "$T/node2.pcap" >/dev/null
  PB=$("$BIN/msgrctl" -s "$T/b.sock" -j bearer | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["local"].rsplit(":",1)[1])')
  MK=$((20000 + tag % 20000))
  [ "$MK" = "$PB" ] && MK=$((MK + 1))
  if [ $ROOT = 1 ]; then
    dumpcap_start wire lo "udp port $PB or udp port $MK"
  else
    echo "*** not root or no dumpcap: no capture on lo; checking msgrd's own capture only ***"
  fi
  msgrd_start a 1 "" "udp:bind=127.0.0.1:0,group=none,peer=127.0.0.1:$PB"
  until_ok 30 "link 1-2 up" link_up a 2
  until_ok 30 "link 2-1 up" link_up b 1
  "$BIN/msgr-recv" -s "$T/b.sock" -n svc/big -c $NBIG -t 30 >"$T/rb.out" 2>"$T/rb.err" & RB=$!
  "$BIN/msgr-recv" -s "$T/b.sock" -n svc/small -c $NSMALL -t 30 >"$T/rs.out" 2>"$T/rs.err" & RS=$!
  until_ok 30 "receiver big" has_line "$T/rb.out" READY
  until_ok 30 "receiver small" has_line "$T/rs.out" READY
  "$BIN/msgr-send" -s "$T/a.sock" -d app/big -o svc/big -c $NBIG -z 5000 -t 30 >"$T/sb.out" 2>"$T/sb.err" & SB=$!
  "$BIN/msgr-send" -s "$T/a.sock" -d app/small -o svc/small -c $NSMALL -z 64 -t 30 >"$T/ss.out" 2>"$T/ss.err" & SS=$!
  for p in $SB $SS $RB $RS; do wait $p || fail "sender/receiver $p"; done
  # Names withdrawn and paths closed on both sides, nothing in flight: the session is over.
  until_ok 30 "paths gone on node 1" q "$T/a.sock" path 'len(j) == 0'
  until_ok 30 "paths gone on node 2" q "$T/b.sock" path 'len(j) == 0'
  until_ok 30 "node 1 idle" idle a
  until_ok 30 "node 2 idle" idle b
  "$BIN/msgrctl" -s "$T/a.sock" -j link >"$T/link1.json"
  "$BIN/msgrctl" -s "$T/b.sock" -j link >"$T/link2.json"
  "$BIN/msgrctl" -s "$T/b.sock" capture stop >/dev/null
  chmod 644 "$T/node2.pcap"
  args=(--node "$T/node2.pcap" --node-port "$PB")
  if [ $ROOT = 1 ]; then
    echo "MSGR-LIVE-MARKER-$tag" >"/dev/udp/127.0.0.1/$MK"
    dumpcap_stop wire "MSGR-LIVE-MARKER-$tag"
    args+=(--wire "$T/wire.pcap" --marker-port "$MK")
  fi
  links_after
  check udp "${args[@]}" --link1 "$T/link1.json" --link2 "$T/link2.json" --big $NBIG --big-size 5000 --small $NSMALL
  save wire.pcap messenger-live-udp.pcap
  ;;
netns)
  [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, veth, AF_PACKET, TAP)"
  [ $HAVE_DUMPCAP = 1 ] || skip "dumpcap (wireshark) not installed"
  command -v ip >/dev/null || skip "ip (iproute2) not installed"
  mkns() { ip netns add "$1-$tag" || fail "netns add $1-$tag"; NSS+=("$1-$tag"); ip -n "$1-$tag" link set lo up; }
  # veth NSA NSB IFA IFB ADDRA ADDRB
  veth() {
    ip link add "$3" netns "$1-$tag" type veth peer name "$4" netns "$2-$tag" || fail "veth $3"
    ip -n "$1-$tag" addr add "$5/24" dev "$3"; ip -n "$2-$tag" addr add "$6/24" dev "$4"
    ip -n "$1-$tag" link set "$3" up; ip -n "$2-$tag" link set "$4" up
  }
  NET=10.$((100 + tag % 100)).$((tag / 100 % 250))
  MK=$((20000 + tag % 20000))
  mkns lvA; mkns lvB; mkns lvC; mkns lvD
  # Messenger cluster: node 1 (lvA) ==eth veth== node 2 (lvB), and a serial line 1-2;
  # node 3 (lvA) on the PCIe shim with node 1.
  veth lvA lvB "lva$tag" "lvb$tag" "$NET.1" "$NET.2"
  "$PY" "$DAEMON_TESTS/pty_bridge.py" "$T/ser1" "$T/ser2" "$T/ser.ctl" >"$T/bridge.out" 2>"$T/bridge.err" &
  PIDS+=($!)
  until_ok 30 "pty bridge" has_line "$T/bridge.out" READY
  dumpcap_start veth "lva$tag" "ether proto 0x88b5 or udp port $MK" "lvA-$tag"
  msgrd_start b 2 "lvB-$tag" "eth:ifname=lvb$tag" "serial:path=$T/ser2,reopen_ms=100"
  "$BIN/msgrctl" -s "$T/b.sock" capture start "$T/node2.pcap" >/dev/null
  msgrd_start a 1 "lvA-$tag" "eth:ifname=lva$tag" "serial:path=$T/ser1,reopen_ms=100" \
    "pcie:name=lv$tag,role=host,sock=$T/pcie.sock"
  "$BIN/msgrctl" -s "$T/a.sock" capture start "$T/node1.pcap" >/dev/null
  msgrd_start c 3 "lvA-$tag" "pcie:name=lv$tag,role=iop,sock=$T/pcie.sock"
  until_ok 30 "links of node 1" q "$T/a.sock" link \
    "sum(l['state']=='ESTABLISHED' and l['peer']==2 for l in j) == 2 and any(l['state']=='ESTABLISHED' and l['peer']==3 for l in j)"
  until_ok 30 "links of node 2" q "$T/b.sock" link "sum(l['state']=='ESTABLISHED' and l['peer']==1 for l in j) == 2"
  "$BIN/msgr-recv" -s "$T/b.sock" -n svc/b -c 60 -t 30 >"$T/rb.out" 2>"$T/rb.err" & RB=$!
  "$BIN/msgr-recv" -s "$T/a.sock" -n svc/a -c 100 -t 30 >"$T/ra.out" 2>"$T/ra.err" & RA=$!
  until_ok 30 "receiver on node 2" has_line "$T/rb.out" READY
  until_ok 30 "receiver on node 1" has_line "$T/ra.out" READY
  "$BIN/msgr-send" -s "$T/a.sock" -d app/a -o svc/b -c 60 -z 3000 -t 30 >"$T/sa.out" 2>"$T/sa.err" & SA=$!
  # 1000-byte messages on the PCIe shim: larger ones are lost there (the IOP side reports
  # MTU 65535, so the core does not fragment and the shim refuses the frames; reported).
  "$BIN/msgr-send" -s "$T/c.sock" -d app/c -o svc/a -c 100 -z 1000 -t 30 >"$T/sc.out" 2>"$T/sc.err" & SC=$!
  for p in $SA $SC $RA $RB; do wait $p || fail "sender/receiver $p"; done
  for k in a b c; do until_ok 30 "paths gone on $k" q "$T/$k.sock" path 'len(j) == 0'; done
  until_ok 30 "node 1 idle" idle a
  until_ok 30 "node 2 idle" idle b
  "$BIN/msgrctl" -s "$T/a.sock" -j link >"$T/link1.json"
  "$BIN/msgrctl" -s "$T/b.sock" -j link >"$T/link2.json"
  "$BIN/msgrctl" -s "$T/a.sock" capture stop >/dev/null
  "$BIN/msgrctl" -s "$T/b.sock" capture stop >/dev/null
  ip netns exec "lvB-$tag" bash -c "echo MSGR-LIVE-MARKER-$tag >/dev/udp/$NET.1/$MK"
  dumpcap_stop veth "MSGR-LIVE-MARKER-$tag"
  links_after
  chmod 644 "$T"/node*.pcap*
  ls "$T"/node*.pcap*
  MAC1=$(ip -n "lvA-$tag" -o link show "lva$tag" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
  args=(--veth "$T/veth.pcap" --marker-port "$MK" --mac1 "$MAC1" --link1 "$T/link1.json" --link2 "$T/link2.json")
  for f in "$T"/node*.pcap*; do
    case $(od -An -tu4 -j20 -N4 "$f" | tr -d ' ') in
      1) args+=(--eth "$f") ;;
      147) args+=(--user0 "$f") ;;
      *) fail "$f: unexpected link type" ;;
    esac
  done

  # MINET: two msgr-minetd on another veth pair; ICMP echo across MINET.
  if [ -n "$MINETD" ] && [ -x "$MINETD" ] && [ -e /dev/net/tun ]; then
    veth lvC lvD "lvc$tag" "lvd$tag" "$NET.5" "$NET.6"
    dumpcap_start minet "lvc$tag" "ether proto 0x88b5 or udp port $MK" "lvC-$tag"
    for n in 5 6; do
      ns=lvC-$tag; [ $n = 6 ] && ns=lvD-$tag
      ifn=lvc$tag; [ $n = 6 ] && ifn=lvd$tag
      ip netns exec "$ns" "$MINETD" --node-id $n --bearer "eth:ifname=$ifn" --tap minet0 \
        --addr "10.77.0.$n/24" --tolerance 300 >"$T/minet$n.out" 2>"$T/minet$n.err" &
      PIDS+=($!)
      until_ok 30 "msgr-minetd $n ready" has_line "$T/minet$n.out" READY
    done
    # Until one reply (the link comes up meanwhile), then three in a row.
    ip netns exec "lvC-$tag" "$MNPING" -q -c 1 -w 20 -i 200 10.77.0.6 >"$T/ping1.out" 2>&1 || fail "no ping reply across MINET"
    ip netns exec "lvC-$tag" "$MNPING" -q -c 3 -w 10 -i 50 10.77.0.6 >"$T/ping2.out" 2>&1 || fail "pings across MINET"
    # A TCP connection across MINET: 64 KiB from node 5's namespace to node 6's.
    ip netns exec "lvD-$tag" "$PY" -c '
import socket, sys
s = socket.socket(); s.bind(("10.77.0.6", 5999)); s.listen(1)
print("READY", flush=True)
c, _ = s.accept(); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    n += len(b)
print("GOT", n, flush=True)' >"$T/tcpsrv.out" 2>"$T/tcpsrv.err" &
    TS=$!; PIDS+=($TS)
    until_ok 30 "tcp server" has_line "$T/tcpsrv.out" READY
    ip netns exec "lvC-$tag" "$PY" -c '
import socket
c = socket.create_connection(("10.77.0.6", 5999), timeout=20)
c.sendall(bytes(range(256)) * 256); c.close()' || fail "TCP connection across MINET"
    wait $TS || fail "TCP server"
    grep -q "GOT 65536" "$T/tcpsrv.out" || fail "TCP across MINET: $(cat "$T/tcpsrv.out")"
    ip netns exec "lvD-$tag" bash -c "echo MSGR-LIVE-MARKER-$tag >/dev/udp/$NET.5/$MK"
    dumpcap_stop minet "MSGR-LIVE-MARKER-$tag"
    args+=(--minet "$T/minet.pcap" --tcp 65536)
    save minet.pcap messenger-live-minet.pcap
  else
    echo "*** msgr-minetd, mnping or /dev/net/tun missing: MINET part skipped ***"
  fi
  check netns "${args[@]}"
  ;;
*)
  echo "unknown mode $MODE"; exit 2 ;;
esac
echo "PASS: live capture ($MODE)"
