#!/usr/bin/python3
"""check_vectors.py — validate spec/vectors/*.json against spec/vectors/FORMAT.md.

    /usr/bin/python3 spec/tools/check_vectors.py [--schema-only] [VECTOR_DIR]

Schema checks (always): file names NNN-name.json matching `name`, unique names and numbers,
required keys present and no unknown keys, lower-case even-length hex, kind/valid/error
consistency, per-kind `fields` shape, header fields consistent with the hex, requirement
IDs well-formed and listed in REQUIREMENTS-USED.txt, at least 60 vectors, and at least one
valid and one invalid vector for every message type (and every non-frame kind).

Semantic checks (unless --schema-only): every vector is run through the reference decoder
(refdecode.py / mpspec.py): valid ones must decode to exactly `fields`, invalid ones must
fail with exactly `error`; serial vectors are run through the reference de-framer;
patterns through the reference matcher.

Exit status 0 when everything passes, 1 otherwise (each problem is printed).
"""
import json
import os
import re
import sys

sys.dont_write_bytecode = True  # keep spec/tools free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpspec  # noqa: E402
import refdecode  # noqa: E402

KINDS = {"frame", "serial", "caphdr", "name", "pattern"}
TOP_KEYS = {"name", "description", "requirements", "kind", "valid", "hex", "fields", "error",
            "canonical"}
REQ_KEYS = {"name", "description", "requirements", "kind", "valid", "hex"}
FILE_RE = re.compile(r"^(\d{3})-([a-z0-9]+(?:-[a-z0-9]+)*)\.json$")
NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
HEX_RE = re.compile(r"^(?:[0-9a-f]{2})*$")
REQ_RE = re.compile(r"^MSG-(HDR|OPT|DISC|LINK|STATE|DATA|FRAG|BNDL|MINET|NAME|PATH|STAT|MGMT|SEC|SER|CAP)-[1-9][0-9]*$")
SER_KEYS = {"frames", "crc_errors", "framing_errors", "overruns", "runts"}
SER_ERR = {"MP_ECRC": "crc_errors", "MP_EFRAMING": "framing_errors",
           "MP_ENOSPC": "overruns", "MP_ETRUNC": "runts"}
MIN_VECTORS = 60


