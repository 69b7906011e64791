#!/usr/bin/env bash
# minet_netns.sh MODE MSGRD MSGRCTL MNPING
#
# MINET end to end with MINET inside msgrd: one msgrd per network namespace, each with the
# TAP "minet0" at 10.77.0.N/24 and fd77::N/64, MAC 02:4d:00:00:00:0N (derived from the
# node id), on the node's own identity.  Every name carries our pid.
#
# MODE three     three namespaces, full mesh of veth pairs (eth bearers):
#
#                      m7n1 (node 1) ---a12/b21--- m7n2 (node 2)
#                           \                        /
#                          a13/b31              a23/b32
#                              \                  /
#                               m7n3 (node 3, configured by a [minet] file section)
#                  (node 2 runs as "nobody" after start-up when msgrd has --user)
#
#                  - a bad [minet] value stops msgrd at start-up (exit 2, file:line);
#                  - IPv4 + IPv6 ping between every pair of MINET addresses; ARP/ND
#                    entries resolve to the nodes' MINET MACs;
#                  - `msgrctl -j minet` on every node maps each peer's MAC to its node and
#                    lists both peers up; `msgrctl -j minet stats` counts traffic, floods
#                    (ARP broadcasts) and no drops; the text forms name the same;
#                  - iperf3 -n 50M / -t 5 across MINET and across the plain veth of the
#                    same pair in the same run (both must exit 0; Gbit/s and ratio printed);
#                  - 16 MiB random file over TCP across MINET: sha256 intact;
#                  - node 3 killed: pings to it fail and nodes 1 and 2 purge its MAC;
#                    restarted (same command, no other step): pings succeed again.
# MODE parallel  two namespaces, two veth pairs (prio 10 and prio 5), both links up
#                (msgrctl link); iperf3 across MINET and the prio-10 pair is cut at the
#                first interval report: iperf3 completes (exit 0).  The pair comes back,
#                and a 64 MiB file crosses MINET while the pair is cut again: sha256 intact;
#                node 1's failover counter (msgrctl stats) rose at each cut.
# MODE pcie      two namespaces, nodes joined only by the PCIe shim bearer (two processes
#                sharing a memfd window) plus a plain veth for comparison: ping, msgrctl
#                minet, a second msgrd refused the busy TAP (exit 1), iperf3 -n 50M across
#                MINET and across the veth in the same run, 16 MiB files intact both ways.
# Every mode ends with a clean SIGTERM stop (exit 0) and no sanitizer report in the logs.
#
# Needs root (namespaces, TAP, AF_PACKET).  Without it: "SKIPPED: needs root", exit 77.
set -u
mode=$1 D=$2 CTL=$3 PING=$4
if [ "$(id -u)" -ne 0 ]; then
  echo "****************************************************************************"
  echo "*** SKIPPED: needs root (network namespaces, TAP devices, AF_PACKET)      ***"
  echo "****************************************************************************"
  exit 77
fi
for t in ip iperf3 jq socat sha256sum; do
  command -v $t >/dev/null || { echo "*** SKIPPED: $t not installed ***"; exit 77; }
done
[ -c /dev/net/tun ] || { echo "*** SKIPPED: no /dev/net/tun ***"; exit 77; }

tag=$$
dir=$(mktemp -d /tmp/minet-test.XXXXXX)
declare -A dpid=()     # node -> daemon pid
declare -a extra=()    # other pids we started (iperf3/socat servers)
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

# until_ok SECONDS CMD...: poll CMD until it succeeds, at most SECONDS (10 tries a second).
until_ok() {
  local end=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -ge $end ] && return 1
    sleep 0.1
  done
}

ns() { echo "m7n$1-$tag"; }
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

ctl() { local n=$1; shift; "$CTL" -s "$dir/node$n.sock" "$@"; }

