#!/usr/bin/env bash
# scripts/bench.sh [--quick] [--runs N] [scenario...] — Messenger against what users would
# pick instead (issue 11).  Scenarios: pcie eth loss minet serial failover sim profile
# supervise sec (default: all).
# Writes bench/results/<UTC date-time>.json (one JSON object per figure per line, with the
# load average before and after) and .md (tables), and copies them to latest.{json,md}.
# Every figure is a median over N runs (default 5, also with --quick) with min/max and
# p10/p90; ratios are against alternatives measured in the same invocation.
# eth, loss and failover need root (network namespaces, veth, nftables); without root
# they are skipped with a note.
#
# Topology (eth, loss, failover):
#
#   netns bnA                               netns bnB
#   +-----------------+                     +-----------------+
#   | bva0 10.77.0.1  |=== veth (eth) ======| bvb0 10.77.0.2  |   nft netdev ingress
#   | bva1 10.77.1.1  |=== veth (udp) ======| bvb1 10.77.1.2  |   tables: loss, cut
#   +-----------------+                     +-----------------+
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ARGS_ORIG=("$@")
QUICK=0
RUNS=5
SCEN=()
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1 ;;
    --runs) RUNS=$2; shift ;;
    -h|--help) sed -n 2,17p "$0"; exit 0 ;;
    *) SCEN+=("$1") ;;
  esac
  shift
