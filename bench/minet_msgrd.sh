#!/usr/bin/env bash
# bench/minet_msgrd.sh BUILD_DIR [ROUNDS] [SECONDS]
#
# MINET inside msgrd against the plain veth, as ratios measured in the same run:
#
#   bnA (msgrd node 1, TAP mnb0 10.76.0.1) ==veth bxA/bxB== bnB (msgrd node 2, 10.76.0.2)
#              \_____________ PCIe shim (memfd window, second pair of msgrd) ____/
#
# Each round runs, one after the other: iperf3 -t SECONDS across MINET over the eth bearer
# (on the veth), across MINET over the PCIe shim, and across the plain veth (10.75.0.x).
# One TCP stream, A -> B.  Prints every round and the medians; needs root, msgrd,
# msgrctl and iperf3.  Not a test: nothing is asserted (tests/minet does that).
set -u
B=${1:?usage: minet_msgrd.sh BUILD_DIR [ROUNDS] [SECONDS]}
R=${2:-3} T=${3:-5}
[ "$(id -u)" = 0 ] || { echo "SKIPPED: needs root"; exit 77; }
D=$B/bin/msgrd
tag=$$ A=bnA-$$ Z=bnB-$$
dir=$(mktemp -d /tmp/minet-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  ip netns del "$A" 2>/dev/null; ip netns del "$Z" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
ip netns add "$A"; ip netns add "$Z"
ip -n "$A" link set lo up; ip -n "$Z" link set lo up
ip link add "bxA-$tag" netns "$A" type veth peer name "bxB-$tag" netns "$Z"
# VETH_MTU=9000 (say): jumbo frames on the veth and the eth bearer (its mtu= key), so a
# 64 KiB GSO frame crosses in fewer Messenger frames (the TAP's MTU stays 1500).
ip -n "$A" link set "bxA-$tag" mtu "${VETH_MTU:-1500}" up
ip -n "$Z" link set "bxB-$tag" mtu "${VETH_MTU:-1500}" up
ip -n "$A" addr add 10.75.0.1/24 dev "bxA-$tag"; ip -n "$Z" addr add 10.75.0.2/24 dev "bxB-$tag"

# node NS ID TAP NET BEARER: msgrd with MINET; waits for READY.
node() {
  ip netns exec "$1" "$D" --foreground --node-id "$2" --socket "$dir/$2.sock" --bearer "$5" \
    --minet-tap "$3" --minet-addr "$4.$2/24" --log-level warn > "$dir/$2.out" 2>>"$dir/$2.log" &
  pids+=("$!")
  local end=$((SECONDS + 10))
  until grep -q READY "$dir/$2.out" 2>/dev/null; do
    [ $SECONDS -ge $end ] && { echo "msgrd $2 did not start"; cat "$dir/$2.log"; exit 1; }
    sleep 0.1
  done
}
emtu=${VETH_MTU:+,mtu=$((VETH_MTU - 14))}
node "$A" 1 mnb0 10.76.0 "eth:ifname=bxA-$tag$emtu"
node "$Z" 2 mnb0 10.76.0 "eth:ifname=bxB-$tag$emtu"
node "$A" 3 mnb1 10.76.1 "pcie:name=mnb$tag,role=host,sock=$dir/pcie.sock,slot_size=65536,slots=64"
node "$Z" 4 mnb1 10.76.1 "pcie:name=mnb$tag,role=iop,sock=$dir/pcie.sock,slot_size=65536,slots=64"
for a in 10.76.0.2 10.76.1.4; do
  ip netns exec "$A" "$B/tests/minet/mnping" -q -c 1 -w 15 -i 200 "$a" >/dev/null ||
    { echo "MINET $a unreachable"; exit 1; }
done

gbps() { # ADDR -> Gbit/s of one iperf3 run (receiver side)
  ip netns exec "$Z" iperf3 -s -1 -p 5301 >/dev/null 2>&1 &
  local sp=$! end=$((SECONDS + 10))
  until ip netns exec "$Z" ss -ltnH "sport = :5301" | grep -q .; do
    [ $SECONDS -ge $end ] && break
    sleep 0.1
  done
  ip netns exec "$A" timeout 60 iperf3 -c "$1" -p 5301 -t "$T" 2>&1 |
    awk '/receiver/ { v=$(NF-2); u=$(NF-1); if (u ~ /^Mbits/) v/=1000; else if (u ~ /^Kbits/) v/=1e6; printf "%.3f", v }'
  wait "$sp" 2>/dev/null
}
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; iperf3 -t $T, $R rounds; veth MTU ${VETH_MTU:-1500}"
: > "$dir/e"; : > "$dir/p"; : > "$dir/v"
for r in $(seq 1 "$R"); do
  e=$(gbps 10.76.0.2) p=$(gbps 10.76.1.4) v=$(gbps 10.75.0.2)
  echo "$e" >> "$dir/e"; echo "$p" >> "$dir/p"; echo "$v" >> "$dir/v"
  echo "round $r: MINET/eth $e Gbit/s  MINET/PCIe $p Gbit/s  plain veth $v Gbit/s"
done
me=$(median < "$dir/e") mp=$(median < "$dir/p") mv=$(median < "$dir/v")
echo "median: MINET/eth $me Gbit/s (ratio $(awk "BEGIN{printf \"%.3f\", $me/$mv}"))" \
     " MINET/PCIe $mp Gbit/s (ratio $(awk "BEGIN{printf \"%.3f\", $mp/$mv}"))  veth $mv Gbit/s"
