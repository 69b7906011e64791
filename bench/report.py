#!/usr/bin/env python3
"""report.py latest.json > latest.md — the markdown tables of scripts/bench.sh.

Table 1: every figure (median over runs, min..max, p10..p90).
Table 2: ratios against the alternative measured in the same invocation, with the
targets of issue 11.  A ratio's range is the worst and best pairing of the two run sets
(min/max cross), so it shows how much the noise could move it.
"""
import json
import math
import re
import sys

figs, notes, meta, end, loads, profiles = {}, [], {}, {}, [], []
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    o = json.loads(line)
    if "meta" in o:
        meta = o
    elif "meta_end" in o:
        end = o
    elif "profile" in o:
        profiles.append(o)
    elif "scenario_start" in o:
        loads.append("%s %s" % (o["scenario_start"], o["load"]))
    elif "note" in o and "bench" not in o:
        notes.append(o["note"])
    elif not o.get("runs"):
        continue  # no completed run (older bench binaries printed empty figures)
    else:
        k = (o["bench"], o["case"])
        if k in figs:  # one run per invocation (failover): merge the runs
            runs = figs[k]["runs"] + o["runs"]
            s = sorted(runs)
            q = lambda p: s[int(round(p * (len(s) - 1)))]
            o = dict(o, runs=runs, median=q(0.5) if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2,
                     min=s[0], max=s[-1], p10=q(0.1), p90=q(0.9))
        figs[k] = o


def fmt(v, unit=""):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    a = abs(v)
    if unit in ("msg/s",) and a >= 1e6:
        return "%.2f M" % (v / 1e6)
    if unit in ("msg/s",) and a >= 1e3:
        return "%.0f k" % (v / 1e3)
    if unit == "bytes" and a >= 1e6:
        return "%.2f MB" % (v / 1e6)
    if unit == "bytes" and a >= 1e3:
        return "%.1f kB" % (v / 1e3)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    return "%.3g" % v


print("# Messenger benchmarks (issue 11)\n")
if meta:
    print("Host `%s`, %s CPUs, kernel %s, %s runs per figure%s, load average at start %s, %s." % (
        meta.get("host"), meta.get("nproc"), meta.get("kernel"), meta.get("runs"),
        " (--quick)" if meta.get("quick") else "", meta.get("load"), meta.get("date")))
if loads or end.get("load_end"):
    print("Load average (1/5/15 min) at each scenario's start: %s; at the end: %s. The machine "
          "is shared (other builds run): compare ratios measured in the same run, not absolute "
          "figures across runs." % ("; ".join(loads) or "—", end.get("load_end", "—")))
if end:
    print("\nCommand: `%s` (%s s).\n" % (end.get("cmd", "").strip(), end.get("seconds")))