done
[ ${#SCEN[@]} -eq 0 ] && SCEN=(pcie eth loss minet serial failover sim profile supervise sec)

# Build in a private tree holding only what the benchmarks need, so a layer being
# written elsewhere in the repository cannot stop a measurement.
BUILD=${BENCH_BUILD:-$ROOT/build/bench}
SRC=$BUILD/src
mkdir -p "$SRC"
cat >"$SRC/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.20)
project(msgr_bench C)
set(CMAKE_C_STANDARD 17)
set(CMAKE_C_STANDARD_REQUIRED ON)
set(CMAKE_C_EXTENSIONS OFF)
set(CMAKE_BUILD_TYPE RelWithDebInfo)
add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror)
find_package(PkgConfig)
enable_testing()
add_subdirectory($ROOT/proto proto)
add_subdirectory($ROOT/stack/core core)
add_subdirectory($ROOT/stack/sim sim)
add_subdirectory($ROOT/stack/bearer bearer)
$(for d in rt daemon client minet ha ctl; do
  [ -f "$ROOT/stack/$d/CMakeLists.txt" ] && [ "${BENCH_CORE_ONLY:-0}" = 0 ] && echo "add_subdirectory($ROOT/stack/$d $d)"
done)
$([ -f "$ROOT/stack/sec/CMakeLists.txt" ] && [ "${BENCH_CORE_ONLY:-0}" = 0 ] && echo "add_subdirectory($ROOT/stack/sec sec)")
add_subdirectory($ROOT/bench bench)
CM
echo "=== build ($BUILD)" >&2
cmake -S "$SRC" -B "$BUILD/out" >"$BUILD/cmake.log" 2>&1 || { cat "$BUILD/cmake.log"; echo "(BENCH_CORE_ONLY=1 leaves out the runtime, daemon, client and MINET)" >&2; exit 1; }
grep -h "bench:" "$BUILD/cmake.log" >&2 || true
# What every scenario needs first; then the parts that sit on the runtime (libmsgr,
# msgrd, MINET), which are skipped with a note if they do not build today.
cmake --build "$BUILD/out" -j"$(nproc)" --target bench_shm bench_msgr bench_ipc bench_udp bench_tcp msgr-sim \
  >"$BUILD/build.log" 2>&1 || { tail -30 "$BUILD/build.log"; exit 1; }
OPTIONAL_BUILT=0
HAVE_ZMQ=1; grep -q "libzmq not found" "$BUILD/cmake.log" && HAVE_ZMQ=0
cmake --build "$BUILD/out" -j"$(nproc)" --target bench_api msgrd msgr-minetd msgrctl msgr-ha-app bench_restart_model >>"$BUILD/build.log" 2>&1 && OPTIONAL_BUILT=1
B=$BUILD/out/bench
SIM=$BUILD/out/sim/msgr-sim

OUT=$ROOT/bench/results
mkdir -p "$OUT"
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
J=$BUILD/results.json.tmp   # in the build tree: an interrupted run leaves nothing in results/
: >"$J"
NOTES=$BUILD/notes.tmp
: >"$NOTES"
note() { echo "$*" | tee -a "$NOTES" >&2; }
[ $OPTIONAL_BUILT = 1 ] || note "SKIPPED libmsgr/msgrd/MINET figures: stack/rt, daemon, client or minet did not build (see $BUILD/build.log)"
run() { # run CMD...: JSON lines to $J, stderr to the log
  local t=$SECONDS
  echo "+ [$(date -u +%T)] $*" >>"$OUT/latest.log"
  # A hung run must not stop the suite: 300 s at most per command.
  timeout -k 5 300 "$@" 2>>"$OUT/latest.log" | tee -a "$J" | cut -c1-160 >&2 || note "command failed: $*"
  echo "  ($(( SECONDS - t )) s)" >>"$OUT/latest.log"
}
: >"$OUT/latest.log"
rm -f "$OUT/latest.json.tmp" "$OUT/notes.tmp" # left by older versions of this script
q() { [ $QUICK = 1 ] && echo "$1" || echo "$2"; } # q QUICK FULL
T0=$(date +%s)
echo "{\"meta\":1,\"host\":\"$(hostname)\",\"nproc\":$(nproc),\"kernel\":\"$(uname -r)\",\"runs\":$RUNS,\"quick\":$QUICK,\"date\":\"$(date -Is)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >>"$J"

# Linux TIPC, the in-kernel alternative closest to Messenger: only if this kernel has it.
TIPC_NOTED=0
tipc_check() {
  [ $TIPC_NOTED = 1 ] && return 0
  TIPC_NOTED=1
  command -v modprobe >/dev/null && modprobe tipc 2>/dev/null || true
  if python3 -c 'import socket; socket.socket(socket.AF_TIPC, socket.SOCK_RDM)' 2>/dev/null; then
    note "TIPC is available on this kernel but not benchmarked yet (bench/README.md: left to do)"
  else
    note "SKIPPED TIPC: this kernel has no AF_TIPC ($(uname -r); no TIPC module can be loaded)"
  fi
}

# reach NS IP: a TCP connect from NS gets an answer (SYN-ACK or RST); no ping needed.
reach() {
  ip netns exec "$1" python3 -c '
import socket, sys
s = socket.socket(); s.settimeout(1)
try:
    s.connect((sys.argv[1], 9))
except ConnectionRefusedError:
    pass
except OSError:
    sys.exit(1)' "$2"
}

NS_UP=0
ns_setup() {
  [ $NS_UP = 1 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then note "SKIPPED $1: needs root (netns/veth/nft)"; return 1; fi
  ns_teardown
  ip netns add bnA && ip netns add bnB
  ip link add bva0 type veth peer name bvb0
  ip link add bva1 type veth peer name bvb1
  ip link set bva0 netns bnA; ip link set bva1 netns bnA
  ip link set bvb0 netns bnB; ip link set bvb1 netns bnB
  ip -n bnA addr add 10.77.0.1/24 dev bva0; ip -n bnB addr add 10.77.0.2/24 dev bvb0
  ip -n bnA addr add 10.77.1.1/24 dev bva1; ip -n bnB addr add 10.77.1.2/24 dev bvb1
  for l in bva0 bva1 lo; do ip -n bnA link set $l up; done
  for l in bvb0 bvb1 lo; do ip -n bnB link set $l up; done
  NS_UP=1
}
ns_teardown() {
  ip netns del bnA 2>/dev/null || true
  ip netns del bnB 2>/dev/null || true
}
trap 'ns_teardown' EXIT
# nft_ingress NS DEV TABLE RULE|"" — (re)create a netdev ingress table with one rule.
nft_ingress() {
  ip netns exec "$1" nft delete table netdev "$3" 2>/dev/null || true
  [ -z "$4" ] && return 0
  ip netns exec "$1" nft -f - <<NFT
table netdev $3 {
  chain in { type filter hook ingress device "$2" priority 0; $4; }
}
NFT
}

ETH_A="eth:ifname=bva0,rcvbuf=8388608"
ETH_B="eth:ifname=bvb0,rcvbuf=8388608"

for s in "${SCEN[@]}"; do
  echo "=== scenario $s ($(( $(date +%s) - T0 )) s)" >&2
  echo "{\"scenario_start\":\"$s\",\"t\":$(( $(date +%s) - T0 )),\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >>"$J"
  case $s in
  pcie)
    # 64 B throughput: Messenger and the alternatives it is compared with, interleaved run
    # by run (one run per invocation; report.py merges them), so a change in the machine's
    # load hits all of them alike.  The rest runs N times per invocation.
    for r in $(seq "$RUNS"); do
      run "$B/bench_shm" --runs 1 --count "$(q 500000 1000000)" --rtts "$(q 5000 10000)" --size 64
      run "$B/bench_msgr" --label msgr_pcie_poll --a "pcie:name=bp$r$$,role=host,mode=poll" \
        --b "pcie:name=bp$r$$,role=iop,mode=poll" --test tput --size 64 --burst 1024 \
        --count "$(q 300000 600000)" --runs 1 --wait poll
      run "$B/bench_msgr" --label msgr_pcie_doorbell --a "pcie:name=br$r$$,role=host" \
        --b "pcie:name=br$r$$,role=iop" --test tput --size 64 --burst 1024 \
        --count "$(q 300000 600000)" --runs 1 --wait block
      if [ $HAVE_ZMQ = 1 ]; then
        run "$B/bench_ipc" --transport zmq --phase tput --runs 1 --size 64 --count "$(q 50000 200000)"
      fi
      run "$B/bench_ipc" --transport uds --phase tput --runs 1 --size 64 --count "$(q 50000 200000)"
    done
    run "$B/bench_shm" --runs "$RUNS" --count "$(q 100000 300000)" --rtts 1000 --size 1024
    run "$B/bench_msgr" --label msgr_pcie_poll --a "pcie:name=bp$$,role=host,mode=poll" \
      --b "pcie:name=bp$$,role=iop,mode=poll" --test tput --size 1024 --burst 1024 \
      --count "$(q 50000 100000)" --runs "$RUNS" --wait poll
    run "$B/bench_msgr" --label msgr_pcie_poll --a "pcie:name=bq$$,role=host,mode=poll" \
      --b "pcie:name=bq$$,role=iop,mode=poll" --test rtt --rtts "$(q 5000 10000)" --runs "$RUNS" --wait poll
    run "$B/bench_msgr" --label msgr_pcie_doorbell --a "pcie:name=bs$$,role=host" \
      --b "pcie:name=bs$$,role=iop" --test rtt --rtts "$(q 3000 10000)" --runs "$RUNS" --wait block
    run "$B/bench_ipc" --transport uds --phase rtt --runs "$RUNS" --size 64 --rtts "$(q 3000 5000)"
    run "$B/bench_ipc" --transport uds --phase both --runs "$RUNS" --size 1024 \
      --count "$(q 50000 200000)" --rtts "$(q 3000 5000)"
    if [ $OPTIONAL_BUILT = 1 ]; then
      # The API users program against: libmsgr, paths by name, credit.  Embedded nodes,
      # then application to application through two msgrd daemons.
      # tput uses --send-wait 0: the app waits for credit with msgr_wait(WRITABLE) itself
      # and bench_api stops with "credit stall" after 5 s without credit, so a
      # regression shows as a failed run instead of a hang.
      for md in embedded daemon; do
        run "$B/bench_api" --mode $md --send-wait 0 --a "pcie:name=ba$md$$,role=host" --b "pcie:name=ba$md$$,role=iop" \
          --test tput --size 64 --count "$(q 20000 30000)" --runs "$RUNS"
        run "$B/bench_api" --mode $md --a "pcie:name=bb$md$$,role=host" --b "pcie:name=bb$md$$,role=iop" \
          --test rtt --size 64 --rtts "$(q 2000 5000)" --runs "$RUNS"
      done
    fi
    TCPLO=("$B/bench_tcp" --label tcp_lo --addr-b 127.0.0.1 --runs "$RUNS")
    run "${TCPLO[@]}" --test tput --size 64 --count "$(q 100000 300000)"
    run "${TCPLO[@]}" --test rtt --wait block --rtts "$(q 3000 5000)"
    tipc_check
    for t in zmq nng; do
      for ph in tput rtt; do
        [ $t = zmq ] && [ $ph = tput ] && continue # measured above, interleaved
        rc=0
        # nng ipc moves ~20 k msg/s here: fewer messages, or it alone takes a minute.
        cnt=$(q 50000 200000); [ $t = nng ] && cnt=$(q 10000 30000)
        "$B/bench_ipc" --transport $t --phase $ph --runs "$RUNS" --size 64 \
          --count "$cnt" --rtts "$(q 1000 2000)" >>"$J" 2>>"$OUT/latest.log" || rc=$?
        if [ $rc = 77 ]; then note "SKIPPED $t ipc: library not found at build time"; break; fi
      done
    done
    ;;
  eth)
    ns_setup eth || continue
    UDP=("$B/bench_udp" --netns-a bnA --netns-b bnB --addr-a 10.77.0.1 --addr-b 10.77.0.2 --runs "$RUNS")

    run "${UDP[@]}" --test rtt --wait block --rtts "$(q 2000 10000)"
    run "${UDP[@]}" --test rtt --wait poll --rtts "$(q 2000 10000)"
    TCP=("$B/bench_tcp" --netns-a bnA --netns-b bnB --addr-b 10.77.0.2 --runs "$RUNS")

    run "${TCP[@]}" --test rtt --wait block --rtts "$(q 2000 10000)"
    run "${TCP[@]}" --test rtt --wait poll --rtts "$(q 2000 10000)"
    tipc_check
    M=("$B/bench_msgr" --netns-a bnA --netns-b bnB --a "$ETH_A" --b "$ETH_B" --runs "$RUNS")
    for r in $(seq "$RUNS"); do # 64 B throughput interleaved run by run (see pcie)
      run "${UDP[@]}" --runs 1 --test tput --size 64 --count "$(q 100000 200000)"
      run "${TCP[@]}" --runs 1 --test tput --size 64 --count "$(q 30000 100000)"
      run "${M[@]}" --runs 1 --label msgr_eth --test tput --size 64 --burst 1024 --wait block --count "$(q 300000 1000000)"
    done
    run "${M[@]}" --label msgr_eth --test tput --size 1024 --burst 1024 --wait block --count "$(q 50000 200000)"
    run "${M[@]}" --label msgr_eth --test rtt --wait block --rtts "$(q 2000 10000)"
    run "${M[@]}" --label msgr_eth --test rtt --wait poll --rtts "$(q 2000 10000)"
    if [ $OPTIONAL_BUILT = 1 ]; then # application to application through two msgrd
      A=("$B/bench_api" --mode daemon --netns-a bnA --netns-b bnB --a "$ETH_A" --b "$ETH_B"
         --label api_msgrd_eth --runs "$RUNS")
      run "${A[@]}" --send-wait 0 --test tput --size 64 --count "$(q 20000 50000)"
      run "${A[@]}" --test rtt --size 64 --rtts "$(q 2000 5000)"
    fi
    ;;
  loss)
    ns_setup loss || continue
    # Interleaved run by run (0 %, 1 %, 5 %, 0 %, ...): the ratios are against the
    # lossless runs made under the same load.
    for r in $(seq "$RUNS"); do
      for pct in 0 1 5; do
        rule=""
        if [ $pct != 0 ]; then rule="ether type 0x88b5 numgen random mod 100 < $pct drop"; fi
        nft_ingress bnA bva0 bnloss "$rule"
        nft_ingress bnB bvb0 bnloss "$rule"
        run "$B/bench_msgr" --netns-a bnA --netns-b bnB --a "$ETH_A" --b "$ETH_B" --runs 1 \
          --label "msgr_eth_loss$pct" --test tput --size 64 --burst 1024 --wait block \
          --count "$(q 200000 500000)" --timeout 60
      done
    done
    nft_ingress bnA bva0 bnloss ""
    nft_ingress bnB bvb0 bnloss ""
    ;;
  minet)
    ns_setup minet || continue
    if [ $OPTIONAL_BUILT = 0 ]; then note "SKIPPED minet: msgr-minetd did not build"; continue; fi
    MINETD=$BUILD/out/minet/msgr-minetd
    for n in A B; do
      id=1; ifn=bva0; [ $n = B ] && { id=2; ifn=bvb0; }
      ip netns exec bn$n "$MINETD" --node-id $id --bearer "eth:ifname=$ifn,rcvbuf=8388608" --tap mn0 \
        --addr 10.78.0.$id/24 --log warn >"$BUILD/minetd$n.out" 2>>"$OUT/latest.log" &
      echo $! >"$BUILD/minetd$n.pid"
    done
    ok=0
    for i in $(seq 100); do
      grep -q READY "$BUILD/minetdA.out" && grep -q READY "$BUILD/minetdB.out" && \
        reach bnA 10.78.0.2 && { ok=1; break; }
      sleep 0.2
    done
    if [ $ok = 1 ]; then
      SECS=$(q 2 3)
      rm -f "$BUILD"/iperf.*.json
      # Interleaved, so both see the same background load: plain veth, then MINET, N times.
      for r in $(seq "$RUNS"); do
        for kind in veth minet; do
          dst=10.77.0.2; [ $kind = minet ] && dst=10.78.0.2
          ip netns exec bnB iperf3 -s -1 >/dev/null 2>&1 &
          sleep 0.3
          ip netns exec bnA iperf3 -c $dst -t "$SECS" -J >"$BUILD/iperf.$kind.$r.json" 2>>"$OUT/latest.log" || \
            note "iperf3 $kind run $r failed"
          wait $! 2>/dev/null || true
        done
      done
      python3 - "$BUILD" "$RUNS" "$SECS" >>"$J" <<'PY'
