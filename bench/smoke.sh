#!/bin/sh
# bench_smoke: run every bench program for a tiny count and check each output line is a
# JSON object with the fields scripts/bench.sh needs, and that report.py renders it.
# Functional only: timings are never asserted.  usage: smoke.sh BINDIR
set -eu
d=$1
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$d/bench_shm" --runs 1 --count 1000 --rtts 100 >>"$out"
"$d/bench_ipc" --transport uds --runs 1 --count 1000 --rtts 100 >>"$out"
"$d/bench_udp" --addr-a 127.0.0.1 --addr-b 127.0.0.2 --runs 1 --count 1000 >>"$out"
"$d/bench_tcp" --addr-b 127.0.0.1 --runs 1 --count 1000 >>"$out"
"$d/bench_tcp" --addr-b 127.0.0.1 --runs 1 --test rtt --rtts 100 >>"$out"
"$d/bench_msgr" --label smoke --a "pcie:name=smoke$$,role=host,mode=poll" \
  --b "pcie:name=smoke$$,role=iop,mode=poll" --test tput --count 2000 --runs 1 >>"$out" 2>/dev/null
"$d/bench_msgr" --label smoke --a "pcie:name=smokr$$,role=host" --b "pcie:name=smokr$$,role=iop" \
  --test rtt --wait block --rtts 100 --runs 1 >>"$out" 2>/dev/null
"$d/bench_msgr" --label smoke --a "pcie:name=smoks$$,role=host" --b "pcie:name=smoks$$,role=iop" \
  --test steady --rate 2000 --duration-ms 300 --cut-at-ms 100 --cut-cmd true --runs 1 >>"$out" 2>/dev/null
want=16
if [ -x "$d/bench_api" ]; then # libmsgr and msgrd are in this build
  "$d/bench_api" --mode embedded --a "pcie:name=smoka$$,role=host" --b "pcie:name=smoka$$,role=iop" \
    --test rtt --rtts 50 --runs 1 >>"$out" 2>/dev/null
  "$d/bench_api" --mode daemon --a "pcie:name=smokd$$,role=host" --b "pcie:name=smokd$$,role=iop" \
    --test tput --count 200 --runs 1 >>"$out" 2>/dev/null
  want=20
fi
python3 - "$out" "$want" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    for k in ("bench", "case", "unit", "runs", "median", "min", "max", "p10", "p90"):
        assert k in o, (k, line)
    assert len(o["runs"]) >= 1 and o["min"] <= o["median"] <= o["max"], line
    if o["case"].startswith("lost"):
        assert o["median"] == 0, line  # functional: reliable delivery lost nothing
    n += 1
assert n >= int(sys.argv[2]), (n, sys.argv[2])
print("bench_smoke: %d figures, well-formed" % n)
PY
python3 "$here/report.py" "$out" | grep -q "Ratios against the alternatives"
