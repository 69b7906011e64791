#!/usr/bin/env python3
"""Robustness: seeded random and mutated frames through tshark -V must never hit a
dissector bug (WIRESHARK_ABORT_ON_DISSECTOR_BUG=1 makes one abort tshark).

Three captures: Ethernet/EtherType 0x88B5, UDP (port 34997 and other ports, for the
heuristic), and LINKTYPE_USER0 with a pseudo-header.  Each holds pure random bodies and
mutations (bit flips, truncation, length-field and count-field overwrites) of valid
frames: the example capture's scenario and, when present, the spec vectors.  Every
capture is read one-pass and two-pass (-2), which exercises the visited-frame paths of
sequence analysis, path tracking and reassembly.
"""
import argparse
import glob
import json
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_example  # noqa: E402
import msgrtest as mt  # noqa: E402


def seeds(vec_dir):
    out = []
    for p in make_example.scenario():
        if p[12:14] == b"\x88\xb5":
            out.append(p[14:])
    for path in sorted(glob.glob(os.path.join(vec_dir, "*.json"))):
        with open(path) as f:
            v = json.load(f)
        if v.get("kind") == "frame":
            out.append(bytes.fromhex(v["hex"]))
    return out


def mutate(rng, f):
    b = bytearray(f)
    op = rng.randrange(8)
    if op == 0 and b:
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif op == 1 and b:
        del b[rng.randrange(len(b) + 1):]
    elif op == 2 and len(b) >= 4:
        struct.pack_into(">H", b, 2, rng.choice([0, 1, 3, 4, 15, 16, 17, (len(b) - 1) & 0xFFFF, (len(b) + 1) & 0xFFFF, 0xFFFF,
                                                  rng.randrange(65536)]))
    elif op == 3 and b:
        i = rng.randrange(len(b))
        b[i] = rng.choice([0, 0xFF, 0x7F, 0x80, 1, rng.randrange(256)])
    elif op == 4:
        b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
    elif op == 5 and len(b) > 1:
        b[1] = rng.randrange(256)  # another type, same body
    elif op == 6 and len(b) > 20:
        i = rng.randrange(len(b) - 4)
        b[i:i + 4] = bytes(rng.randrange(256) for _ in range(4))
    else:
        b = bytearray(bytes(rng.randrange(256) for _ in range(rng.randint(0, 120))))
        if b and rng.random() < 0.7:
            b[0] = 0x10 | (b[0] & 0xF)
    return bytes(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--vectors", required=True)
    ap.add_argument("--frames", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0x88B5)
    ap.add_argument("--abi", default="4.0")
    a = ap.parse_args()

    rng = random.Random(a.seed)
    corpus = seeds(a.vectors)
    A, B = mt.mac(1, 0), mt.mac(1, 1)
    eth_pk, udp_pk, u0_pk = [], [], []
    for i in range(a.frames):
        f = mutate(rng, rng.choice(corpus))[:60000]  # stay inside UDP and the snaplen
        # A few link pairs so that sequence analysis and reassembly see related frames.
        pair = rng.randrange(4)
        if i % 5 == 4:
            sport, dport = rng.choice([(mt.UDP_PORT, mt.UDP_PORT), (40000, 40001), (mt.UDP_PORT, 5000)])
            udp_pk.append(mt.eth(mt.mac(pair, 1), mt.mac(pair, 0), 0x0800,
                                 mt.udp_ipv4(bytes([10, 0, 0, pair]), bytes([10, 0, 1, pair]), sport, dport, f)))
        elif i % 5 == 3:
            tx = rng.random() < 0.5
            fcs = rng.random() < 0.6
            raw = mt.user0(f, bearer=rng.choice([1, 2, 3, 4, 9]), tx=tx, fcs=fcs, index=pair,
                           bad_fcs=rng.random() < 0.2)
            if rng.random() < 0.1:
                raw = raw[:rng.randrange(len(raw) + 1)]
            if rng.random() < 0.05:
                raw = bytes([rng.randrange(256)]) + raw[1:]
            u0_pk.append(raw)
        else:
            src, dst = (A, B) if rng.random() < 0.5 else (B, A)
            eth_pk.append(mt.eth(mt.mac(pair, 1) if dst == B else mt.mac(pair, 0),
                                 mt.mac(pair, 0) if src == A else mt.mac(pair, 1), mt.ETHERTYPE_MSGR, f))

    ts = mt.Tshark(a.plugin, a.abi)
    try:
        ts.assert_plugin_loaded()
        caps = (("random-eth.pcap", mt.LINKTYPE_ETHERNET, eth_pk), ("random-udp.pcap", mt.LINKTYPE_ETHERNET, udp_pk),
                ("random-user0.pcap", mt.LINKTYPE_USER0, u0_pk))
        total = 0
        for name, lt, pk in caps:
            mt.write_pcap(ts.path(name), lt, pk)
            for two_pass in (False, True):
                args = (["-2"] if two_pass else []) + ["-r", name, "-V"]
                rc, out, err = ts.run(args, env={"WIRESHARK_ABORT_ON_DISSECTOR_BUG": "1"}, check=False)
                if rc != 0 or "Dissector bug" in out or "Dissector bug" in err:
                    mt.fail("%s%s: tshark exit %d\n%s" % (name, " (-2)" if two_pass else "", rc, err[-3000:]))
                n = out.count("\nFrame ") + out.startswith("Frame ")
                if n != len(pk):
                    mt.fail("%s: tshark printed %d of %d frames" % (name, n, len(pk)))
            total += len(pk)
        print("PASS: %d random/mutated frames (seed 0x%x, %d seed frames), no dissector bug" %
              (total, a.seed, len(corpus)))
        return 0
    finally:
        ts.cleanup()


if __name__ == "__main__":
    sys.exit(main())