import json, glob, sys
d, runs, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for kind, label in (("veth", "iperf3_veth"), ("minet", "iperf3_minet")):
    v = []
    for i in range(1, runs + 1):
        try:
            o = json.load(open("%s/iperf.%s.%d.json" % (d, kind, i)))
            v.append(o["end"]["sum_received"]["bits_per_second"] / 1e9)
        except Exception:
            pass
    if not v:
        continue
    s = sorted(v)
    q = lambda p: s[min(len(s) - 1, int(round(p * (len(s) - 1))))]
    print(json.dumps({"bench": label, "case": "tcp_gbps", "unit": "Gbit/s", "runs": v, "median": q(0.5),
                      "min": s[0], "max": s[-1], "p10": q(0.1), "p90": q(0.9),
                      "note": "iperf3 -t %s, one TCP stream, A -> B %s" % (secs,
                              "over the plain veth" if kind == "veth" else "across MINET (TAP -> Messenger eth bearer on the same veth -> TAP)")}))
PY
    else
      note "minet: the two msgr-minetd never became reachable (TCP to 10.78.0.2 from bnA)"
    fi
    for n in A B; do kill "$(cat "$BUILD/minetd$n.pid")" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ;;
  serial)
    for sz in 64 1024; do
      run "$B/bench_msgr" --label msgr_serial --pty 1 --a serial:path=%A --b serial:path=%B \
        --test tput --size $sz --burst 1024 --wait block --runs "$RUNS" \
        --count "$( [ $sz = 64 ] && q 5000 40000 || q 2000 10000)"
    done
    ;;
  failover)
    ns_setup failover || continue
    for r in $(seq "$RUNS"); do
      nft_ingress bnA bva0 bncut ""
      nft_ingress bnB bvb0 bncut ""
      # The cut: both directions of the eth veth silently drop everything (no carrier
      # change, so only the link supervision can notice).
      # One nft transaction per namespace, both at once (under load each takes ~100s of ms;
      # bench_msgr reports how long the command took and measures the silence it causes).
      CUT=$BUILD/cut.sh
      cat >"$CUT" <<'SH'
