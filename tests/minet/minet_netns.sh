#!/usr/bin/env bash
# minet_netns.sh MODE MSGR_MINETD MNPING
#
# MINET end to end: msgr-minetd nodes in network namespaces, each with a TAP "minet0"
# at 10.77.0.N/24 and fd77::N/64 and MAC 02:4d:00:00:00:0N.  Every name carries our pid.
#
# MODE three     three namespaces, full mesh of veth pairs (eth bearers):
#                  - ping IPv4 + IPv6 between every pair of MINET addresses; ARP/ND
#                    entries resolve to the nodes' MINET MACs; the MINET table (SIGUSR1)
#                    maps each MAC to its node;
#                  - iperf3 -n 50M across MINET and across the plain veth (same pair, same
#                    run): both must exit 0; Gbit/s of both and the ratio are printed;
#                  - a 16 MiB random file over TCP across MINET arrives intact (sha256);
#                  - node 3 killed: pings to it fail; restarted: they succeed again.
# MODE parallel  two namespaces, two veth pairs (prio 10 and prio 5); iperf3 runs across
#                MINET and the active pair is cut when the first interval report appears:
#                iperf3 must complete (exit 0) and the log must show the link going down.
# MODE pcie      two namespaces, nodes joined only by the PCIe shim bearer (two processes
#                sharing a memfd window): ping + iperf3 -n 50M across MINET.
#
# Needs root (namespaces, TAP, AF_PACKET).  Without it: "SKIPPED: needs root", exit 77.
set -u
mode=$1 D=$2 PING=$3
if [ "$(id -u)" -ne 0 ]; then
  echo "*** SKIPPED: needs root (network namespaces, TAP devices, AF_PACKET) ***"
  exit 77
fi
for t in ip iperf3; do
  command -v $t >/dev/null || { echo "*** SKIPPED: $t not installed ***"; exit 77; }
done

tag=$$
dir=$(mktemp -d /tmp/minet-test.XXXXXX)
declare -A dpid=()     # node -> daemon pid
declare -a extra=()    # other pids we started (iperf3 servers)
declare -a nss=()

cleanup() {
  for n in "${!dpid[@]}"; do kill "${dpid[$n]}" 2>/dev/null; done
  for p in "${extra[@]}"; do kill "$p" 2>/dev/null; done
  for n in "${!dpid[@]}"; do wait "${dpid[$n]}" 2>/dev/null; done
  for ns in "${nss[@]}"; do ip netns del "$ns" 2>/dev/null; done
  if [ "${keep:-0}" = 1 ]; then echo "logs kept in $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  for f in "$dir"/node*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
  keep=1
  exit 1
}

