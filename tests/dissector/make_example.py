#!/usr/bin/env python3
"""Build the example captures committed under dissector/examples/.

messenger-example.pcap (Ethernet): a two-node session A <-> B on one Ethernet link —
discovery, link setup, naming, a path opened/accepted/used/closed, a fragmented message,
a bundle, MINET carrying an ICMP echo request/reply, MGMT, link-state probing and one
retransmission — then a secured link C <-> D (key exchange + SECURED frames), Messenger
over UDP (port 34997 and, through the heuristic, another port), and finally the valid
frame vectors of spec/vectors (one MAC pair each), when they exist.

messenger-serial.pcap (LINKTYPE_USER0): serial-bearer frames with the capture
pseudo-header and CRC-32C, both directions, one with a deliberately wrong CRC.

The encoder here is the tests' own (msgrtest.py); it shares nothing with proto/.
"""
import argparse
import glob
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from msgrtest import (ETHERTYPE_MSGR, LINKTYPE_ETHERNET, LINKTYPE_USER0, UDP_PORT, eth,  # noqa: E402
                      frame, icmp_echo, ipv4, mac, member, name_record, opts, udp_ipv4, user0,
                      write_pcap)

NODE_A, NODE_B, NODE_C, NODE_D = 0x0A0A0001, 0x0A0A0002, 0x0A0A0003, 0x0A0A0004
DOMAIN = 0x000C1A55
MAC_A, MAC_B = bytes.fromhex("02aa00000001"), bytes.fromhex("02bb00000002")
MAC_C, MAC_D = bytes.fromhex("02cc00000003"), bytes.fromhex("02dd00000004")
BCAST = b"\xff" * 6


def discover(node, reply, name):
    body = struct.pack(">IIBBHI", node, DOMAIN, 1, 1 if reply else 0, 1500, 0x1000 + node & 0xFFFFFFFF)
    return frame("DISCOVER", body + opts((0x01, name.encode()), (0x03, struct.pack(">I", 0x1F)),
                                          (0x05, struct.pack(">H", 125))))


def link(kind, node, peer, session, next_seq):
    body = struct.pack(">IIIHHHHHBB", node, peer, 0x5EED0000 | (node & 0xFF), session, next_seq, 500,
                       256, 1500, 10, 0)
    return frame(kind, body + opts((0x02, b"eth0")))


def link_state(session, ack, next_seq, sflags, ts, echo, gaps=()):
    body = struct.pack(">HHHBBII", session, ack, next_seq, sflags, len(gaps), ts, echo)
    body += b"".join(struct.pack(">HH", s, e) for s, e in gaps)
    return frame("LINK_STATE", body)


def minet(eth_frame, flood=False):
    return struct.pack(">BBHHHHH", 0x02 if flood else 0, 0, 0, 0, 0, 0, 0) + eth_frame