printf 'table netdev bncut {\n chain in {\n  type filter hook ingress device "bva0" priority 0; policy drop;\n }\n}\n' | ip netns exec bnA nft -f - &
printf 'table netdev bncut {\n chain in {\n  type filter hook ingress device "bvb0" priority 0; policy drop;\n }\n}\n' | ip netns exec bnB nft -f - &
wait
SH
      run "$B/bench_msgr" --netns-a bnA --netns-b bnB --runs 1 --label msgr_failover \
        --a "$ETH_A" --b "$ETH_B" \
        --a2 "udp:bind=10.77.1.1:34997,group=none,peer=10.77.1.2:34997" \
        --b2 "udp:bind=10.77.1.2:34997,group=none,peer=10.77.1.1:34997" \
        --test steady --tolerance 200 --rate 10000 --duration-ms 2500 --cut-at-ms 500 \
        --cut-cmd "sh $CUT"
    done
    nft_ingress bnA bva0 bncut ""
    nft_ingress bnB bvb0 bncut ""
    ;;
  profile)
    # Where the time goes on the fastest path (PCIe shim, 64 B, both processes): perf
    # cpu-clock samples, top symbols by self time.  Reported, not a ratio.
    if ! command -v perf >/dev/null || ! perf record -e cpu-clock -o /dev/null -- true >/dev/null 2>&1; then
      note "SKIPPED profile: perf not usable here (Debian linux-perf; perf_event_paranoid)"; continue
    fi
    for w in poll block; do
      mode=""; if [ $w = poll ]; then mode=",mode=poll"; fi
      PD=$BUILD/perf.$w.data
      PCMD=("$B/bench_msgr" --label msgr_pcie_profile_$w --a "pcie:name=bz$w$$,role=host$mode"
            --b "pcie:name=bz$w$$,role=iop$mode" --test tput --size 64 --burst 1024
            --count "$(q 300000 600000)" --runs 1 --wait $w)
      perf record -q -e cpu-clock -F 4000 -o "$PD" -- "${PCMD[@]}" >/dev/null 2>>"$OUT/latest.log" || { note "profile $w: perf record failed"; continue; }
      perf report -i "$PD" --no-children --sort dso,symbol --stdio >"$PD.txt" 2>/dev/null || true
      python3 - "$w" "${PCMD[*]}" "$PD.txt" >>"$J" <<'PY' || note "profile $w: no report"
