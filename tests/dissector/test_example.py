#!/usr/bin/env python3
"""The committed example captures decode cleanly and show what they are meant to show.

messenger-example.pcap: zero malformed packets, no error-level expert info from msgr,
inner ICMP echo request and reply decoded from MINET, a reassembled fragmented message,
path references (open/accept/close), the deliberate retransmission flagged, UDP frames
(port and heuristic) decoded.  messenger-serial.pcap (USER0): good CRCs verified, the
one bad CRC reported.  messenger-live-udp.pcap and messenger-live-minet.pcap (captured from
a running cluster): clean, every frame Messenger (the UDP one through the heuristic),
reassembly on a tracked path with its message counts, inner ICMP echo request/reply, ARP
and a 64 KiB TCP transfer in MINET.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import msgrtest as mt  # noqa: E402


def fields(ts, pcap, names, two_pass=True, dfilter=None):
    args = (["-2"] if two_pass else []) + ["-r", pcap, "-T", "fields", "-E", "occurrence=a",
                                           "-E", "aggregator=,"]
    if dfilter:
        args += ["-Y", dfilter]
    for n in names:
        args += ["-e", n]
    _, out, _ = ts.run(args, env={"WIRESHARK_ABORT_ON_DISSECTOR_BUG": "1"})
    return [line.split("\t") for line in out.splitlines()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--examples", required=True)
    ap.add_argument("--abi", default="4.0")
    a = ap.parse_args()

    ts = mt.Tshark(a.plugin, a.abi)
    errors = []
    try:
        ts.assert_plugin_loaded()
        import shutil
        for f in ("messenger-example.pcap", "messenger-serial.pcap", "messenger-live-udp.pcap",
                  "messenger-live-minet.pcap"):
            shutil.copy(os.path.join(a.examples, f), ts.path(f))

        ex = ts.path("messenger-example.pcap")
        rows = fields(ts, ex, ["frame.number", "frame.protocols", "_ws.malformed", "_ws.expert.severity",
                               "_ws.expert.message"])
        if len(rows) < 30:
            errors.append("example: only %d frames" % len(rows))
        for r in rows:
            num, protos, malformed, sev, msg = (r + [""] * 5)[:5]
            if "msgr" not in protos.split(":"):
                errors.append("example frame %s: not decoded as msgr (%s)" % (num, protos))
            if malformed or "_ws.malformed" in protos:
                errors.append("example frame %s: malformed (%s)" % (num, msg))
            for s, m in zip(sev.split(","), msg.split(",")):
                if s and int(s, 0) >= 0x00800000:
                    errors.append("example frame %s: error expert: %s" % (num, m))

        icmp = fields(ts, ex, ["frame.number", "icmp.type"], dfilter="msgr.type == 0x13 && icmp")
        types = sorted(r[1] for r in icmp)
        if not {"0", "8"} <= set(types):
            errors.append("example: expected inner ICMP echo request and reply in MINET, got %r" % types)

        reasm = fields(ts, ex, ["msgr.reasm.reassembled_length", "msgr.data.payload"],
                       dfilter="msgr.reasm.reassembled_length")
        if not reasm or reasm[0][0] != "3000":
            errors.append("example: fragmented message not reassembled (%r)" % reasm)

        paths = fields(ts, ex, ["frame.number", "msgr.path.open_frame", "msgr.path.accept_frame",
                                "msgr.path.close_frame"], dfilter="msgr.type == 0x10 && msgr.path")
        if not paths or not all(r[1] and r[2] and r[3] for r in paths):
            errors.append("example: DATA frames lack path open/accept/close references (%r)" % paths)

        rt = fields(ts, ex, ["frame.number", "msgr.analysis.original_frame"],
                    dfilter="msgr.analysis.retransmission")
        if len(rt) != 1:
            errors.append("example: expected exactly one retransmission, got %r" % rt)

        udp = fields(ts, ex, ["frame.number", "udp.dstport", "msgr.type"], dfilter="udp && msgr")
        if {r[1] for r in udp} != {"34997", "40001"}:
            errors.append("example: UDP bearer (port and heuristic) not decoded (%r)" % udp)

        members = fields(ts, ex, ["msgr.bundle.count", "msgr.member.type"], dfilter="msgr.type == 0x12")
        if not members or members[0][0] != "3":
            errors.append("example: bundle members not decoded (%r)" % members)

        ser = ts.path("messenger-serial.pcap")
        rows = fields(ts, ser, ["frame.number", "msgr.cap.fcs.status", "msgr.type", "_ws.malformed"])
        status = [r[1] for r in rows]
        if status != ["1", "1", "1", "0", ""]:  # 1 = good, 0 = bad, none without FCS
            errors.append("serial: FCS status %r, expected good, good, good, bad, none" % status)
        if any(r[3] for r in rows) or [r[2] for r in rows] != ["0x10", "0x04", "0x10", "0x10", "0x10"]:
            errors.append("serial: frames not decoded as expected: %r" % rows)

        # Live captures from a running cluster (tests/dissector/live_capture.sh,
        # target dissector-live-examples): clean, every frame Messenger; one tshark run each.
        live_fields = ["frame.number", "frame.protocols", "_ws.expert.severity", "_ws.expert.message", "udp.port",
                       "msgr.type", "msgr.member.type", "msgr.reasm.reassembled_length", "msgr.path.open_frame",
                       "msgr.path.accept_frame", "msgr.path.close_frame", "msgr.path.abort_frame", "msgr.path.name",
                       "msgr.path.messages_fwd", "icmp.type", "arp.opcode", "tcp.len"]
        live = {}
        for f in ("messenger-live-udp.pcap", "messenger-live-minet.pcap"):
            rows = [dict(zip(live_fields, [v.split(",") if v else [] for v in r + [""] * len(live_fields)]))
                    for r in fields(ts, ts.path(f), live_fields)]
            live[f] = rows
            if len(rows) < 30:
                errors.append("%s: only %d frames" % (f, len(rows)))
            for r in rows:
                num, protos = r["frame.number"][0], (r["frame.protocols"] or [""])[0]
                if "msgr" not in protos.split(":") or "_ws.malformed" in protos:
                    errors.append("%s frame %s: not a clean Messenger frame (%s)" % (f, num, protos))
                if "34997" in r["udp.port"]:
                    errors.append("%s frame %s: bearer on port 34997, the heuristic is not exercised" % (f, num))
                for s_, m in zip(r["_ws.expert.severity"], r["_ws.expert.message"]):
                    if s_ and int(s_, 0) >= 0x00800000:
                        errors.append("%s frame %s: error expert: %s" % (f, num, m))
        rows = live["messenger-live-udp.pcap"]
        re = [r for r in rows if r["msgr.reasm.reassembled_length"]]
        if not re or not all(r["msgr.reasm.reassembled_length"] == ["5000"] and r["msgr.path.open_frame"]
                             and r["msgr.path.accept_frame"]
                             and (r["msgr.path.close_frame"] or r["msgr.path.abort_frame"]) for r in re):
            errors.append("live udp: no reassembled 5000-byte message on a tracked path (%r)" % re[:3])
        kinds = {t for r in rows for t in r["msgr.type"] + r["msgr.member.type"]}
        if not {"0x28", "0x29"} <= kinds:
            errors.append("live udp: PATH_OPEN/ACCEPT not both present (%r)" % kinds)
        counts = {}
        for r in rows:
            for name, n in zip(r["msgr.path.name"], r["msgr.path.messages_fwd"]):  # one per bundle member
                counts[name] = max(counts.get(name, 0), int(n))
        if counts != {"svc/big": 3, "svc/small": 20}:
            errors.append("live udp: path DATA message counts %r, expected svc/big 3, svc/small 20" % counts)
        rows = live["messenger-live-minet.pcap"]
        minet = [r for r in rows if "0x13" in r["msgr.type"] or r["msgr.reasm.reassembled_length"]]
        icmp = {t for r in minet for t in r["icmp.type"]}
        arp = [r for r in minet if r["arp.opcode"]]
        if not {"0", "8"} <= icmp or not arp:
            errors.append("live minet: inner ICMP echo request/reply and ARP expected (icmp %r, arp %d)" % (icmp, len(arp)))
        tcp = sum(int(x) for r in minet for x in r["tcp.len"])
        if tcp != 65536:
            errors.append("live minet: inner TCP carried %d payload bytes, expected 65536" % tcp)
    finally:
        ts.cleanup()
    if errors:
        for e in errors:
            print("FAIL: " + e)
        return 1
    print("PASS: example captures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
