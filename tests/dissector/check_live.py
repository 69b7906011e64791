#!/usr/bin/env python3
"""Checks for tests/dissector/live_capture.sh: live captures of the running cluster,
decoded by tshark with the freshly built plugin.

Every capture, in two passes (tshark -2; the dumpcap captures also in one pass), with
WIRESHARK_ABORT_ON_DISSECTOR_BUG=1: no malformed packet, no error-level expert info from
any protocol, no dissector bug; every frame of the bearer is Messenger (the marker
datagram that ends a dumpcap run must not be claimed by the UDP heuristic).

udp    --wire (dumpcap on lo from before node 1 started: the complete wire view):
         DISCOVER, LINK_RESET/ACTIVATE, LINK_STATE, DATA, FRAGMENT, BUNDLE,
         NAME_PUBLISH/WITHDRAW, PATH_OPEN/ACCEPT/CLOSE seen; no "not captured" gap and no
         out-of-order frame; per direction, the frames flagged retransmission or duplicate
         are exactly as many as the sender's `retransmits` link counter (msgrctl -j link):
         on the wire every repeated seq is a retransmission, so the analysis must find each
         one and no other frame; every big message reassembled exactly once (retransmitted
         fragments are not reassembled again) and on its path (open, accept and close or
         abort frame references present); the path tracking's DATA message count per path
         equals what each sender sent.
       --node (node 2's own capture, LINKTYPE_IPV4): the frames node 2 sent that are
         flagged retransmission/duplicate equal node 2's `retransmits`; reassembly and
         the per-path message counts as on the wire.
netns  --veth (dumpcap on the veth between the namespaces, EN10MB): LINK_STATE, DATA,
         FRAGMENT, PATH_OPEN seen, reassembly; --eth / --user0 (msgrd's own captures per
         bearer): USER0 files hold serial frames whose CRC-32C is good (no bad CRC) and
         PCIe-shim frames; --minet (dumpcap on the MINET nodes' veth): MINET frames carry
         an inner ICMP echo request and reply (and ARP) and, with --tcp N, a TCP
         connection: both SYNs and N payload bytes (GSO segments arrive in FRAGMENTs and
         are reassembled before the Ethernet dissector sees them).
"""
import argparse
import collections
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import msgrtest as mt  # noqa: E402

ERRORS = []
AGG = "\x1e"
TYPE = {v: k for k, v in mt.T.items()}
BASE = ["frame.number", "frame.protocols", "_ws.expert.severity", "_ws.expert.message", "udp.srcport",
        "udp.dstport", "eth.src", "msgr.type", "msgr.member.type"]


def err(msg):
    ERRORS.append(msg)
    print("FAIL: " + msg)


def fields(ts, pcap, names, two_pass):
    args = (["-2"] if two_pass else []) + ["-r", pcap, "-T", "fields", "-E", "occurrence=a",
                                           "-E", "aggregator=" + AGG]
    for n in names:
        args += ["-e", n]
    _, out, _ = ts.run(args, env={"WIRESHARK_ABORT_ON_DISSECTOR_BUG": "1"})
    rows = []
    for line in out.split("\n"):
        if not line:
            continue
        vals = (line.split("\t") + [""] * len(names))[:len(names)]
        rows.append({k: [x for x in v.split(AGG) if x] for k, v in zip(names, vals)})
    return rows