import json, re, sys
top = []
for line in open(sys.argv[3]):
    m = re.match(r"\s*([0-9.]+)%\s+(\S+)\s+\[[.k]\]\s+(.+?)\s*$", line)
    if m:
        top.append([float(m.group(1)), m.group(2), re.sub(r"\s+-\s+-$", "", m.group(3))])
# Fold the anonymous vDSO addresses (clock_gettime's body) into one line.
vd = sum(t[0] for t in top if t[1] == "[vdso]")
top = [t for t in top if t[1] != "[vdso]"] + ([[vd, "[vdso]", "clock_gettime (vDSO, all addresses)"]] if vd else [])
top.sort(key=lambda t: -t[0])
print(json.dumps({"profile": "pcie_tput64_" + sys.argv[1], "cmd": "perf record -e cpu-clock -F 4000 -- " + sys.argv[2],
                  "top": top[:20]}))
PY
    done
    ;;
  sim)
    for n in 100 1000; do
      # Simulated time and accounted memory are deterministic per seed (no machine noise):
      # the repetitions are seeds.  1,000 nodes take ~2 min of CPU each on these machines,
      # so one seed per CPU there.
      SIMRUNS=$RUNS
      if [ $n = 1000 ] && [ "$RUNS" -gt "$(nproc)" ]; then SIMRUNS=$(nproc); fi
      if [ $n = 1000 ] && [ $QUICK = 1 ]; then note "SKIPPED sim 1000 nodes in --quick (about 60 s of CPU per run)"; continue; fi
      tmp=$(mktemp -d)
      # Seeds in parallel, one per CPU: the figures are simulated time and accounted memory.
      seq 1 "$SIMRUNS" | xargs -P "$(nproc)" -I{} sh -c \
        "/usr/bin/time -f 'wall %e rss_kb %M' $SIM --scenario mesh --nodes $n --seed {} >$tmp/{} 2>&1 || echo FAILED >>$tmp/{}"
      python3 - "$tmp" "$n" "$SIMRUNS" >>"$J" <<'PY'
