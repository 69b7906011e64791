#!/usr/bin/env bash
# eth_netns.sh TEST_BINARY eth|eth-pcap
#
# Topology (names carry our pid, so parallel runs never collide):
#
#   netns mbA-<pid>                     netns mbB-<pid>
#   +-----------------+                 +-----------------+
#   | vA-<pid>        |<=== veth pair ===>| vB-<pid>        |
#   | bearer A        |                 | bearer B        |
#   +-----------------+                 +-----------------+
#
# Needs root (namespaces, AF_PACKET).  Without it: "SKIPPED: needs root", exit 77.
# Then checks the EN10MB capture of bearer A with tshark.
set -u
bin=$1 kind=$2
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIPPED: needs root (network namespaces, AF_PACKET sockets)" >&2
  echo "*** SKIPPED: needs root ***"
  exit 77
fi
nsA=mbA-$$ nsB=mbB-$$ ifA=vA-$$ ifB=vB-$$
dir=$(mktemp -d)
cleanup() {
  ip netns del "$nsA" 2>/dev/null
  ip netns del "$nsB" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
set -e
ip netns add "$nsA"
ip netns add "$nsB"
ip link add "$ifA" netns "$nsA" type veth peer name "$ifB" netns "$nsB"
ip -n "$nsA" link set "$ifA" up
ip -n "$nsB" link set "$ifB" up
ip -n "$nsA" link set lo up
ip -n "$nsB" link set lo up
set +e
"$bin" "$kind" "$nsA" "$ifA" "$nsB" "$ifB" "$dir/A.pcap"
rc=$?
[ $rc -eq 0 ] || exit $rc
if command -v tshark >/dev/null; then
  # tshark refuses nothing as root for reading files; count frames and check the type.
  n=$(tshark -r "$dir/A.pcap" -T fields -e eth.type 2>/dev/null | sort | uniq -c)
  echo "tshark: $n"
  total=$(tshark -r "$dir/A.pcap" 2>/dev/null | wc -l)
  ours=$(tshark -r "$dir/A.pcap" -Y 'eth.type == 0x88b5' 2>/dev/null | wc -l)
  echo "tshark: $total records, $ours with EtherType 0x88b5"
  [ "$total" -gt 40000 ] && [ "$total" -eq "$ours" ] || { echo "tshark check FAILED"; exit 1; }
fi
exit 0