class Capture:
    """One capture decoded twice; rows of the two-pass run with BASE + extra fields."""

    def __init__(self, ts, pcap, label, extra=(), marker_port="", one_pass=True):
        self.label = label
        for two in ((False, True) if one_pass else (True,)):
            rows = fields(ts, pcap, BASE + list(extra), two)
            for r in rows:
                num = r["frame.number"][0]
                protos = (r["frame.protocols"] or [""])[0]
                if "_ws.malformed" in protos:
                    err("%s frame %s (%s pass): malformed %s" % (label, num, "2nd" if two else "1st",
                                                                r["_ws.expert.message"]))
                for s, m in zip(r["_ws.expert.severity"], r["_ws.expert.message"]):
                    if int(s, 0) >= 0x00800000:
                        err("%s frame %s: error expert: %s" % (label, num, m))
                ismsgr = "msgr" in protos.split(":")
                marker = marker_port and marker_port in r["udp.srcport"] + r["udp.dstport"]
                if marker and ismsgr:
                    err("%s frame %s: the marker datagram was claimed as Messenger" % (label, num))
                elif not marker and not ismsgr:
                    err("%s frame %s: not decoded as Messenger (%s)" % (label, num, protos))
        self.rows = rows
        self.msgr = [r for r in rows if "msgr" in r["frame.protocols"][0].split(":")]
        # Frame types and bundle members' types (a PATH_OPEN may travel in a BUNDLE).
        self.types = collections.Counter(int(t, 0) for r in self.msgr for t in r["msgr.type"] + r["msgr.member.type"])
        print("%s: %d frames, %d Messenger, no malformed packet, no error expert; types (with members) %s" % (
            label, len(rows), len(self.msgr),
            ", ".join("%s=%d" % (TYPE.get(t, hex(t)), n) for t, n in sorted(self.types.items()))))

    def need_types(self, names):
        for t in names:
            if not self.types[mt.T[t]]:
                err("%s: no %s frame" % (self.label, t))

    def analysis(self, key):
        """Counter of (key field value, kind) from the sequence-analysis expert messages."""
        c = collections.Counter()
        for r in self.msgr:
            for m in r["_ws.expert.message"]:
                for prefix, kind in (("Retransmission of frame", "retransmission"),
                                     ("Duplicate of frame", "duplicate"),
                                     ("Out-of-order frame", "out_of_order"),
                                     ("Previous frame(s) not captured", "lost")):
                    if m.startswith(prefix):
                        c[((r.get(key) or [""])[0], kind)] += 1
        return c


def link_retransmits(path, bearer=None):
    """(counter when the captures were still running, counter after they stopped)."""
    out = []
    for f in (path, path[:-len(".json")] + ".after.json"):
        j = [x for x in json.load(open(f)) if bearer is None or x["bearer"] == bearer]
        if len(j) != 1:
            err("%s: expected one link, got %d" % (f, len(j)))
        out.append(j[0]["retransmits"] if j else 0)
    return tuple(out)


def retransmit_check(label, an, is_node1, link1, link2, bearer=None):
    """The sequence analysis must flag exactly the frames the senders retransmitted."""
    for what, from1, link in (("node 1 -> 2", True, link1), ("node 2 -> 1", False, link2)):
        flagged = sum(n for (src, kind), n in an.items()
                      if kind in ("retransmission", "duplicate") and is_node1(src) == from1)
        lo, hi = link_retransmits(link, bearer)
        want = str(lo) if lo == hi else "%d..%d" % (lo, hi)
        print("%s %s: %d frames flagged retransmission/duplicate; the sender's retransmits counter: %s"
              % (label, what, flagged, want))
        if not lo <= flagged <= hi:
            err("%s %s: the analysis flagged %d retransmissions/duplicates, the sender counted %s"
                % (label, what, flagged, want))


REASM = ["msgr.reasm.reassembled_length", "msgr.path.open_frame", "msgr.path.accept_frame", "msgr.path.close_frame",
         "msgr.path.abort_frame", "msgr.path.name", "msgr.path.messages_fwd"]


def path_counts(cap, label, want):
    """The path tracking's DATA message count per path name (two-pass: final) must be what
    the senders sent: each message once, retransmissions not counted."""
    got = {}
    for r in cap.msgr:
        for name, n in zip(r["msgr.path.name"], r["msgr.path.messages_fwd"]):
            got[name] = max(got.get(name, 0), int(n))
    print("%s: DATA messages per path %s (sent %s)" % (label, got, want))
    for name, n in want.items():
        if got.get(name) != n:
            err("%s: path %s carried %s DATA messages by the path tracking, %d were sent"
                % (label, name, got.get(name), n))


def reassembled(cap, size):
    return [r for r in cap.msgr if str(size) in r["msgr.reasm.reassembled_length"]]


