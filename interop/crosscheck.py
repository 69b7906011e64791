#!/usr/bin/python3
"""Cross-check every spec vector between the RFC (via the Scapy layers and the
independent validator in scapy_msgr/) and the C codec (msgr-codec).

For each vector of kind frame:
  (a) valid:   Scapy dissects the bytes and its fields equal the vector's `fields`;
      invalid: the strict validator reports the vector's `error`;
  (b) valid:   Scapy BUILDS the frame from `fields` and the bytes equal `hex[:2*length]`;
  (c) the C codec agrees on the Scapy-built bytes (decode --json equals `fields`,
      reencode equals the bytes); for invalid vectors the codec reports `error`.
Vectors of kind serial, caphdr, name and pattern are checked the same way with the
helpers of scapy_msgr.  Every disagreement is printed with the RFC section at stake.

Usage: crosscheck.py --codec PATH [--vectors DIR] [--junit FILE]
Exit status 0 when everything agrees, 1 otherwise.
"""
import argparse
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scapy_msgr import (dissect, to_fields, from_fields, validate, validate_caphdr,  # noqa: E402
                        check_name, check_pattern, pattern_match, serial)
from scapy_msgr.layers import MsgrCapHdr, BEARERS, TYPES  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SECTION = {"DISCOVER": "5.1", "LINK_RESET": "5.2", "LINK_ACTIVATE": "5.2",
           "LINK_STATE": "5.3", "DATA": "5.4", "FRAGMENT": "5.5", "BUNDLE": "5.6",
           "MINET": "5.7", "NAME_PUBLISH": "5.8", "NAME_WITHDRAW": "5.9",
           "NAME_SYNC": "5.10", "PATH_OPEN": "5.11", "PATH_ACCEPT": "5.12",
           "PATH_CLOSE": "5.13", "PATH_ABORT": "5.14", "PATH_CREDIT": "5.15",
           "SERVICE_STATUS": "5.16", "MGMT": "5.17", "SECURED": "5.18",
           "KEY_EXCHANGE": "5.19"}


def section_of(v):
    """The RFC section a vector is about (for the disagreement report)."""
    k = v["kind"]
    if k == "serial":
        return "14.3"
    if k == "caphdr":
        return "15"
    if k == "name":
        return "8.1"
    if k == "pattern":
        return "8.2"
    secs = set()
    if v.get("fields"):
        secs.add(SECTION.get(v["fields"].get("type"), "3"))
    else:
        b = bytes.fromhex(v["hex"])
        if len(b) >= 2 and b[1] in TYPES:
            secs.add(SECTION[TYPES[b[1]]])
    if v.get("name", "").startswith("prec") or v.get("error") in ("MP_ETRUNC", "MP_EVERSION"):
        secs.add("3.8")
    for r in v.get("requirements", []):
        if r.startswith("MSG-OPT"):
            secs.add("4")
        if r.startswith("MSG-HDR"):
            secs.add("3")
    return ", ".join(sorted(secs)) or "3"


class Codec:
    def __init__(self, path):
        self.path = path

    def run(self, *args, stdin=None):
        p = subprocess.run([self.path, *args], input=stdin, capture_output=True, text=True)
        out = p.stdout.strip().splitlines()
        return p.returncode, out

    def decode(self, hexs):
        rc, out = self.run("decode", "--json", "-", stdin=hexs)
        if rc == 0:
            return json.loads(out[-1]), None
        return None, (out[-1] if out else "rc=%d" % rc)

    def reencode(self, hexs):
        rc, out = self.run("reencode", "-", stdin=hexs)
        return (out[-1] if out else "") if rc == 0 else None