# start N BEARER... : msgrd for node N with MINET; waits for its READY line (TAP up,
# addresses set, socket listening).  With conf=1 the MINET settings come from a
# configuration file's [minet] section instead of --minet-* options.
start() {
  local n=$1; shift
  local args=()
  for b in "$@"; do args+=(--bearer "$b"); done
  if [ "${conf:-0}" = 1 ]; then
    cat > "$dir/node$n.conf" <<EOF
# node $n: MINET from the [minet] section
tolerance = 300
[minet]
tap = minet0
address = 10.77.0.$n/24
address = fd77::$n/64
ageing = 120
EOF
    args+=(-c "$dir/node$n.conf")
  else
    args+=(--minet-tap minet0 --minet-addr "10.77.0.$n/24" --minet-addr "fd77::$n/64"
           --tolerance 300)
  fi
  [ "${unpriv:-0}" = 1 ] && args+=(--user nobody)
  local fifo=$dir/ready$n.fifo
  rm -f "$fifo"; mkfifo "$fifo"
  ip netns exec "$(ns "$n")" "$D" --foreground --node-id "$n" --socket "$dir/node$n.sock" \
    "${args[@]}" > >(tee -a "$dir/node$n.out" > "$fifo") 2>>"$dir/node$n.log" &
  dpid[$n]=$!
  local line="" rfd
  exec {rfd}<"$fifo"
  read -r -t 10 line <&"$rfd" || true
  cat <&"$rfd" >/dev/null &   # keep draining the daemon's stdout
  extra+=("$!")
  exec {rfd}<&-
  rm -f "$fifo"
  [[ $line == READY* ]] || fail "node $n did not start (got '$line')"
  ip -n "$(ns "$n")" link show minet0 | grep -q "02:4d:00:00:00:0$n" ||
    fail "node $n: minet0 lacks the MAC derived from the node id"
}
killnode() { kill -9 "${dpid[$1]}"; wait "${dpid[$1]}" 2>/dev/null; unset "dpid[$1]"; }

# reach FROM ADDR [deadline]: ping until one reply (links come up meanwhile)
reach() { ip netns exec "$(ns "$1")" "$PING" -q -c 1 -w "${3:-15}" -i 200 "$2"; }
# pings FROM ADDR: 3 replies in a row
pings() { ip netns exec "$(ns "$1")" "$PING" -q -c 3 -w 5 -i 100 "$2"; }
# unreachable FROM ADDR: no reply within 2 s
unreachable() { ! ip netns exec "$(ns "$1")" "$PING" -q -c 1 -w 2 -i 200 "$2"; }

listening() { ip netns exec "$(ns "$1")" ss -ltnH "sport = :$2" 2>/dev/null | grep -q .; }

# iperf FROM TO_NODE ADDR OUTFILE [iperf3 client args...]: one-off server on TO_NODE
iperf() {
  local from=$1 to=$2 addr=$3 out=$4; shift 4
  local port=$((5201 + RANDOM % 1000))
  ip netns exec "$(ns "$to")" iperf3 -s -1 -p $port > "$dir/iperf-server.log" 2>&1 &
  local sp=$!
  extra+=("$sp")
  until_ok 10 listening "$to" $port || fail "iperf3 server did not listen"
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
ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.3f\", $1/$2; else print \"n/a\" }"; }