def scenario():
    pk = []
    AB = lambda f: pk.append(eth(MAC_B, MAC_A, ETHERTYPE_MSGR, f))
    BA = lambda f: pk.append(eth(MAC_A, MAC_B, ETHERTYPE_MSGR, f))

    # Discovery and link setup (A's link seq starts at 100, B's at 500).
    pk.append(eth(BCAST, MAC_A, ETHERTYPE_MSGR, discover(NODE_A, False, "node-a")))
    BA(discover(NODE_B, True, "node-b"))
    AB(link("LINK_RESET", NODE_A, NODE_B, 0x1111, 100))
    BA(link("LINK_RESET", NODE_B, NODE_A, 0x2222, 500))
    AB(link("LINK_ACTIVATE", NODE_A, NODE_B, 0x1111, 100))

    # Naming: B publishes its database service, A sends its bulk sync.
    BA(frame("NAME_PUBLISH", name_record(0x42, 0x0007, 0x01, 10, 1, "svc/db",
                                         [("role", b"primary"), ("zone", b"a")]), seq=500, ack=99, chan=0, cseq=0))
    AB(frame("NAME_SYNC", struct.pack(">BBH", 0x03, 0, 2) +
             b"".join(struct.pack(">H", len(r)) + r for r in (
                 name_record(0x10, 0x0001, 0, 5, 3, "app/web"),
                 name_record(0x11, 0x0001, 0, 5, 1, "app/worker", [("pool", b"batch")]))),
             seq=100, ack=500, chan=0, cseq=0))

    # A opens a path to svc/db; B accepts.  A's path id 0x100, B's 0x200.
    AB(frame("PATH_OPEN", struct.pack(">IIIIBBHB", 0x100, 0x10, 0x42, 8, 1, 0, 0, 6) + b"svc/db",
             seq=101, ack=500, chan=0, cseq=1))
    BA(frame("PATH_ACCEPT", struct.pack(">III", 0x100, 0x200, 8), seq=501, ack=101, chan=0x100, cseq=0))
    AB(frame("DATA", b"SELECT 1;", seq=102, ack=501, chan=0x200, cseq=0))
    BA(link_state(0x2222, 102, 502, 0, 1000, 0))
    AB(frame("DATA", b"SELECT 2;", seq=103, ack=501, chan=0x200, cseq=1))
    AB(frame("DATA", b"SELECT 2;", seq=103, ack=501, chan=0x200, cseq=1))  # retransmission

    # A 3000-byte DATA message in three fragments.
    big = bytes((i * 7) & 0xFF for i in range(3000))
    for i, off in enumerate((0, 1400, 2800)):
        chunk = big[off:off + 1400]
        AB(frame("FRAGMENT", struct.pack(">BBHII", 0x10, 0, 0, len(big), off) + chunk,
                 seq=104 + i, ack=501, chan=0x200, cseq=2))

    # A bundle of small messages.
    AB(frame("BUNDLE",
             member("DATA", b"ping", chan=0x200, cseq=3) +
             member("PATH_CREDIT", struct.pack(">II", 0x200, 64), chan=0x200, cseq=4) +
             member("SERVICE_STATUS", struct.pack(">BBHIIIB", 6, 0, 0, NODE_A, 0, 0x10, 7) + b"app/web",
                    chan=0, cseq=2),
             seq=107, ack=501, chan=0, cseq=0))

    # MINET: an ICMP echo over the cluster network.
    ip_a, ip_b = bytes([10, 88, 0, 1]), bytes([10, 88, 0, 2])
    m_a, m_b = bytes.fromhex("0200000000a1"), bytes.fromhex("0200000000b2")
    req = eth(m_b, m_a, 0x0800, ipv4(ip_a, ip_b, 1, icmp_echo(8, 0x4d50, 1, b"messenger-minet!"), ident=7))
    rep = eth(m_a, m_b, 0x0800, ipv4(ip_b, ip_a, 1, icmp_echo(0, 0x4d50, 1, b"messenger-minet!"), ident=9))
    AB(frame("MINET", minet(req), seq=108, ack=501, chan=1, cseq=0))
    BA(frame("MINET", minet(rep), seq=502, ack=108, chan=1, cseq=0))

    # Management: the FTM on B asks A for a heartbeat and statistics.
    payload = b"\x00\x01stats"
    BA(frame("MGMT", struct.pack(">IIIIBBHI", 0xC0FFEE, 3, 0, 0, 2, 0, 0, len(payload)) +
             struct.pack(">HHHH", 0x0001, 0, 0x0050, 1) + payload, seq=503, ack=108, chan=0, cseq=1))

    # Probe / reply, then close the path and withdraw the name.
    AB(link_state(0x1111, 503, 109, 0x01, 5000, 0))
    BA(link_state(0x2222, 108, 504, 0x02, 5001, 5000))
    AB(frame("PATH_CLOSE", struct.pack(">IIIBBH", 0x200, 0x100, 4, 10, 0, 0), seq=109, ack=503,
             chan=0x200, cseq=5))
    BA(frame("NAME_WITHDRAW", struct.pack(">IIB", 0x42, 1, 6) + b"svc/db", seq=504, ack=109, chan=0, cseq=2))
    BA(frame("PATH_ABORT", struct.pack(">IIHH", 0x100, 0x200, 6, 0), seq=505, ack=109, chan=0x100, cseq=1))

    # A secured link C <-> D.
    CD = lambda f: pk.append(eth(MAC_D, MAC_C, ETHERTYPE_MSGR, f))
    DC = lambda f: pk.append(eth(MAC_C, MAC_D, ETHERTYPE_MSGR, f))
    for phase, node, who in ((1, NODE_C, CD), (2, NODE_D, DC), (3, NODE_C, CD)):
        who(frame("KEY_EXCHANGE", struct.pack(">BBHII", phase, 1, 1, node, 0xE1) + bytes(range(32)) +
                  bytes(range(16)) + bytes(range(100, 132))))
    for ctr in (1, 2):
        CD(frame("SECURED", struct.pack(">BBHQ", 1, 0, 0, ctr) + bytes((ctr * 31 + i) & 0xFF for i in range(40)) +
                 bytes(range(16))))

    # UDP bearer: discovery to the multicast group, DATA on port 34997, and one frame on
    # another port that only the heuristic dissector picks up.
    ip_c, ip_d = bytes([192, 168, 88, 3]), bytes([192, 168, 88, 4])
    mcast = bytes([239, 255, 88, 181])
    pk.append(eth(bytes.fromhex("01005e7f58b5"), MAC_C, 0x0800,
                  udp_ipv4(ip_c, mcast, UDP_PORT, UDP_PORT, discover(NODE_C, False, "node-c"))))
    pk.append(eth(MAC_D, MAC_C, 0x0800, udp_ipv4(ip_c, ip_d, UDP_PORT, UDP_PORT,
                                                 frame("DATA", b"over-udp", seq=1, chan=0x300, cseq=0))))
    pk.append(eth(MAC_D, MAC_C, 0x0800, udp_ipv4(ip_c, ip_d, 40000, 40001,
                                                 frame("DATA", b"heuristic", seq=7, chan=0x301, cseq=0))))
    return pk