import json, os, re, sys
d, n, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
conv, mem, wall, rss, ok = [], [], [], [], 0
for i in range(1, runs + 1):
    t = open(os.path.join(d, str(i))).read()
    if ": OK" in t and "FAILED" not in t:
        ok += 1
    m = re.search(r"name convergence: ([0-9.]+) ms", t)
    conv.append(float(m.group(1)) if m else float("nan"))
    m = re.search(r"memory per node: avg (\d+) bytes", t)
    mem.append(int(m.group(1)) if m else float("nan"))
    m = re.search(r"wall ([0-9.]+) rss_kb (\d+)", t)
    if m:
        wall.append(float(m.group(1))); rss.append(int(m.group(2)))
def fig(case, unit, v, note):
    s = sorted(v)
    q = lambda p: s[min(len(s) - 1, int(round(p * (len(s) - 1))))]
    print(json.dumps({"bench": "sim_mesh%d" % n, "case": case, "unit": unit, "runs": v,
                      "median": q(0.5), "min": s[0], "max": s[-1], "p10": q(0.1), "p90": q(0.9),
                      "note": note}))
fig("converge_ms", "ms", conv, "simulated time to full name-table convergence; %d/%d seeds OK" % (ok, runs))
fig("mem_per_node", "bytes", mem, "accounted core memory per node (avg)")
if wall:
    fig("wall_s", "s", wall, "wall time of one simulation (seeds run %d in parallel)" % os.cpu_count())
    fig("rss_per_node", "bytes", [r * 1024 / n for r in rss], "process RSS / nodes")