rx_has() { [ "$(stat -c %s "$dir/blob.rx" 2>/dev/null || echo 0)" -ge "$1" ]; }
# blob FROM TO ADDR SIZE_MIB [hook]: SIZE_MIB random bytes over TCP across MINET with
# socat; the copy must be byte-identical.  hook (optional) runs once the receiver has
# 1 MiB, while the transfer goes on.
blob() {
  local from=$1 to=$2 addr=$3 mib=$4 hook=${5:-}
  head -c $((mib * 1048576)) /dev/urandom > "$dir/blob"
  rm -f "$dir/blob.rx"
  local port=$((6201 + RANDOM % 1000)) listen=TCP4-LISTEN
  [[ $addr == *:* ]] && listen=TCP6-LISTEN
  ip netns exec "$(ns "$to")" socat -u "$listen:$port,reuseaddr" \
    "OPEN:$dir/blob.rx,creat,trunc" 2>>"$dir/socat.log" &
  local sp=$!; extra+=("$sp")
  until_ok 10 listening "$to" $port || fail "socat did not listen"
  local target="$addr:$port"
  [[ $addr == *:* ]] && target="[$addr]:$port"
  ip netns exec "$(ns "$from")" timeout 120 socat -u "OPEN:$dir/blob" "TCP:$target" 2>>"$dir/socat.log" &
  local cp=$!; extra+=("$cp")
  if [ -n "$hook" ]; then
    until_ok 60 rx_has 1048576 || fail "file transfer never started"
    local at; at=$(stat -c %s "$dir/blob.rx")
    [ "$at" -lt $((mib * 1048576)) ] || fail "the transfer ended before the hook could run"
    echo "hook at $at of $((mib * 1048576)) bytes received"
    $hook
  fi
  wait "$cp" || fail "socat sender failed"
  wait "$sp" || fail "socat receiver failed"
  [ "$(sha256sum < "$dir/blob" | cut -d' ' -f1)" = "$(sha256sum < "$dir/blob.rx" | cut -d' ' -f1)" ] ||
    fail "$mib MiB file corrupted across MINET ($(stat -c %s "$dir/blob.rx") bytes arrived)"
  echo "$mib MiB file $from -> $to across MINET ($addr): sha256 matches"
}

# MINET table checks through msgrctl (the daemon's control socket)
has_mac() { # NODE MAC OWNER: NODE's table maps MAC to OWNER
  ctl "$1" -j minet | jq -e --arg m "$2" --argjson o "$3" \
    '[.entries[] | select(.mac == $m and .node == $o)] | length == 1' >/dev/null
}
lacks_mac() { ctl "$1" -j minet | jq -e --arg m "$2" '[.entries[] | select(.mac == $m)] | length == 0' >/dev/null; }
peer_up() { ctl "$1" -j minet | jq -e --argjson p "$2" '.peers_up | index($p) != null' >/dev/null; }
peer_gone() { ctl "$1" -j minet | jq -e --argjson p "$2" '.peers_up | index($p) == null' >/dev/null; }
links_up() { # NODE PEER COUNT: at least COUNT established links to PEER
  ctl "$1" -j link | jq -e --argjson p "$2" --argjson c "$3" \
    '[.[] | select(.peer == $p and .state == "ESTABLISHED")] | length >= $c' >/dev/null
}
failovers() { ctl "$1" -j stats | jq .node.failovers; }
link_down_on() { # NODE PEER BEARER: that link is not established
  ctl "$1" -j link | jq -e --argjson p "$2" --argjson b "$3" \
    '[.[] | select(.peer == $p and .bearer == $b and .state == "ESTABLISHED")] | length == 0' >/dev/null
}