def mode_udp(ts, a):
    port = a.node_port
    if a.wire:
        w = Capture(ts, a.wire, "wire (dumpcap on lo)", REASM, a.marker_port)
        if len(w.msgr) < 100:
            err("wire: only %d Messenger frames" % len(w.msgr))
        w.need_types(["DISCOVER", "LINK_RESET", "LINK_ACTIVATE", "LINK_STATE", "DATA", "FRAGMENT", "BUNDLE",
                      "NAME_PUBLISH", "NAME_WITHDRAW", "PATH_OPEN", "PATH_ACCEPT", "PATH_CLOSE"])
        an = w.analysis("udp.srcport")
        print("wire sequence analysis (source port, kind): %s" % dict(an))
        for (src, kind), n in an.items():
            if kind in ("out_of_order", "lost"):
                err("wire: %d frames from port %s flagged %s; the wire view is complete and in order"
                    % (n, src, kind))
        retransmit_check("wire", an, lambda src: src != port, a.link1, a.link2)
        big = reassembled(w, a.big_size)
        print("wire: %d messages of %d bytes reassembled (expected %d)" % (len(big), a.big_size, a.big))
        if len(big) != a.big:
            err("wire: %d messages of %d bytes reassembled, expected %d" % (len(big), a.big_size, a.big))
        # The path ends by the sender's PATH_CLOSE or, when the receiver exits first, its
        # PATH_ABORT: either must be referenced.
        nopath = [r["frame.number"][0] for r in big
                  if not (r["msgr.path.open_frame"] and r["msgr.path.accept_frame"]
                          and (r["msgr.path.close_frame"] or r["msgr.path.abort_frame"]))]
        if nopath:
            err("wire: reassembled messages without path open/accept/close-or-abort references: frames %s"
                % nopath[:10])
        path_counts(w, "wire", {"svc/big": a.big, "svc/small": a.small})
    if a.node:
        n = Capture(ts, a.node, "node 2's capture (LINKTYPE_IPV4)", REASM, one_pass=not a.wire)
        n.need_types(["LINK_STATE", "DATA", "FRAGMENT", "PATH_OPEN", "PATH_ACCEPT", "PATH_CLOSE"])
        an = n.analysis("udp.srcport")
        print("node 2's capture sequence analysis (source port, kind): %s" % dict(an))
        flagged = sum(c for (src, kind), c in an.items() if kind in ("retransmission", "duplicate") and src == port)
        lo, hi = link_retransmits(a.link2)
        print("node 2's capture, node 2 -> 1: %d flagged retransmission/duplicate; node 2's counter: %d..%d"
              % (flagged, lo, hi))
        if not lo <= flagged <= hi:
            err("node 2's capture: %d of node 2's frames flagged as retransmissions, node 2 counted %d..%d"
                % (flagged, lo, hi))
        path_counts(n, "node 2's capture", {"svc/big": a.big, "svc/small": a.small})
        if len(reassembled(n, a.big_size)) != a.big:
            err("node 2's capture: %d messages of %d bytes reassembled, expected %d"
                % (len(reassembled(n, a.big_size)), a.big_size, a.big))