def diff(a, b, path=""):
    """First difference between two JSON values, as a readable string."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                return "%s.%s: missing on the left" % (path, k)
            if k not in b:
                return "%s.%s: missing on the right" % (path, k)
            d = diff(a[k], b[k], "%s.%s" % (path, k))
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return "%s: %d items vs %d" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    return None if a == b else "%s: %r vs %r" % (path, a, b)


def check_frame(v, codec, problems):
    hexs = v["hex"]
    raw = bytes.fromhex(hexs)
    if v["valid"]:
        f = v["fields"]
        n = f["length"]
        want = hexs[:2 * n]
        e = validate(raw)
        if e:
            problems.append(("validator", "rejects a valid vector with %s" % e))
        try:
            got = to_fields(dissect(raw))
            d = diff(got, f)
            if d:
                problems.append(("scapy-dissect", d))
        except Exception as ex:  # noqa: BLE001
            problems.append(("scapy-dissect", "exception %r" % ex))
        try:
            built = bytes(from_fields(f)).hex()
            if built != want:
                problems.append(("scapy-build", "built %s... != vector %s..." %
                                 (built[:64], want[:64])))
            rebuilt = bytes(from_fields(f, keep_length=False)).hex()
            if rebuilt != want:
                problems.append(("scapy-build", "auto length gives a different frame"))
        except Exception as ex:  # noqa: BLE001
            built = want
            problems.append(("scapy-build", "exception %r" % ex))
        if codec:
            cf, err = codec.decode(built)
            if err:
                problems.append(("codec-decode", "C codec rejects the Scapy-built frame: %s" % err))
            else:
                d = diff(cf, f)
                if d:
                    problems.append(("codec-decode", "C fields differ: %s" % d))
            re_ = codec.reencode(built)
            if re_ != want:
                problems.append(("codec-reencode", "C reencode %r" % (re_ or "")[:64]))
            if hexs != want:      # padding vectors: the codec decodes the padded input too
                cf, err = codec.decode(hexs)
                if err or diff(cf, f):
                    problems.append(("codec-decode", "padded input: %s" % (err or diff(cf, f))))
    else:
        e = validate(raw)
        if e != v["error"]:
            problems.append(("validator", "Scapy validator says %s, vector says %s" %
                             (e or "valid", v["error"])))
        if codec:
            cf, err = codec.decode(hexs)
            if err != v["error"]:
                problems.append(("codec-decode", "C codec says %s, vector says %s" %
                                 (err or "valid", v["error"])))
            if err and e and err != e:
                problems.append(("scapy-vs-codec", "validator %s, codec %s" % (e, err)))


def check_serial(v, codec, problems):
    d = serial.Deframer().feed(bytes.fromhex(v["hex"])).counters()
    f = v["fields"]
    dd = diff(d, {k: f[k] for k in d})
    if dd:
        problems.append(("scapy-serial", dd))
    if not v["valid"]:
        ctr = {"MP_ECRC": "crc_errors", "MP_EFRAMING": "framing_errors",
               "MP_ENOSPC": "overruns", "MP_ETRUNC": "runts"}[v["error"]]
        if d["frames"] or not d[ctr]:
            problems.append(("scapy-serial", "expected no frame and %s > 0" % ctr))
    if v.get("canonical"):
        enc = b"".join(serial.encode(bytes.fromhex(x)) for x in f["frames"]).hex()
        if enc != v["hex"]:
            problems.append(("scapy-serial-encode", "%s... != %s..." % (enc[:48], v["hex"][:48])))
        if codec:
            for x in f["frames"]:
                rc, out = codec.run("serial-encode", "-", stdin=x)
                if rc != 0 or out[-1] != serial.encode(bytes.fromhex(x)).hex():
                    problems.append(("codec-serial-encode", "differs from Scapy helper"))


def check_caphdr(v, codec, problems):
    raw = bytes.fromhex(v["hex"])
    e = validate_caphdr(raw)
    if v["valid"]:
        if e:
            problems.append(("validator", "rejects valid caphdr: %s" % e))
        p = MsgrCapHdr(raw)
        got = {"bearer": int(p.bearer), "cflags": int(p.cflags), "bearer_index": int(p.bearer_index)}
        dd = diff(got, v["fields"])
        if dd:
            problems.append(("scapy-caphdr", dd))
        b = bytes(MsgrCapHdr(**v["fields"])).hex()
        if b != v["hex"]:
            problems.append(("scapy-caphdr-build", b))
    elif e != v["error"]:
        problems.append(("validator", "caphdr: %s vs %s" % (e, v["error"])))


def check_name_vec(v, codec, problems):
    raw = bytes.fromhex(v["hex"])
    if v["kind"] == "name":
        ok = check_name(raw)
        if ok != v["valid"]:
            problems.append(("validator", "name valid=%s, vector %s" % (ok, v["valid"])))
    else:
        ok = check_pattern(raw)
        if ok != v["valid"]:
            problems.append(("validator", "pattern valid=%s, vector %s" % (ok, v["valid"])))
        if ok and v["valid"]:
            for nm in v["fields"].get("match", []):
                if not pattern_match(raw, nm.encode()):
                    problems.append(("scapy-match", "%s should match %s" % (raw, nm)))
            for nm in v["fields"].get("nomatch", []):
                if pattern_match(raw, nm.encode()):
                    problems.append(("scapy-match", "%s should not match %s" % (raw, nm)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--codec", default=os.environ.get("MSGR_CODEC"))
    ap.add_argument("--vectors", default=os.path.join(ROOT, "spec", "vectors"))
    ap.add_argument("--junit")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    codec = Codec(a.codec) if a.codec else None
    if not codec:
        print("NOTE: no --codec given: step (c) skipped")
    files = sorted(glob.glob(os.path.join(a.vectors, "[0-9]*.json")))
    results = []
    counts = {}
    for fn in files:
        v = json.load(open(fn))
        problems = []
        k = v["kind"]
        try:
            {"frame": check_frame, "serial": check_serial, "caphdr": check_caphdr,
             "name": check_name_vec, "pattern": check_name_vec}[k](v, codec, problems)
        except Exception as ex:  # noqa: BLE001
            problems.append(("crosscheck", "exception %r" % ex))
        counts[k] = counts.get(k, 0) + 1
        results.append((os.path.basename(fn), v, problems))
        for who, msg in problems:
            print("DISAGREE %s [RFC %s] %s: %s" % (os.path.basename(fn), section_of(v), who, msg))
        if a.verbose and not problems:
            print("ok %s" % os.path.basename(fn))
    bad = sum(1 for r in results if r[2])
    print("crosscheck: %d vectors (%s), %d agree, %d disagree" % (
        len(results), ", ".join("%s %d" % kv for kv in sorted(counts.items())),
        len(results) - bad, bad))
    if a.junit:
        from xml.sax.saxutils import escape, quoteattr
        with open(a.junit, "w") as out:
            out.write('<?xml version="1.0"?>\n<testsuite name="interop_crosscheck" tests="%d" '
                      'failures="%d">\n' % (len(results), bad))
            for name, v, pr in results:
                out.write('  <testcase classname="vectors" name=%s>' % quoteattr(name))
                for who, msg in pr:
                    out.write('<failure message=%s>%s</failure>' % (
                        quoteattr(who), escape("[RFC %s] %s" % (section_of(v), msg))))
                out.write('</testcase>\n')
            out.write('</testsuite>\n')
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