ns() { echo "mn$1-$tag"; }
mkns() {
  local n; n=$(ns "$1")
  ip netns add "$n" || fail "netns add $n"
  nss+=("$n")
  ip -n "$n" link set lo up
  # No DAD on the TAP's IPv6 addresses: they are usable as soon as the daemon adds them.
  ip netns exec "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}
# veth A B IFA IFB: a pair between namespaces of nodes A and B
veth() {
  ip link add "$3" netns "$(ns "$1")" type veth peer name "$4" netns "$(ns "$2")" || fail "veth $3"
  ip -n "$(ns "$1")" link set "$3" up
  ip -n "$(ns "$2")" link set "$4" up
}

# start N BEARER... : msgr-minetd for node N; waits for its READY line (TAP up).
start() {
  local n=$1; shift
  local args=()
  for b in "$@"; do args+=(--bearer "$b"); done
  local fifo=$dir/ready$n.fifo
  rm -f "$fifo"; mkfifo "$fifo"
  ip netns exec "$(ns "$n")" "$D" --node-id "$n" "${args[@]}" --tap minet0 \
    --addr "10.77.0.$n/24" --addr "fd77::$n/64" --tolerance 300 \
    > >(tee -a "$dir/node$n.out" > "$fifo") 2>>"$dir/node$n.log" &
  dpid[$n]=$!
  local line="" rfd
  exec {rfd}<"$fifo"
  read -r -t 10 line <&"$rfd" || true
  cat <&"$rfd" >/dev/null &   # keep draining: the daemon prints table dumps later
  extra+=("$!")
  exec {rfd}<&-
  rm -f "$fifo"
  [[ $line == READY* ]] || fail "node $n did not start (got '$line')"
}
stop() { kill "${dpid[$1]}"; wait "${dpid[$1]}" 2>/dev/null; unset "dpid[$1]"; }
killnode() { kill -9 "${dpid[$1]}"; wait "${dpid[$1]}" 2>/dev/null; unset "dpid[$1]"; }

# reach FROM ADDR [deadline]: ping until one reply (links come up meanwhile)
reach() { ip netns exec "$(ns "$1")" "$PING" -q -c 1 -w "${3:-15}" -i 200 "$2"; }
# pings FROM ADDR: 3 replies in a row
pings() { ip netns exec "$(ns "$1")" "$PING" -q -c 3 -w 5 -i 100 "$2"; }
# unreachable FROM ADDR: no reply within 2 s
unreachable() { ! ip netns exec "$(ns "$1")" "$PING" -q -c 1 -w 2 -i 200 "$2"; }

# iperf FROM TO_NODE ADDR OUTFILE [iperf3 client args...]: one-off server on TO_NODE
iperf() {
  local from=$1 to=$2 addr=$3 out=$4; shift 4
  local port=$((5201 + RANDOM % 1000))
  ip netns exec "$(ns "$to")" iperf3 -s -1 -p $port > "$dir/iperf-server.log" 2>&1 &
  local sp=$!
  extra+=("$sp")
  # The server listens once its socket exists: wait for it by connecting (bounded).
  local ok=0
  for _ in $(seq 1 50); do
    ip netns exec "$(ns "$to")" ss -ltnH "sport = :$port" 2>/dev/null | grep -q . && { ok=1; break; }
    ip netns exec "$(ns "$to")" "$PING" -q -c 1 -w 1 -i 100 127.0.0.1 >/dev/null
  done
  [ $ok = 1 ] || fail "iperf3 server did not listen"
  # timeout: a stalled transfer fails the test instead of hanging it
  ip netns exec "$(ns "$from")" timeout 120 iperf3 -c "$addr" -p $port "$@" > "$out" 2>&1
  local rc=$?
  wait "$sp" 2>/dev/null
  return $rc
}
gbits() { # receiver line of an iperf3 output -> Gbit/s
  awk '/receiver/ { v=$(NF-2); u=$(NF-1);
        if (u ~ /^Mbits/) v/=1000; else if (u ~ /^Kbits/) v/=1e6; printf "%.2f", v }' "$1"
}

table_of() { # node: MINET table via SIGUSR1, printed on the daemon's stdout
  local before; before=$(wc -l < "$dir/node$1.out")
  kill -USR1 "${dpid[$1]}"
  # The dump ends with the "MINET port" line: wait for it (bounded).
  for _ in $(seq 1 50); do
    tail -n +"$((before + 1))" "$dir/node$1.out" | grep -q "^MINET port" && break
    ip netns exec "$(ns "$1")" "$PING" -q -c 1 -w 1 -i 100 127.0.0.1 >/dev/null
  done
  tail -n +"$((before + 1))" "$dir/node$1.out"
}