# ---- Table 2 first: what the issue asks -----------------------------------------------
# (label, numerator, denominator, kind, target, how): kind "hi" = higher is better (ratio
# >= target), "lo" = lower is better (ratio <= target), "abs" = the value itself.
C = [
    ("PCIe shim 64 B msg/s vs bare ring, batched (publish every 32)", ("msgr_pcie_poll", "tput_64"), ("shm", "tput_64_b32"), "hi", 0.5),
    ("PCIe shim 64 B msg/s vs bare ring, publish every message", ("msgr_pcie_poll", "tput_64"), ("shm", "tput_64_b1"), "hi", None),
    ("PCIe shim 64 B msg/s vs ZeroMQ ipc", ("msgr_pcie_poll", "tput_64"), ("zmq", "tput_64"), "hi", 5.0),
    ("PCIe shim 64 B msg/s vs Unix datagram", ("msgr_pcie_poll", "tput_64"), ("uds", "tput_64"), "hi", None),
    ("PCIe shim 64 B msg/s vs nng ipc", ("msgr_pcie_poll", "tput_64"), ("nng", "tput_64"), "hi", None),
    ("PCIe shim 64 B msg/s vs TCP loopback, one write() per message", ("msgr_pcie_poll", "tput_64"), ("tcp_lo", "tput_write_64"), "hi", None),
    ("PCIe shim 64 B msg/s vs TCP loopback, 32 messages per write()", ("msgr_pcie_poll", "tput_64"), ("tcp_lo", "tput_batch32_64"), "hi", None),
    ("PCIe shim (doorbell mode) 64 B msg/s vs ZeroMQ ipc", ("msgr_pcie_doorbell", "tput_64"), ("zmq", "tput_64"), "hi", None),
    ("PCIe shim 1 KiB msg/s vs bare ring batched", ("msgr_pcie_poll", "tput_1024"), ("shm", "tput_1024_b32"), "hi", None),
    ("PCIe shim 1 KiB msg/s vs Unix datagram", ("msgr_pcie_poll", "tput_1024"), ("uds", "tput_1024"), "hi", None),
    ("PCIe shim busy-poll RTT p50 vs bare ring busy-poll", ("msgr_pcie_poll", "rtt_poll_p50"), ("shm", "rtt_poll_p50"), "lo", 2.0),
    ("PCIe shim doorbell RTT p50 vs bare ring eventfd", ("msgr_pcie_doorbell", "rtt_block_p50"), ("shm", "rtt_eventfd_p50"), "lo", 1.2),
    ("PCIe shim doorbell RTT p50 vs Unix datagram", ("msgr_pcie_doorbell", "rtt_block_p50"), ("uds", "rtt_block_p50"), "lo", None),
    ("PCIe shim doorbell RTT p50 vs TCP loopback", ("msgr_pcie_doorbell", "rtt_block_p50"), ("tcp_lo", "rtt_block_p50"), "lo", None),
    ("PCIe shim doorbell RTT p50 vs ZeroMQ ipc", ("msgr_pcie_doorbell", "rtt_block_p50"), ("zmq", "rtt_block_p50"), "lo", None),
    ("PCIe shim doorbell RTT p50 vs nng ipc", ("msgr_pcie_doorbell", "rtt_block_p50"), ("nng", "rtt_block_p50"), "lo", None),
    ("libmsgr, two embedded nodes (PCIe shim): RTT p50 vs the core driven directly (doorbell)", ("api_embedded", "rtt_block_p50"), ("msgr_pcie_doorbell", "rtt_block_p50"), "lo", None),
    ("libmsgr, two embedded nodes (PCIe shim): 64 B msg/s vs the core driven directly (doorbell)", ("api_embedded", "tput_64"), ("msgr_pcie_doorbell", "tput_64"), "hi", None),
    ("app to app through two msgrd (PCIe shim): 64 B msg/s vs two embedded nodes (libmsgr)", ("api_msgrd", "tput_64"), ("api_embedded", "tput_64"), "hi", None),
    ("app to app through two msgrd (PCIe shim): 64 B msg/s vs the core driven directly", ("api_msgrd", "tput_64"), ("msgr_pcie_doorbell", "tput_64"), "hi", None),
    ("app to app through two msgrd: 64 B msg/s vs Unix datagram", ("api_msgrd", "tput_64"), ("uds", "tput_64"), "hi", None),
    ("app to app through two msgrd: 64 B msg/s vs ZeroMQ ipc", ("api_msgrd", "tput_64"), ("zmq", "tput_64"), "hi", None),
    ("app to app through two msgrd: RTT p50 vs two embedded nodes (libmsgr)", ("api_msgrd", "rtt_block_p50"), ("api_embedded", "rtt_block_p50"), "lo", None),
    ("app to app through two msgrd: RTT p50 vs Unix datagram", ("api_msgrd", "rtt_block_p50"), ("uds", "rtt_block_p50"), "lo", None),
    ("app to app through two msgrd: RTT p50 vs ZeroMQ ipc", ("api_msgrd", "rtt_block_p50"), ("zmq", "rtt_block_p50"), "lo", None),
    ("Raw Ethernet 64 B msg/s vs UDP sendmmsg (same veth)", ("msgr_eth", "tput_64"), ("udp", "tput_sendmmsg_64"), "hi", 5.0),
    ("Raw Ethernet 64 B msg/s vs UDP send()", ("msgr_eth", "tput_64"), ("udp", "tput_send_64"), "hi", None),
    ("Raw Ethernet 64 B msg/s vs TCP (same veth), one write() per message", ("msgr_eth", "tput_64"), ("tcp", "tput_write_64"), "hi", None),
    ("Raw Ethernet 64 B msg/s vs TCP (same veth), 32 messages per write()", ("msgr_eth", "tput_64"), ("tcp", "tput_batch32_64"), "hi", None),
    ("Raw Ethernet RTT p50 vs TCP, blocking", ("msgr_eth", "rtt_block_p50"), ("tcp", "rtt_block_p50"), "lo", None),
    ("Raw Ethernet RTT p50 vs TCP, busy-poll", ("msgr_eth", "rtt_poll_p50"), ("tcp", "rtt_poll_p50"), "lo", None),
    ("Raw Ethernet RTT p50 vs UDP, blocking", ("msgr_eth", "rtt_block_p50"), ("udp", "rtt_block_p50"), "lo", 1.2),
    ("Raw Ethernet RTT p50 vs UDP, busy-poll", ("msgr_eth", "rtt_poll_p50"), ("udp", "rtt_poll_p50"), "lo", 1.2),
    ("MINET: iperf3 TCP across MINET vs iperf3 over the plain veth", ("iperf3_minet", "tcp_gbps"), ("iperf3_veth", "tcp_gbps"), "hi", 0.6),
    ("Goodput at 1% loss vs lossless", ("msgr_eth_loss1", "tput_64"), ("msgr_eth_loss0", "tput_64"), "hi", 0.9),
    ("Goodput at 5% loss vs lossless", ("msgr_eth_loss5", "tput_64"), ("msgr_eth_loss0", "tput_64"), "hi", 0.7),
    # sec: the same runs with security = required vs plain; the core driven directly, then app to app through two msgrd
    ("Secured (AEAD) vs plain link, core driven directly, Ethernet: 1 KiB msg/s", ("msgr_eth_aead", "tput_1024"), ("msgr_eth_plain", "tput_1024"), "hi", None),
    ("Secured (AEAD) vs plain link, core driven directly, Ethernet: 64 B msg/s", ("msgr_eth_aead", "tput_64"), ("msgr_eth_plain", "tput_64"), "hi", None),
    ("Secured (AEAD) vs plain link, core driven directly, PCIe shim: 1 KiB msg/s", ("msgr_pcie_aead", "tput_1024"), ("msgr_pcie_plain", "tput_1024"), "hi", None),
    ("Secured (AEAD) vs plain link, core driven directly, PCIe shim: 64 B msg/s", ("msgr_pcie_aead", "tput_64"), ("msgr_pcie_plain", "tput_64"), "hi", None),
    ("Secured (AEAD) vs plain link, app to app through two msgrd, Ethernet: 1 KiB msg/s", ("api_msgrd_eth_aead", "tput_1024"), ("api_msgrd_eth_plain", "tput_1024"), "hi", None),
    ("Secured (AEAD) vs plain link, app to app through two msgrd, Ethernet: 64 B msg/s", ("api_msgrd_eth_aead", "tput_64"), ("api_msgrd_eth_plain", "tput_64"), "hi", None),
    ("Secured (AEAD) vs plain link, app to app through two msgrd, PCIe shim: 1 KiB msg/s", ("api_msgrd_pcie_aead", "tput_1024"), ("api_msgrd_pcie_plain", "tput_1024"), "hi", None),
    ("Secured (AEAD) vs plain link, app to app through two msgrd, PCIe shim: 64 B msg/s", ("api_msgrd_pcie_aead", "tput_64"), ("api_msgrd_pcie_plain", "tput_64"), "hi", None),
    # supervise: msgrd's supervisor vs a MODEL of systemd's policy (bench_restart_model.c), not systemd
    ("HA: SIGKILL, fault to new instance up: msgrd vs systemd-policy model (Restart=always, RestartSec=100ms)", ("supervise_msgrd", "kill_recover_ms"), ("supervise_systemd_model", "kill_recover_ms"), "lo", None),
    ("HA: exit 3, fault to new instance up: msgrd vs systemd-policy model", ("supervise_msgrd", "exit_recover_ms"), ("supervise_systemd_model", "exit_recover_ms"), "lo", None),
    ("HA: SIGSTOP (hang), detection: msgrd heartbeats 100 ms x 3 vs model WatchdogSec=300ms", ("supervise_msgrd", "stop_detect_ms"), ("supervise_systemd_model", "stop_detect_ms"), "lo", None),
    ("HA: SIGSTOP (hang), fault to new instance up: msgrd vs model (WatchdogSignal=SIGABRT, then TimeoutAbortSec)", ("supervise_msgrd", "stop_recover_ms"), ("supervise_systemd_model", "stop_recover_ms"), "lo", None),
]