PY
      rm -rf "$tmp"
    done
    ;;
  supervise)
    # msgrd's execution supervisor (real processes: SIGKILL, SIGSTOP, exit 3) against a
    # model of systemd's Restart=always/RestartSec=100ms/WatchdogSec= policy: PID 1 here
    # is not systemd, so the model (bench/bench_restart_model.c) is what can be measured.
    if [ $OPTIONAL_BUILT = 0 ]; then note "SKIPPED supervise: msgrd did not build"; continue; fi
    run python3 "$ROOT/bench/bench_supervise.py" --bin "$BUILD/out/bin" \
      --model "$B/bench_restart_model" --runs "$RUNS"
    ;;
  sec)
    # Secured links (issue 8): security = required (AES-256-GCM, stack/sec) against
    # plain on the same bearer and sizes, interleaved run by run so that a change in the
    # load hits both alike.  Two levels: the core driven directly (bench_msgr --sec 0|1,
    # where the AEAD's cost shows) and app to app through two msgrd (bench_api
    # --msgrd-conf, what users see).  PCIe shim always; Ethernet (veth between bnA and
    # bnB) as root.  report.py gives aead/plain as ratios.
    if [ $OPTIONAL_BUILT = 0 ]; then note "SKIPPED sec: msgrd did not build"; continue; fi
    if ! grep -q "MSGRD_HAVE_SEC" "$BUILD/out/daemon/CMakeFiles/msgrd.dir/flags.make" 2>/dev/null; then
      note "SKIPPED sec: msgrd built without stack/sec (OpenSSL 3, libssl-dev)"; continue
    fi
    SECD=$BUILD/sec.d
    mkdir -p "$SECD"
    head -c 32 /dev/urandom >"$SECD/cluster.key"
    chmod 0600 "$SECD/cluster.key"
    printf 'security = required\nkeyfile = %s\n' "$SECD/cluster.key" >"$SECD/aead.conf"
    : >"$SECD/plain.conf"
    SEC_ETH=0
    ns_setup sec-eth && SEC_ETH=1
    for r in $(seq "$RUNS"); do
      for z in 64 1024; do
        for m in plain aead; do
          sv=$([ $m = aead ] && echo 1 || echo 0)
          run "$B/bench_msgr" --label msgr_pcie_$m --sec $sv --a "pcie:name=by$m$z$r$$,role=host" \
            --b "pcie:name=by$m$z$r$$,role=iop" --test tput --size $z --burst 1024 --wait block \
            --count "$(q 100000 300000)" --runs 1
          [ $SEC_ETH = 1 ] && run "$B/bench_msgr" --label msgr_eth_$m --sec $sv --netns-a bnA \
            --netns-b bnB --a "$ETH_A" --b "$ETH_B" --test tput --size $z --burst 1024 \
            --wait block --count "$(q 100000 300000)" --runs 1
          run "$B/bench_api" --mode daemon --send-wait 0 --msgrd-conf "$SECD/$m.conf" \
            --label api_msgrd_pcie_$m --a "pcie:name=bz$m$z$r$$,role=host" \
            --b "pcie:name=bz$m$z$r$$,role=iop" --test tput --size $z --count "$(q 20000 30000)" --runs 1
          [ $SEC_ETH = 1 ] || continue
          run "$B/bench_api" --mode daemon --send-wait 0 --msgrd-conf "$SECD/$m.conf" \
            --netns-a bnA --netns-b bnB --a "$ETH_A" --b "$ETH_B" --label api_msgrd_eth_$m \
            --test tput --size $z --count "$(q 20000 30000)" --runs 1
        done
      done
    done
    ;;
  *) note "unknown scenario $s (have: pcie eth loss minet serial failover sim profile supervise sec)" ;;
  esac
done
while read -r l; do printf '{"note":%s}\n' "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$l")"; done <"$NOTES" >>"$J"
echo "{\"meta_end\":1,\"seconds\":$(( $(date +%s) - T0 )),\"load_end\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"cmd\":\"scripts/bench.sh $(printf '%s ' "${ARGS_ORIG[@]:-}")\"}" >>"$J"
mv "$J" "$OUT/$STAMP.json"
rm -f "$NOTES"
python3 "$ROOT/bench/report.py" "$OUT/$STAMP.json" >"$OUT/$STAMP.md"
cp "$OUT/$STAMP.json" "$OUT/latest.json"
cp "$OUT/$STAMP.md" "$OUT/latest.md"
echo "=== done in $(( $(date +%s) - T0 )) s: $OUT/$STAMP.md (and latest.md)" >&2
cat "$OUT/latest.md"