case $mode in
three)
  for n in 1 2 3; do mkns $n; done
  veth 1 2 "a12-$tag" "b21-$tag"
  veth 1 3 "a13-$tag" "b31-$tag"
  veth 2 3 "a23-$tag" "b32-$tag"
  # plain veth addresses for the comparison run
  ip -n "$(ns 1)" addr add 10.78.12.1/24 dev "a12-$tag"
  ip -n "$(ns 2)" addr add 10.78.12.2/24 dev "b21-$tag"
  start 1 "eth:ifname=a12-$tag" "eth:ifname=a13-$tag"
  start 2 "eth:ifname=b21-$tag" "eth:ifname=a23-$tag"
  start 3 "eth:ifname=b31-$tag" "eth:ifname=b32-$tag"

  reach 1 10.77.0.2 || fail "10.77.0.2 unreachable from 1"
  reach 1 10.77.0.3 || fail "10.77.0.3 unreachable from 1"
  reach 2 10.77.0.3 || fail "10.77.0.3 unreachable from 2"
  for a in 1 2 3; do
    for b in 1 2 3; do
      [ $a = $b ] && continue
      pings $a "10.77.0.$b" || fail "IPv4 ping $a -> $b"
      pings $a "fd77::$b" || fail "IPv6 ping $a -> $b"
      echo "ping $a -> $b: IPv4 ok, IPv6 ok"
    done
  done
  for a in 1 2 3; do
    for b in 1 2 3; do
      [ $a = $b ] && continue
      ip -n "$(ns $a)" neigh show dev minet0 | grep -q "^10.77.0.$b .*lladdr 02:4d:00:00:00:0$b" ||
        fail "ARP on node $a has no entry 10.77.0.$b -> 02:4d:00:00:00:0$b"
      ip -n "$(ns $a)" -6 neigh show dev minet0 | grep -q "^fd77::$b .*lladdr 02:4d:00:00:00:0$b" ||
        fail "ND on node $a has no entry fd77::$b -> 02:4d:00:00:00:0$b"
    done
  done
  echo "ARP and ND resolved over MINET on every node"
  t=$(table_of 1)
  echo "$t"
  echo "$t" | grep -q "02:4d:00:00:00:02  2 " || fail "node 1's MINET table lacks 02:4d:00:00:00:02 -> 2"
  echo "$t" | grep -q "02:4d:00:00:00:03  3 " || fail "node 1's MINET table lacks 02:4d:00:00:00:03 -> 3"

  iperf 1 2 10.77.0.2 "$dir/iperf-minet.txt" -n 50M || { cat "$dir/iperf-minet.txt"; fail "iperf3 across MINET"; }
  iperf 1 2 10.78.12.2 "$dir/iperf-veth.txt" -n 50M || { cat "$dir/iperf-veth.txt"; fail "iperf3 across the veth"; }
  iperf 1 2 10.77.0.2 "$dir/iperf-minet-t.txt" -t 5 || { cat "$dir/iperf-minet-t.txt"; fail "iperf3 -t 5 across MINET"; }
  iperf 1 2 10.78.12.2 "$dir/iperf-veth-t.txt" -t 5 || { cat "$dir/iperf-veth-t.txt"; fail "iperf3 -t 5 across the veth"; }
  m=$(gbits "$dir/iperf-minet.txt") v=$(gbits "$dir/iperf-veth.txt")
  mt=$(gbits "$dir/iperf-minet-t.txt") vt=$(gbits "$dir/iperf-veth-t.txt")
  echo "iperf3 -n 50M : MINET (eth bearer, veth) $m Gbit/s | plain veth $v Gbit/s | ratio $(awk "BEGIN{printf \"%.3f\", $m/$v}")"
  echo "iperf3 -t 5   : MINET (eth bearer, veth) $mt Gbit/s | plain veth $vt Gbit/s | ratio $(awk "BEGIN{printf \"%.3f\", $mt/$vt}")"

  if command -v socat >/dev/null && command -v sha256sum >/dev/null; then
    head -c 16777216 /dev/urandom > "$dir/blob"
    port=$((6201 + RANDOM % 1000))
    ip netns exec "$(ns 2)" socat -u "TCP6-LISTEN:$port,reuseaddr" "OPEN:$dir/blob.rx,creat,trunc" &
    sp=$!; extra+=("$sp")
    ok=0
    for _ in $(seq 1 50); do
      ip netns exec "$(ns 2)" ss -ltnH "sport = :$port" | grep -q . && { ok=1; break; }
      ip netns exec "$(ns 2)" "$PING" -q -c 1 -w 1 -i 100 127.0.0.1 >/dev/null
    done
    [ $ok = 1 ] || fail "socat did not listen"
    ip netns exec "$(ns 1)" socat -u "OPEN:$dir/blob" "TCP6:[fd77::2]:$port" || fail "socat send"
    wait "$sp"
    [ "$(sha256sum < "$dir/blob")" = "$(sha256sum < "$dir/blob.rx")" ] || fail "16 MiB file corrupted across MINET"
    echo "16 MiB file across MINET (IPv6 TCP): sha256 matches"
  else
    echo "socat/sha256sum missing: file integrity check skipped"
  fi

  killnode 3
  unreachable 1 10.77.0.3 || fail "node 3 killed but 10.77.0.3 still answers node 1"
  unreachable 2 fd77::3 || fail "node 3 killed but fd77::3 still answers node 2"
  echo "node 3 killed: pings to it fail"
  start 3 "eth:ifname=b31-$tag" "eth:ifname=b32-$tag"
  reach 1 10.77.0.3 || fail "node 3 restarted but unreachable from 1"
  for a in 1 2; do
    pings $a 10.77.0.3 || fail "IPv4 ping $a -> 3 after restart"
    pings $a fd77::3 || fail "IPv6 ping $a -> 3 after restart"
    pings 3 "10.77.0.$a" || fail "IPv4 ping 3 -> $a after restart"
  done
  echo "node 3 restarted: pings succeed again"
  ;;