def ratio_row(label, a, b, kind, target):
    fa, fb = figs.get(a), figs.get(b)
    if not fa or not fb:
        return "| %s | %s | %s | n/a | %s | not measured |" % (
            label, fmt(fa["median"], fa["unit"]) if fa else "—", fmt(fb["median"], fb["unit"]) if fb else "—",
            ("%s %.2g" % (">=" if kind == "hi" else "<=", target)) if target else "—")
    r = fa["median"] / fb["median"] if fb["median"] else float("nan")
    lo = fa["min"] / fb["max"] if fb["max"] else float("nan")
    hi = fa["max"] / fb["min"] if fb["min"] else float("nan")
    if target is None:
        verdict = "(reported)"
    elif kind == "hi":
        verdict = "**met**" if r >= target else "**MISSED**"
    else:
        verdict = "**met**" if r <= target else "**MISSED**"
    return "| %s | %s %s | %s %s | **%.2fx** (%.2f–%.2f) | %s | %s |" % (
        label, fmt(fa["median"], fa["unit"]), fa["unit"], fmt(fb["median"], fb["unit"]), fb["unit"],
        r, lo, hi, ("%s %gx" % (">=" if kind == "hi" else "<=", target)) if target else "—", verdict)


print("## Ratios against the alternatives and the targets\n")
print("| comparison | Messenger (median) | alternative (median) | ratio (range) | target | verdict |")
print("|---|---|---|---|---|---|")
for c in C:
    print(ratio_row(*c))

