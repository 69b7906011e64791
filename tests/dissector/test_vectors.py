#!/usr/bin/env python3
"""Every spec/vectors/*.json of kind "frame", decoded by tshark with the Messenger plugin.

Valid vectors: each decoded field equals the vector's `fields` (header fields and every
scalar and list body field, mapped to msgr.<type>.<key>), and no warning/error expert
info is raised.  Invalid vectors: at least one warning/error expert info from msgr, and
never a malformed-packet exception or a dissector bug.

The vectors go into one Ethernet pcap (EtherType 0x88B5), each on its own MAC pair so
the per-link sequence analysis does not relate unrelated vectors.
"""
import argparse
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import msgrtest as mt  # noqa: E402

PREFIX = {
    "DISCOVER": "discover", "LINK_RESET": "link", "LINK_ACTIVATE": "link",
    "LINK_STATE": "link_state", "DATA": "data", "FRAGMENT": "fragment", "BUNDLE": "bundle",
    "MINET": "minet", "NAME_PUBLISH": "name", "NAME_WITHDRAW": "name_withdraw",
    "NAME_SYNC": "name_sync", "PATH_OPEN": "path_open", "PATH_ACCEPT": "path_accept",
    "PATH_CLOSE": "path_close", "PATH_ABORT": "path_abort", "PATH_CREDIT": "path_credit",
    "SERVICE_STATUS": "service_status", "MGMT": "mgmt", "SECURED": "secured",
    "KEY_EXCHANGE": "key_exchange",
}
# Errors only an encoder can make; nothing on the wire to flag.
ENCODER_ONLY = {"MP_EINVAL", "MP_ENOSPC"}
SEV_WARN = 0x00600000


def expected_pairs(fields):
    """The vector's fields as [(tshark field, value)] in wire order."""
    out = []
    out.append(("msgr.version", fields.get("version")))
    out.append(("msgr.flags", fields.get("flags")))
    out.append(("msgr.type", fields.get("type_code")))
    out.append(("msgr.length", fields.get("length")))
    for k in ("seq", "ack", "chan", "cseq"):
        if k in fields:
            out.append(("msgr." + k, fields[k]))
    body = fields.get("body") or {}
    walk_body(body, "msgr." + PREFIX.get(fields.get("type"), "unknown"), out)
    return [(k, v) for k, v in out if v is not None]


def walk_body(body, prefix, out):
    for k, v in body.items():
        if k == "opts":
            for o in v:
                out.append(("msgr.opt.type", o["type"]))
                out.append(("msgr.opt.value", o.get("value", "")))
        elif k == "gaps":
            for g in v:
                out.append((prefix + ".gap.start", g["start"]))
                out.append((prefix + ".gap.end", g["end"]))
        elif k == "uops":
            for u in v:
                out.append((prefix + ".uop.opcode", u["opcode"]))
                out.append((prefix + ".uop.arg", u["arg"]))
        elif k == "props":
            for p in v:
                out.append(("msgr.name.prop.key", p["key"]))
                out.append(("msgr.name.prop.value", p.get("value", "")))
        elif k == "records":
            for r in v:
                walk_body(r, "msgr.name", out)
        elif k == "members":
            for m in v:
                for hk, fk in (("version", "version"), ("flags", "flags"), ("type_code", "type"),
                               ("length", "length"), ("chan", "chan"), ("cseq", "cseq")):
                    if hk in m:
                        out.append(("msgr.member." + fk, m[hk]))
                walk_body(m.get("body") or {}, "msgr." + PREFIX.get(m.get("type"), "unknown"), out)
        elif isinstance(v, dict):
            walk_body(v, prefix + "." + k, out)
        else:
            out.append((prefix + "." + k, v))


def same(expected, actual):
    if isinstance(expected, bool):
        expected = int(expected)
    if isinstance(expected, int):
        try:
            return int(str(actual).split()[0], 0) == expected
        except ValueError:
            return False
    a = str(actual)
    e = str(expected)
    return a == e or a.replace(":", "").lower() == e.lower()


def msgr_layers(pkt):
    layers = pkt["_source"]["layers"]
    m = layers.get("msgr")
    if m is None:
        return []
    return m if isinstance(m, list) else [m]


