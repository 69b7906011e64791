#!/usr/bin/env bash
# capture.sh TEST_BINARY — run test_bearer_capture into a temp dir, then read the files
# back with tshark: record counts and link types (USER0 = 147, raw IPv4 decoded as UDP).
set -u
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin" "$dir" || exit 1
command -v tshark >/dev/null || { echo "tshark not installed: libpcap read-back only"; exit 0; }
fail=0
n=$(tshark -r "$dir/serial.pcap" -T fields -e frame.encap_type 2>/dev/null | sort | uniq -c | awk '{print $1" "$2}')
echo "tshark serial.pcap: count encap = $n"
# Wireshark's WTAP_ENCAP_USER0 is 45.
[ "$n" = "11 45" ] || { echo "serial.pcap: expected 11 USER0 records"; fail=1; }
u=$(tshark -r "$dir/udp.pcap" -T fields -e ip.src -e udp.srcport -e udp.dstport -e udp.length 2>/dev/null)
echo "tshark udp.pcap:"; echo "$u"
[ "$(echo "$u" | wc -l)" -eq 2 ] && echo "$u" | head -1 | grep -q "^127.0.0.1" &&
  [ "$(echo "$u" | head -1 | awk '{print $4}')" = 29 ] || { echo "udp.pcap: unexpected"; fail=1; }
exit $fail