# Absolute targets.
lost_total, lost_figs, lost_where = 0, 0, []
for (bn, cs), f in sorted(figs.items()):
    if cs.startswith("lost"):
        lost_total += sum(f["runs"])
        lost_figs += 1
        if sum(f["runs"]):
            lost_where.append("%s %s: %s in %d of %d runs" % (bn, cs, fmt(sum(f["runs"])),
                              sum(1 for v in f["runs"] if v), len(f["runs"])))
if lost_figs:
    print("| messages lost, all Messenger runs (loss, failover, every bearer) | %d%s | — | — | 0 | %s |" % (
        lost_total, (" (" + "; ".join(lost_where) + ")") if lost_where else "",
        "**met**" if lost_total == 0 else "**MISSED**"))
f = figs.get(("msgr_serial", "eff_1024"))
if not f and ("msgr_serial", "eff_64") in figs:
    print("| serial payload efficiency, 1 KiB | — | raw line bytes | — | >= 95 % | not measured (the run failed: see Notes) |")
if f:
    print("| serial payload efficiency, 1 KiB | %.2f %% (%.2f–%.2f) | raw line bytes | — | >= 95 %% | %s |" % (
        f["median"], f["min"], f["max"], "**met**" if f["median"] >= 95 else "**MISSED**"))
f = figs.get(("msgr_serial", "eff_64"))
if f:
    print("| serial payload efficiency, 64 B | %.2f %% (%.2f–%.2f) | raw line bytes | — | — | (reported) |" % (
        f["median"], f["min"], f["max"]))
f = figs.get(("msgr_failover", "failover_ms"))
if f:
    m = re.search(r"probe interval (\d+) ms", f.get("note", ""))
    probe = int(m.group(1)) if m else 0
    r = f["median"] / probe if probe else float("nan")
    rmax = f["max"] / probe if probe else float("nan")
    print("| failover: cut to traffic resumed on the parallel link (worst one-way latency of msgs sent after the cut) | %.1f ms (%.1f–%.1f) | probe interval %d ms | **%.2f intervals** (worst %.2f) | < 3 intervals | %s |" % (
        f["median"], f["min"], f["max"], probe, r, rmax, "**met**" if rmax < 3 else "**MISSED**"))
for n in (100, 1000):
    c, m = figs.get(("sim_mesh%d" % n, "converge_ms")), figs.get(("sim_mesh%d" % n, "mem_per_node"))
    if c:
        ok = re.search(r"(\d+)/(\d+) seeds OK", c.get("note", ""))
        print("| simulator mesh, %d nodes: convergence | %.3f ms sim. time | memory/node %s | — | converges | %s |" % (
            n, c["median"], fmt(m["median"], "bytes") if m else "n/a",
            "**met** (%s)" % ok.group(0) if ok and ok.group(1) == ok.group(2) else "**MISSED**"))

print("\n## Every figure (median over runs; spread)\n")
print("| bench | case | unit | median | min–max | p10–p90 | runs | note |")
print("|---|---|---|---|---|---|---|---|")
for (bn, cs), f in figs.items():
    print("| %s | %s | %s | %s | %s–%s | %s–%s | %d | %s |" % (
        bn, cs, f["unit"], fmt(f["median"], f["unit"]), fmt(f["min"], f["unit"]), fmt(f["max"], f["unit"]),
        fmt(f["p10"], f["unit"]), fmt(f["p90"], f["unit"]), len(f["runs"]), f.get("note", "").replace("|", "/")))
for p in profiles:
    print("\n## Profile: %s\n\n`%s` (both processes; self time)\n" % (p["profile"], p["cmd"]))
    print("| % of samples | object | symbol |\n|---|---|---|")
    for pct, dso, sym in p["top"]:
        print("| %.1f | %s | `%s` |" % (pct, dso, sym))
if notes:
    print("\n## Notes\n")
    for n in notes:
        print("- " + n)