def main(argv):
    schema_only = "--schema-only" in argv
    args = [a for a in argv if not a.startswith("--")]
    vdir = args[0] if args else os.path.normpath(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vectors"))
    problems = []

    def bad(fn, msg):
        problems.append("%s: %s" % (fn, msg))

    reqs_listed = None
    rpath = os.path.join(vdir, "REQUIREMENTS-USED.txt")
    if os.path.exists(rpath):
        reqs_listed = set()
        with open(rpath, encoding="utf-8") as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    rid = line.split("\t", 1)[0].strip()
                    if not REQ_RE.match(rid) or "\t" not in line:
                        bad("REQUIREMENTS-USED.txt", "bad line: %r" % line)
                    reqs_listed.add(rid)
    else:
        bad(vdir, "REQUIREMENTS-USED.txt missing")
    reqs_used = set()

    names, nums, count = {}, {}, 0
    seen = {}  # (kind or type name, valid) -> count
    files = sorted(os.listdir(vdir))
    for fn in files:
        if not fn.endswith(".json"):
            continue
        m = FILE_RE.match(fn)
        if not m:
            bad(fn, "file name is not NNN-kebab-name.json")
            continue
        try:
            with open(os.path.join(vdir, fn), encoding="utf-8") as f:
                v = json.load(f)
        except (OSError, ValueError) as e:
            bad(fn, "unreadable JSON: %s" % e)
            continue
        count += 1
        if not isinstance(v, dict):
            bad(fn, "not a JSON object")
            continue
        miss = REQ_KEYS - set(v)
        if miss:
            bad(fn, "missing keys %s" % sorted(miss))
            continue
        extra = set(v) - TOP_KEYS
        if extra:
            bad(fn, "unknown keys %s" % sorted(extra))
        name, kind, valid, hx = v["name"], v["kind"], v["valid"], v["hex"]
        if not isinstance(name, str) or not NAME_RE.match(name):
            bad(fn, "name not kebab-case")
        elif name != m.group(2):
            bad(fn, "name %r does not match the file name" % name)
        if name in names:
            bad(fn, "duplicate name (also %s)" % names[name])
        names[name] = fn
        if m.group(1) in nums:
            bad(fn, "duplicate number (also %s)" % nums[m.group(1)])
        nums[m.group(1)] = fn
        if not isinstance(v["description"], str) or not v["description"] or "\n" in v["description"]:
            bad(fn, "description must be one non-empty line")
        if not isinstance(v["requirements"], list):
            bad(fn, "requirements must be a list")
        else:
            for r in v["requirements"]:
                if not isinstance(r, str) or not REQ_RE.match(r):
                    bad(fn, "bad requirement id %r" % (r,))
                else:
                    reqs_used.add(r)
                    if reqs_listed is not None and r not in reqs_listed:
                        bad(fn, "requirement %s not in REQUIREMENTS-USED.txt" % r)
        if kind not in KINDS:
            bad(fn, "bad kind %r" % (kind,))
            continue
        if not isinstance(valid, bool):
            bad(fn, "valid must be true or false")
            continue
        if not isinstance(hx, str) or not HEX_RE.match(hx):
            bad(fn, "hex must be lower-case, even-length hex")
            continue
        raw = bytes.fromhex(hx)
        if "canonical" in v and (kind != "serial" or not valid or not isinstance(v["canonical"], bool)):
            bad(fn, "canonical only for valid serial vectors, as a boolean")
        if valid:
            if "error" in v:
                bad(fn, "valid vector with error")
            if not isinstance(v.get("fields"), dict):
                bad(fn, "valid vector without a fields object")
                continue
        else:
            if v.get("error") not in mpspec.ERRORS:
                bad(fn, "invalid vector needs a known error name, got %r" % (v.get("error"),))
                continue
            if kind == "serial":
                if not isinstance(v.get("fields"), dict):
                    bad(fn, "invalid serial vector must still carry fields (counters)")
                    continue
            elif "fields" in v:
                bad(fn, "invalid %s vector must not carry fields" % kind)
        fields = v.get("fields")

        # which bucket for the coverage check
        if kind == "frame":
            bucket = mpspec.TYPE_NAMES.get(raw[1]) if len(raw) >= 2 else None
        else:
            bucket = "kind:" + kind
        if bucket:
            seen[(bucket, valid)] = seen.get((bucket, valid), 0) + 1

        # per-kind shape
        if kind == "frame" and valid:
            check_frame_fields(fn, raw, fields, bad)
        elif kind == "serial":
            if set(fields) != SER_KEYS:
                bad(fn, "serial fields must be exactly %s" % sorted(SER_KEYS))
                continue
            if not all(isinstance(x, str) and HEX_RE.match(x) for x in fields["frames"]):
                bad(fn, "serial frames must be hex strings")
            if valid and not fields["frames"]:
                bad(fn, "valid serial vector emits no frame")
            if not valid:
                if fields["frames"]:
                    bad(fn, "invalid serial vector emits frames")
                if v["error"] not in SER_ERR or not fields[SER_ERR[v["error"]]]:
                    bad(fn, "serial error must name a non-zero counter")
        elif kind == "caphdr" and valid:
            if set(fields) != {"bearer", "cflags", "bearer_index"}:
                bad(fn, "caphdr fields must be bearer, cflags, bearer_index")
        elif kind == "name" and valid:
            if set(fields) != {"name"} or fields["name"].encode("latin-1") != raw:
                bad(fn, "name fields must be {name} equal to hex")
        elif kind == "pattern" and valid:
            if set(fields) != {"pattern", "match", "nomatch"} or fields["pattern"].encode("latin-1") != raw:
                bad(fn, "pattern fields must be {pattern, match, nomatch} with pattern equal to hex")
        if kind in ("name",) and not valid and v["error"] != "MP_ENAME":
            bad(fn, "invalid name vectors fail with MP_ENAME")
        if kind in ("pattern",) and not valid and v["error"] != "MP_EPATTERN":
            bad(fn, "invalid pattern vectors fail with MP_EPATTERN")

        if not schema_only:
            semantic(fn, v, raw, bad)

    if count < MIN_VECTORS:
        bad(vdir, "only %d vectors (need >= %d)" % (count, MIN_VECTORS))
    for t in list(mpspec.TYPES) + ["kind:" + k for k in sorted(KINDS - {"frame"})]:
        for val in (True, False):
            if not seen.get((t, val)):
                bad(vdir, "no %s vector for %s" % ("valid" if val else "invalid", t))
    if reqs_listed is not None:
        for r in sorted(reqs_listed - reqs_used):
            bad("REQUIREMENTS-USED.txt", "%s listed but used by no vector" % r)

    for p in problems:
        print("FAIL " + p)
    nv = sum(n for (b, val), n in seen.items() if val)
    print("%d vectors (%d valid, %d invalid), %d requirement IDs, %d problem(s)%s"
          % (count, nv, count - nv, len(reqs_used), len(problems),
             " [schema only]" if schema_only else ""))
    return 1 if problems else 0


def check_frame_fields(fn, raw, fields, bad):
    need = {"version", "flags", "type", "type_code", "length", "body"}
    if len(raw) < 4:
        bad(fn, "valid frame shorter than 4 bytes")
        return
    seq = mpspec.is_sequenced(raw[1])
    if seq:
        need |= {"seq", "ack", "chan", "cseq"}
    if set(fields) != need:
        bad(fn, "frame fields must be exactly %s" % sorted(need))
        return
    if mpspec.TYPES.get(fields["type"]) != fields["type_code"] or fields["type_code"] != raw[1]:
        bad(fn, "type/type_code disagree with each other or with the hex")
    if fields["version"] != raw[0] >> 4 or fields["flags"] != raw[0] & 0xF:
        bad(fn, "version/flags disagree with the hex")
    ln = int.from_bytes(raw[2:4], "big")
    if fields["length"] != ln or len(raw) < ln:
        bad(fn, "length disagrees with the hex")
    if seq and len(raw) >= 16:
        if (fields["seq"], fields["ack"], fields["chan"], fields["cseq"]) != (
                int.from_bytes(raw[4:6], "big"), int.from_bytes(raw[6:8], "big"),
                int.from_bytes(raw[8:12], "big"), int.from_bytes(raw[12:16], "big")):
            bad(fn, "seq/ack/chan/cseq disagree with the hex")
    if not isinstance(fields["body"], dict):
        bad(fn, "body must be an object")


def semantic(fn, v, raw, bad):
    kind, valid = v["kind"], v["valid"]
    try:
        if kind == "frame":
            got = refdecode.decode_frame(raw)
        elif kind == "caphdr":
            got = refdecode.decode_caphdr(raw)
        elif kind == "name":
            if not mpspec.name_ok(raw):
                raise refdecode.MPError("MP_ENAME")
            got = {"name": raw.decode("ascii")}
        elif kind == "pattern":
            if not mpspec.pattern_ok(raw):
                raise refdecode.MPError("MP_EPATTERN")
            got = dict(v.get("fields", {}))
            for n in got.get("match", []):
                if not mpspec.name_ok(n.encode()) or not mpspec.pattern_match(raw, n.encode()):
                    bad(fn, "reference matcher: %r should match" % n)
            for n in got.get("nomatch", []):
                if not mpspec.name_ok(n.encode()) or mpspec.pattern_match(raw, n.encode()):
                    bad(fn, "reference matcher: %r should not match" % n)
        else:  # serial
            frames, cnt = mpspec.deframe(raw)
            got = {"frames": [f.hex() for f in frames]}
            got.update(cnt)
            if got != v["fields"]:
                bad(fn, "reference de-framer gives %s" % json.dumps(got)[:300])
            if valid and v.get("canonical"):
                if b"".join(mpspec.serial_wrap(f) for f in frames) != raw:
                    bad(fn, "canonical but re-wrapping the frames differs from hex")
            return
    except refdecode.MPError as e:
        if valid:
            bad(fn, "reference decoder rejects a valid vector with %s" % e.name)
        elif e.name != v["error"]:
            bad(fn, "reference decoder gives %s, vector says %s" % (e.name, v["error"]))
        return
    if not valid:
        bad(fn, "reference decoder accepts an invalid vector (expected %s)" % v["error"])
    elif got != v["fields"]:
        bad(fn, "reference decoder gives different fields: %s" % json.dumps(got)[:400])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