def vector_frames(vec_dir):
    out = []
    for i, path in enumerate(sorted(glob.glob(os.path.join(vec_dir, "*.json")))):
        with open(path) as f:
            v = json.load(f)
        if v.get("kind") != "frame" or not v.get("valid"):
            continue
        # Vector MINET payloads are byte patterns, not real packets: the inner Ethernet/IP
        # dissectors would rightly call them malformed, so the example's MINET frames are
        # the scenario's real ICMP echo only.
        f = v.get("fields", {})
        kinds = {f.get("type"), (f.get("body") or {}).get("inner_type")}
        kinds |= {m.get("type") for m in (f.get("body") or {}).get("members", [])}
        if "MINET" in kinds or 0x13 in kinds:
            continue
        out.append(eth(mac(0x1000 + i, 1), mac(0x1000 + i, 0), ETHERTYPE_MSGR, bytes.fromhex(v["hex"])))
    return out


def serial_frames():
    f = []
    f.append(user0(frame("DATA", b"serial hello", seq=10, ack=0, chan=0x100, cseq=0), tx=True))
    f.append(user0(link_state(0x3333, 10, 1, 0, 1, 0), tx=False))
    f.append(user0(frame("DATA", b"serial again", seq=11, ack=0, chan=0x100, cseq=1), tx=True))
    f.append(user0(frame("DATA", b"bit flipped", seq=12, ack=0, chan=0x100, cseq=2), tx=True, bad_fcs=True))
    f.append(user0(frame("DATA", b"pcie", seq=1, chan=0x100, cseq=0), bearer=2, fcs=False, tx=True))
    return f


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, "..", ".."))
    ap.add_argument("--vectors", default=os.path.join(root, "spec", "vectors"))
    ap.add_argument("--out", default=os.path.join(root, "dissector", "examples"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    pk = scenario() + vector_frames(a.vectors)
    t0 = 1700000000.0
    write_pcap(os.path.join(a.out, "messenger-example.pcap"), LINKTYPE_ETHERNET,
               [(p, t0 + i * 0.001) for i, p in enumerate(pk)])
    sf = serial_frames()
    write_pcap(os.path.join(a.out, "messenger-serial.pcap"), LINKTYPE_USER0,
               [(p, t0 + i * 0.001) for i, p in enumerate(sf)])
    print("wrote %d + %d frames to %s" % (len(pk), len(sf), a.out))


if __name__ == "__main__":
    main()