parallel)
  mkns 1; mkns 2
  veth 1 2 "p1a-$tag" "p2a-$tag"
  veth 1 2 "p1b-$tag" "p2b-$tag"
  start 1 "eth:ifname=p1a-$tag,prio=10" "eth:ifname=p1b-$tag,prio=5"
  start 2 "eth:ifname=p2a-$tag,prio=10" "eth:ifname=p2b-$tag,prio=5"
  reach 1 10.77.0.2 || fail "10.77.0.2 unreachable"
  # Both links must be up before the cut, or there is nothing to fail over to.
  for _ in $(seq 1 50); do
    [ "$(grep -c 'link up: peer 2' "$dir/node1.log")" -ge 2 ] && break
    pings 1 10.77.0.2 >/dev/null
  done
  [ "$(grep -c 'link up: peer 2' "$dir/node1.log")" -ge 2 ] || fail "second link never came up"
  port=$((5201 + RANDOM % 1000))
  ip netns exec "$(ns 2)" iperf3 -s -1 -p $port > "$dir/iperf-server.log" 2>&1 &
  sp=$!; extra+=("$sp")
  for _ in $(seq 1 50); do
    ip netns exec "$(ns 2)" ss -ltnH "sport = :$port" | grep -q . && break
    ip netns exec "$(ns 2)" "$PING" -q -c 1 -w 1 -i 100 127.0.0.1 >/dev/null
  done
  cut=0 rc=none
  # Cut the prio-10 pair (the one carrying channel 1) at the first interval report.
  while IFS= read -r line; do
    echo "$line"
    [[ $line == "iperf3 exit "* ]] && rc=${line#iperf3 exit }
    if [ $cut = 0 ] && [[ $line == *"bits/sec"* ]]; then
      ip -n "$(ns 1)" link set "p1a-$tag" down
      ip -n "$(ns 2)" link set "p2a-$tag" down
      echo ">>> cut link p1a/p2a (prio 10) during the run"
      cut=1
    fi
  done < <(ip netns exec "$(ns 1)" timeout 150 iperf3 -c 10.77.0.2 -p $port -n 1G --forceflush 2>&1; echo "iperf3 exit $?")
  wait "$sp"
  [ $cut = 1 ] || fail "iperf3 never reported an interval"
  [ "$rc" = 0 ] || fail "iperf3 across MINET did not survive the cut (exit $rc)"
  grep -q "link down: peer 2 bearer 0" "$dir/node1.log" || fail "node 1 never saw the cut link go down"
  grep -E "link down|failover" "$dir/node1.log"
  echo "iperf3 completed across the cut: the TCP connection survived"
  ;;

pcie)
  mkns 1; mkns 2
  sock=$dir/pcie.sock
  start 1 "pcie:name=mnp$tag,role=host,sock=$sock,slot_size=65536,slots=64"
  start 2 "pcie:name=mnp$tag,role=iop,sock=$sock,slot_size=65536,slots=64"
  reach 1 10.77.0.2 || fail "10.77.0.2 unreachable over the PCIe shim"
  pings 2 fd77::1 || fail "IPv6 ping over the PCIe shim"
  iperf 1 2 10.77.0.2 "$dir/iperf-pcie.txt" -n 50M || { cat "$dir/iperf-pcie.txt"; fail "iperf3 across MINET over the PCIe shim"; }
  echo "iperf3 -n 50M : MINET over the PCIe shim $(gbits "$dir/iperf-pcie.txt") Gbit/s"
  ;;
*)
  echo "unknown mode $mode"; exit 2 ;;
esac
echo "PASS: minet $mode"
exit 0