case $mode in
three)
  # A bad [minet] value stops msgrd at start-up with file:line, before any TAP exists.
  printf 'node_id = 9\n[minet]\ntap = minet0\nmtu = 100\n' > "$dir/bad.conf"
  out=$("$D" -c "$dir/bad.conf" --foreground --socket "$dir/bad.sock" 2>&1); rc=$?
  [ $rc = 2 ] && [[ $out == *"bad.conf:4: bad [minet] key or value: mtu"* ]] ||
    fail "msgrd accepted mtu = 100 in [minet] (rc $rc: $out)"
  for n in 1 2 3; do mkns $n; done
  veth 1 2 "a12-$tag" "b21-$tag"
  veth 1 3 "a13-$tag" "b31-$tag"
  veth 2 3 "a23-$tag" "b32-$tag"
  # plain veth addresses for the comparison run
  ip -n "$(ns 1)" addr add 10.78.12.1/24 dev "a12-$tag"
  ip -n "$(ns 2)" addr add 10.78.12.2/24 dev "b21-$tag"
  start 1 "eth:ifname=a12-$tag" "eth:ifname=a13-$tag"
  # Node 2 drops root after start-up (msgrd's user = ...): MINET keeps working on the TAP
  # it opened as root.
  if "$D" --help 2>&1 | grep -q -- "--user" && id nobody >/dev/null 2>&1; then
    unpriv=1 start 2 "eth:ifname=b21-$tag" "eth:ifname=a23-$tag"
    grep -Eq "^Uid:[[:space:]]+[1-9]" "/proc/${dpid[2]}/status" || fail "node 2 still runs as root"
    echo "node 2 runs as uid $(awk '/^Uid:/ {print $2}' "/proc/${dpid[2]}/status") after start-up"
  else
    start 2 "eth:ifname=b21-$tag" "eth:ifname=a23-$tag"
  fi
  conf=1 start 3 "eth:ifname=b31-$tag" "eth:ifname=b32-$tag"

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

  # msgrctl minet: every node maps each peer's MAC to that peer, and its own to "local".
  for a in 1 2 3; do
    for b in 1 2 3; do
      if [ $a = $b ]; then
        has_mac $a "02:4d:00:00:00:0$a" 0 || fail "node $a: own MAC not shown as local"
      else
        has_mac $a "02:4d:00:00:00:0$b" $b || fail "node $a: msgrctl minet lacks 02:4d:00:00:00:0$b -> node $b"
        peer_up $a $b || fail "node $a: msgrctl minet does not list peer $b up"
      fi
    done
  done
  t=$(ctl 1 minet) || fail "msgrctl minet (text)"
  echo "$t"
  echo "$t" | grep -q "^MINET minet0 mac 02:4d:00:00:00:01 mtu 1500" || fail "msgrctl minet: header"
  echo "$t" | grep -Eq "^02:4d:00:00:00:02 +2 " || fail "msgrctl minet (text) lacks 02:4d:00:00:00:02 -> 2"
  echo "$t" | grep -Eq "^02:4d:00:00:00:03 +3 " || fail "msgrctl minet (text) lacks 02:4d:00:00:00:03 -> 3"
  [ "$(ctl 3 -j minet | jq .ageing_s)" = 120 ] || fail "node 3: [minet] ageing = 120 not applied"
  st=$(ctl 1 -j minet stats) || fail "msgrctl -j minet stats"
  echo "$st" | jq -e '.out.frames > 0 and .in.frames > 0 and .out.bytes > 0 and .in.bytes > 0
                      and .floods.broadcast > 0 and .drops.wrong_domain == 0
                      and .drops.decode == 0 and .drops.tap_write == 0' >/dev/null ||
    fail "msgrctl minet stats: unexpected counters: $st"
  ctl 1 minet stats | grep -q "^floods: broadcast [1-9]" || fail "msgrctl minet stats (text)"
  ctl 1 minet bogus >/dev/null 2>&1 && fail "msgrctl minet bogus was accepted"
  echo "msgrctl minet: MACs map to the right nodes; stats count traffic and floods"

  iperf 1 2 10.77.0.2 "$dir/iperf-minet.txt" -n 50M || { cat "$dir/iperf-minet.txt"; fail "iperf3 across MINET"; }
  iperf 1 2 10.78.12.2 "$dir/iperf-veth.txt" -n 50M || { cat "$dir/iperf-veth.txt"; fail "iperf3 across the veth"; }
  iperf 1 2 10.77.0.2 "$dir/iperf-minet-t.txt" -t 5 || { cat "$dir/iperf-minet-t.txt"; fail "iperf3 -t 5 across MINET"; }
  iperf 1 2 10.78.12.2 "$dir/iperf-veth-t.txt" -t 5 || { cat "$dir/iperf-veth-t.txt"; fail "iperf3 -t 5 across the veth"; }
  m=$(gbits "$dir/iperf-minet.txt") v=$(gbits "$dir/iperf-veth.txt")
  mt=$(gbits "$dir/iperf-minet-t.txt") vt=$(gbits "$dir/iperf-veth-t.txt")
  echo "iperf3 -n 50M : MINET in msgrd (eth bearer, veth) $m Gbit/s | plain veth $v Gbit/s | ratio $(ratio "$m" "$v")"
  echo "iperf3 -t 5   : MINET in msgrd (eth bearer, veth) $mt Gbit/s | plain veth $vt Gbit/s | ratio $(ratio "$mt" "$vt")"
  ctl 1 minet stats
  ctl 2 -j minet stats | jq -e '.in.bytes > 50000000' >/dev/null || fail "node 2: minet stats missed the iperf3 bytes"

  blob 1 2 fd77::2 16
  blob 3 1 10.77.0.1 16

  killnode 3
  unreachable 1 10.77.0.3 || fail "node 3 killed but 10.77.0.3 still answers node 1"
  unreachable 2 fd77::3 || fail "node 3 killed but fd77::3 still answers node 2"
  for a in 1 2; do
    until_ok 10 peer_gone $a 3 || fail "node $a: peer 3 still up in msgrctl minet"
    until_ok 10 lacks_mac $a 02:4d:00:00:00:03 || fail "node $a: 3's MAC not purged"
  done
  echo "node 3 killed: pings to it fail; nodes 1 and 2 purged its MAC"
  conf=1 start 3 "eth:ifname=b31-$tag" "eth:ifname=b32-$tag"
  reach 1 10.77.0.3 || fail "node 3 restarted but unreachable from 1"
  for a in 1 2; do
    pings $a 10.77.0.3 || fail "IPv4 ping $a -> 3 after restart"
    pings $a fd77::3 || fail "IPv6 ping $a -> 3 after restart"
    pings 3 "10.77.0.$a" || fail "IPv4 ping 3 -> $a after restart"
    pings 3 "fd77::$a" || fail "IPv6 ping 3 -> $a after restart"
    has_mac $a 02:4d:00:00:00:03 3 || fail "node $a: 3's MAC not learned again"
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
  until_ok 15 links_up 1 2 2 || fail "second link never came up"
  cut_a() {
    ip -n "$(ns 1)" link set "p1a-$tag" down
    ip -n "$(ns 2)" link set "p2a-$tag" down
    echo ">>> cut link p1a/p2a (prio 10) during the transfer"
  }
  port=$((5201 + RANDOM % 1000))
  ip netns exec "$(ns 2)" iperf3 -s -1 -p $port > "$dir/iperf-server.log" 2>&1 &
  sp=$!; extra+=("$sp")
  until_ok 10 listening 2 $port || fail "iperf3 server did not listen"
  f0=$(failovers 1)
  cut=0 rc=none
  # Cut the prio-10 pair (the one carrying channel 1) at the first interval report.
  while IFS= read -r line; do
    echo "$line"
    [[ $line == "iperf3 exit "* ]] && rc=${line#iperf3 exit }
    if [ $cut = 0 ] && [[ $line == *"bits/sec"* ]]; then
      cut_a
      cut=1
    fi
  done < <(ip netns exec "$(ns 1)" timeout 150 iperf3 -c 10.77.0.2 -p $port -n 1G --forceflush 2>&1; echo "iperf3 exit $?")
  wait "$sp"
  [ $cut = 1 ] || fail "iperf3 never reported an interval"
  [ "$rc" = 0 ] || fail "iperf3 across MINET did not survive the cut (exit $rc)"
  until_ok 10 link_down_on 1 2 0 || fail "node 1 never saw the cut link (bearer 0) go down"
  f1=$(failovers 1)
  [ "$f1" -gt "$f0" ] || fail "node 1 moved nothing to the parallel link (failovers $f0 -> $f1)"
  grep -E "link down|failover" "$dir/node1.log"
  echo "iperf3 completed across the cut (node 1 failovers $f0 -> $f1): the TCP connection survived"

  # The pair comes back; a file crosses while it is cut again: every byte arrives.
  ip -n "$(ns 1)" link set "p1a-$tag" up
  ip -n "$(ns 2)" link set "p2a-$tag" up
  until_ok 20 links_up 1 2 2 || fail "the cut link did not come back"
  blob 1 2 10.77.0.2 64 cut_a
  until_ok 10 link_down_on 1 2 0 || fail "the second cut did not take the link down"
  f2=$(failovers 1)
  [ "$f2" -gt "$f1" ] || fail "node 1 failed nothing over during the file transfer ($f1 -> $f2)"
  ctl 1 -j minet stats | jq -e '.drops.tap_write == 0 and .drops.decode == 0' >/dev/null ||
    fail "node 1: MINET drops after failover"
  ;;

pcie)
  mkns 1; mkns 2
  veth 1 2 "c1-$tag" "c2-$tag"   # only for the comparison run: no bearer on it
  ip -n "$(ns 1)" addr add 10.78.13.1/24 dev "c1-$tag"
  ip -n "$(ns 2)" addr add 10.78.13.2/24 dev "c2-$tag"
  sock=$dir/pcie.sock
  start 1 "pcie:name=mnp$tag,role=host,sock=$sock,slot_size=65536,slots=64"
  start 2 "pcie:name=mnp$tag,role=iop,sock=$sock,slot_size=65536,slots=64"
  reach 1 10.77.0.2 || fail "10.77.0.2 unreachable over the PCIe shim"
  pings 2 fd77::1 || fail "IPv6 ping over the PCIe shim"
  has_mac 1 02:4d:00:00:00:02 2 || fail "node 1: msgrctl minet lacks 02:4d:00:00:00:02 -> 2"
  has_mac 2 02:4d:00:00:00:01 1 || fail "node 2: msgrctl minet lacks 02:4d:00:00:00:01 -> 1"
  # A second msgrd cannot take a TAP another one holds: it says so and exits 1.
  out=$(ip netns exec "$(ns 1)" timeout 10 "$D" --foreground --node-id 9 --socket "$dir/dup.sock" \
        --minet-tap minet0 2>&1); rc=$?
  [ $rc = 1 ] && [[ $out == *"msgrd: minet: TAP minet0: "* ]] ||
    fail "a second msgrd on minet0: rc $rc: $out"
  pings 1 10.77.0.2 || fail "node 1's MINET broken by the refused second daemon"
  iperf 1 2 10.77.0.2 "$dir/iperf-pcie.txt" -n 50M || { cat "$dir/iperf-pcie.txt"; fail "iperf3 across MINET over the PCIe shim"; }
  iperf 1 2 10.78.13.2 "$dir/iperf-veth.txt" -n 50M || { cat "$dir/iperf-veth.txt"; fail "iperf3 across the veth"; }
  p=$(gbits "$dir/iperf-pcie.txt") v=$(gbits "$dir/iperf-veth.txt")
  echo "iperf3 -n 50M : MINET in msgrd over the PCIe shim $p Gbit/s | plain veth $v Gbit/s | ratio $(ratio "$p" "$v")"
  blob 1 2 10.77.0.2 16
  blob 2 1 fd77::1 16
  ;;
*)
  echo "unknown mode $mode"; exit 2 ;;
esac
# Clean stop: SIGTERM, exit 0 (a sanitizer build exits non-zero on a leak), and no
# sanitizer report in any daemon's log (killed ones included).
for n in "${!dpid[@]}"; do
  kill "${dpid[$n]}"
  wait "${dpid[$n]}"; rc=$?
  unset "dpid[$n]"
  [ $rc = 0 ] || fail "node $n exited $rc on SIGTERM"
done
if grep -E "AddressSanitizer|LeakSanitizer|runtime error:" "$dir"/node*.log; then
  fail "sanitizer report in a daemon's log"
fi
echo "PASS: minet $mode"
exit 0