def mode_netns(ts, a):
    v = Capture(ts, a.veth, "veth (dumpcap, EN10MB)", REASM, a.marker_port)
    v.need_types(["DISCOVER", "LINK_RESET", "LINK_ACTIVATE", "LINK_STATE", "FRAGMENT", "NAME_SYNC"])
    an = v.analysis("eth.src")
    print("veth sequence analysis (source MAC, kind): %s" % dict(an))
    for (src, kind), n in an.items():
        if kind in ("out_of_order", "lost"):
            err("veth: %d frames from %s flagged %s; the wire view is complete and in order" % (n, src, kind))
    retransmit_check("veth", an, lambda src: src == a.mac1, a.link1, a.link2, bearer=0)
    # msgrd's own Ethernet captures: node 2's (its vantage point: what it received);
    # node 1's holds what the veth capture holds.  Two-pass only, to keep the test short.
    for f in a.eth:
        if "node2" in os.path.basename(f):
            Capture(ts, f, "%s (msgrd, EN10MB)" % os.path.basename(f), REASM, one_pass=False)
    bearers = collections.Counter()
    for f in a.user0:
        u = Capture(ts, f, "%s (msgrd, USER0)" % os.path.basename(f),
                    REASM + ["msgr.cap.bearer", "msgr.cap.fcs.status"], one_pass=False)
        for r in u.msgr:
            b = int(r["msgr.cap.bearer"][0], 0)
            bearers[b] += 1
            st = r["msgr.cap.fcs.status"]
            if b == 3 and st != ["1"]:  # serial (3): FCS present and good
                err("%s frame %s: serial frame FCS status %r, expected good" % (f, r["frame.number"][0], st))
    print("USER0 frames per capture bearer type: %s" % dict(bearers))
    if a.user0 and not (bearers.get(3) and bearers.get(2)):
        err("USER0 captures: expected serial (3) and PCIe shim (2) frames, got %s" % dict(bearers))
    re = reassembled_any(v)
    print("veth: %d reassembled messages" % len(re))
    if not re:
        err("veth: no reassembled message")
    if a.minet:
        m = Capture(ts, a.minet, "MINET veth (dumpcap, EN10MB)", ["icmp.type", "arp.opcode", "tcp.flags.syn",
                                                                 "tcp.len", "msgr.minet.gso_size"], a.marker_port)
        syn = sum(1 for r in m.msgr if "1" in r["tcp.flags.syn"] or "True" in r["tcp.flags.syn"])
        tcpbytes = sum(int(x) for r in m.msgr for x in r["tcp.len"])
        gso = sum(1 for r in m.msgr if any(x != "0" for x in r["msgr.minet.gso_size"]))
        print("MINET: inner TCP: %d SYN frames, %d payload bytes, %d frames with GSO" % (syn, tcpbytes, gso))
        if a.tcp and (syn < 2 or tcpbytes < a.tcp):
            err("MINET: expected the inner TCP handshake and %d payload bytes, got %d SYN, %d bytes"
                % (a.tcp, syn, tcpbytes))
        icmp = collections.Counter(t for r in m.msgr if mt.T["MINET"] in [int(x, 0) for x in r["msgr.type"]]
                                   for t in r["icmp.type"])
        arp = sum(1 for r in m.msgr if r["arp.opcode"])
        print("MINET: inner ICMP types %s, %d ARP frames" % (dict(icmp), arp))
        if not (icmp["8"] and icmp["0"]):
            err("MINET: expected inner ICMP echo request (8) and reply (0), got %s" % dict(icmp))


def reassembled_any(cap):
    return [r for r in cap.msgr if r["msgr.reasm.reassembled_length"]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["udp", "netns"])
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--abi", default="4.0")
    ap.add_argument("--wire")
    ap.add_argument("--marker-port", default="")
    ap.add_argument("--node")
    ap.add_argument("--node-port", default="")
    ap.add_argument("--link1")
    ap.add_argument("--link2")
    ap.add_argument("--big", type=int, default=0)
    ap.add_argument("--big-size", type=int, default=0)
    ap.add_argument("--small", type=int, default=0)
    ap.add_argument("--veth")
    ap.add_argument("--mac1", default="")
    ap.add_argument("--eth", action="append", default=[])
    ap.add_argument("--user0", action="append", default=[])
    ap.add_argument("--minet")
    ap.add_argument("--tcp", type=int, default=0)
    a = ap.parse_args()

    ts = mt.Tshark(a.plugin, a.abi)
    try:
        ts.assert_plugin_loaded()
        # tshark runs as nobody: work on copies in its readable folder.
        for k in ("wire", "node", "veth", "minet"):
            if getattr(a, k):
                setattr(a, k, shutil.copy(getattr(a, k), ts.path(os.path.basename(getattr(a, k)))))
        for k in ("eth", "user0"):
            setattr(a, k, [shutil.copy(f, ts.path(os.path.basename(f))) for f in getattr(a, k)])
        mode_udp(ts, a) if a.mode == "udp" else mode_netns(ts, a)
    finally:
        ts.cleanup()
    if ERRORS:
        print("%d failure(s)" % len(ERRORS))
        return 1
    print("PASS: live capture checks (%s)" % a.mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