def experts(obj, found):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "_ws.expert":
                for e in (v if isinstance(v, list) else [v]):
                    found.append(e)
            experts(v, found)
    elif isinstance(obj, list):
        for x in obj:
            experts(x, found)
    return found


def severity(e):
    try:
        return int(str(e.get("_ws.expert.severity", "0")), 0)
    except ValueError:
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--vectors", required=True)
    ap.add_argument("--min", type=int, default=60)
    ap.add_argument("--abi", default="4.0")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()

    vecs = []
    for path in sorted(glob.glob(os.path.join(a.vectors, "*.json"))):
        with open(path) as f:
            v = json.load(f)
        if v.get("kind") == "frame":
            v["_file"] = os.path.basename(path)
            vecs.append(v)
    if len(vecs) < a.min:
        mt.fail("only %d frame vectors in %s (need at least %d)" % (len(vecs), a.vectors, a.min))

    ts = mt.Tshark(a.plugin, a.abi)
    try:
        ts.assert_plugin_loaded()
        pkts = []
        for i, v in enumerate(vecs):
            pkts.append(mt.eth(mt.mac(i + 1, 1), mt.mac(i + 1, 0), mt.ETHERTYPE_MSGR, bytes.fromhex(v["hex"])))
        pcap = ts.path("vectors.pcap")
        mt.write_pcap(pcap, mt.LINKTYPE_ETHERNET, pkts)
        rc, out, err = ts.run(["-r", pcap, "-T", "json", "--no-duplicate-keys"],
                              env={"WIRESHARK_ABORT_ON_DISSECTOR_BUG": "1"}, check=False)
        if rc != 0 or "Dissector bug" in out + err:
            mt.fail("tshark exit %d on vectors: %s" % (rc, err[-2000:]))
        decoded = json.loads(out)
        if len(decoded) != len(vecs):
            mt.fail("tshark returned %d packets for %d vectors" % (len(decoded), len(vecs)))

        failures = []
        n_valid = n_invalid = n_skipped = 0
        for v, pkt in zip(vecs, decoded):
            name = "%s (%s)" % (v["_file"], v.get("name"))
            layers = msgr_layers(pkt)
            text = json.dumps(pkt)
            if not layers:
                failures.append("%s: no msgr layer" % name)
                continue
            # A PI_MALFORMED expert item also adds a hidden "_ws.malformed"; an exception
            # adds "_ws.malformed.expert" ("Malformed Packet (Exception occurred)").
            if "_ws.malformed.expert" in text or "Exception occurred" in text or "Dissector bug" in text:
                failures.append("%s: malformed-packet exception or dissector bug" % name)
                continue
            ex = experts(layers, [])
            bad = [e for e in ex if severity(e) >= SEV_WARN]
            if v.get("valid"):
                n_valid += 1
                flat = mt.flatten(layers)
                actual = {}
                for k, val in flat:
                    actual.setdefault(k, []).append(val)
                exp = {}
                for k, val in expected_pairs(v["fields"]):
                    exp.setdefault(k, []).append(val)
                for k, vals in exp.items():
                    got = actual.get(k, [])
                    if not got and all(x == "" for x in vals):
                        continue  # empty byte strings are shown as absent
                    if len(got) != len(vals) or not all(same(e, g) for e, g in zip(vals, got)):
                        failures.append("%s: %s expected %r, decoded %r" % (name, k, vals, got))
                if bad:
                    failures.append("%s: valid vector raised expert info: %s" % (
                        name, "; ".join(e.get("_ws.expert.message", "?") for e in bad)))
            else:
                if v.get("error") in ENCODER_ONLY:
                    n_skipped += 1
                    continue
                n_invalid += 1
                if not bad:
                    failures.append("%s: invalid vector (%s) raised no warning/error expert info (%s)" % (
                        name, v.get("error"), "; ".join(e.get("_ws.expert.message", "?") for e in ex) or "none"))
            if a.verbose:
                print("ok?", name)
        print("frame vectors: %d valid, %d invalid, %d encoder-only skipped" % (n_valid, n_invalid, n_skipped))
        if failures:
            for f in failures:
                print("FAIL: " + f)
            print("%d failures" % len(failures))
            return 1
        print("PASS")
        return 0
    finally:
        ts.cleanup()


if __name__ == "__main__":
    sys.exit(main())
