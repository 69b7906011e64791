#!/usr/bin/python3
"""run_vectors.py — check the C codec (through msgr-codec) against spec/vectors/*.json.

For every vector (format: spec/vectors/FORMAT.md):
  frame   valid: `decode --json` equals `fields` (JSON equality) and `reencode` gives back
                 hex[:2*length]; invalid: exit 2 and the named error.
  serial  `serial` prints the de-framer's fields; they must equal `fields`; valid +
          canonical: the frames wrapped again (`serial-encode`) concatenate to `hex`;
          invalid: no frame, exit 2 and the named error.
  caphdr  valid: fields, and `caphdr --reencode` gives back hex; invalid: the error.
  name / pattern: valid: fields (patterns: every listed name sorted into match/nomatch
          by the codec); invalid: the error.
Fails if fewer than --min vectors exist, so an empty or lost vector folder is noticed.
Stdlib only; run with /usr/bin/python3.
"""
import argparse
import concurrent.futures
import glob
import json
import os
import subprocess
import sys


def run(codec, args, stdin_hex=None):
    """Run msgr-codec; the input hex goes through stdin (serial vectors exceed argv)."""
    p = subprocess.run([codec] + args, input=stdin_hex, capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout.splitlines(), p.stderr


def check_error(rc, out, err, want):
    if rc != 2:
        return "expected exit 2 with %s, got exit %d (%s)" % (want, rc, " | ".join(out)[:200] or err)
    if not out or out[-1].strip() != want:
        return "expected %s, got %r" % (want, out[-1] if out else "")
    return None


def check_json(line, want):
    try:
        got = json.loads(line)
    except (ValueError, TypeError) as e:
        return "output is not JSON (%s): %r" % (e, (line or "")[:200])
    if got != want:
        return "fields differ:\n    got  %s\n    want %s" % (json.dumps(got, sort_keys=True)[:2000],
                                                            json.dumps(want, sort_keys=True)[:2000])
    return None


def check_frame(codec, v):
    rc, out, err = run(codec, ["decode", "--json", "-"], v["hex"])
    if not v["valid"]:
        return check_error(rc, out, err, v["error"])
    if rc != 0:
        return "decode failed: exit %d %s %s" % (rc, " ".join(out), err)
    bad = check_json(out[0] if out else "", v["fields"])
    if bad:
        return bad
    rc, out, err = run(codec, ["reencode", "-"], v["hex"])
    want = v["hex"][:2 * v["fields"]["length"]]
    if rc != 0 or not out or out[0] != want:
        return "reencode: exit %d, got %s, want %s" % (rc, (out[0] if out else err)[:400], want[:400])
    return None


def check_serial(codec, v):
    rc, out, err = run(codec, ["serial", "-"], v["hex"])
    bad = check_json(out[0] if out else "", v["fields"])
    if bad:
        return bad
    if not v["valid"]:
        return check_error(rc, out, err, v["error"])
    if rc != 0:
        return "serial: exit %d %s" % (rc, err)
    if v.get("canonical"):
        line = ""
        for fr in v["fields"]["frames"]:
            rc, out, err = run(codec, ["serial-encode", "-"], fr)
            if rc != 0 or not out:
                return "serial-encode failed: %s" % err
            line += out[0]
        if line != v["hex"]:
            return "serial re-encoding differs from the line bytes"
    return None


def check_caphdr(codec, v):
    rc, out, err = run(codec, ["caphdr", "-"], v["hex"])
    if not v["valid"]:
        return check_error(rc, out, err, v["error"])
    if rc != 0:
        return "caphdr: exit %d %s" % (rc, " ".join(out))
    bad = check_json(out[0] if out else "", v["fields"])
    if bad:
        return bad
    rc, out, err = run(codec, ["caphdr", "--reencode", "-"], v["hex"])
    if rc != 0 or not out or out[0] != v["hex"]:
        return "caphdr reencode: got %s want %s" % (out, v["hex"])
    return None


def check_name(codec, v):
    rc, out, err = run(codec, ["name", v["hex"]])
    if not v["valid"]:
        return check_error(rc, out, err, v["error"])
    if rc != 0:
        return "name: exit %d %s" % (rc, " ".join(out))
    return check_json(out[0] if out else "", v["fields"])


def check_pattern(codec, v):
    names = [] if not v["valid"] else v["fields"]["match"] + v["fields"]["nomatch"]
    rc, out, err = run(codec, ["pattern", v["hex"]] + names)
    if not v["valid"]:
        return check_error(rc, out, err, v["error"])
    if rc != 0:
        return "pattern: exit %d %s" % (rc, " ".join(out))
    return check_json(out[0] if out else "", v["fields"])


CHECKS = {"frame": check_frame, "serial": check_serial, "caphdr": check_caphdr,
          "name": check_name, "pattern": check_pattern}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codec", required=True, help="path to msgr-codec")
    ap.add_argument("--vectors", required=True, help="folder of NNN-*.json vectors")
    ap.add_argument("--min", type=int, default=60, help="fail if fewer vectors exist")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()

    files = sorted(glob.glob(os.path.join(a.vectors, "[0-9][0-9][0-9]-*.json")))

    def one(path):
        """(kind, problem or None) for one vector file."""
        try:
            with open(path) as fh:
                v = json.load(fh)
            for key in ("name", "kind", "valid", "hex"):
                if key not in v:
                    raise KeyError(key)
            if v["valid"] and "fields" not in v:
                raise KeyError("fields")
            if not v["valid"] and "error" not in v:
                raise KeyError("error")
            check = CHECKS.get(v["kind"])
            return v["kind"], (check(a.codec, v) if check else "unknown kind %r" % v["kind"])
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            return "?", "malformed vector: %r" % e

    # Each check is a few short processes; sanitizer builds start slowly, so run
    # them side by side (results are still reported in file order).
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        results = list(pool.map(one, files))

    failures, kinds = [], {}
    for path, (kind, problem) in zip(files, results):
        name = os.path.basename(path)
        kinds[kind] = kinds.get(kind, 0) + 1
        if problem:
            failures.append((name, problem))
            print("FAIL %s: %s" % (name, problem))
        elif a.verbose:
            print("ok   %s" % name)

    summary = ", ".join("%d %s" % (n, k) for k, n in sorted(kinds.items()))
    print("%d vectors (%s), %d failed" % (len(files), summary or "none", len(failures)))
    if len(files) < a.min:
        print("FAIL: only %d vectors in %s, at least %d expected" % (len(files), a.vectors, a.min))
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
