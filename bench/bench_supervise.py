#!/usr/bin/env python3
"""Supervise scenario: msgrd's execution supervisor against a model of systemd's restart
policy (bench_restart_model.c: Restart=always, RestartSec=100ms, WatchdogSec=, NOT systemd:
PID 1 on these machines is not systemd).

For each fault and run, a fresh supervisor starts one service, and the fault hits the
running instance:
  kill   SIGKILL
  stop   SIGSTOP (a hang: only a heartbeat / watchdog can see it)
  exit   SIGUSR1: the service exits with status 3
Figures (ms, from the fault, CLOCK_MONOTONIC of both sides):
  <fault>_detect_ms   the supervisor knows (reaped; or heartbeat/watchdog expired)
  <fault>_recover_ms  a new instance is up: msgrd - it restored its checkpoint and
                      registered with the FTM; the model - it sent READY=1
Both sides use a 300 ms hang bound: msgrd heartbeats 100 ms x 3, the model WatchdogSec=300ms.
The model's TimeoutAbortSec is --abort-ms (default 1000; systemd's default is
TimeoutStopSec=90s), since WatchdogSignal=SIGABRT does not end a stopped process.
msgrd's FTM restarts the first failure in its window at once (later ones back off
100 ms x 2^(n-2)); every run here is a first failure.  One JSON line per figure.

usage: bench_supervise.py --bin DIR --model PATH [--runs N] [--abort-ms MS]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True, help="directory with msgrd, msgrctl, msgr-ha-app")
ap.add_argument("--model", required=True, help="bench_restart_model")
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--abort-ms", type=int, default=1000)
a = ap.parse_args()
FAULTS = (("kill", signal.SIGKILL), ("stop", signal.SIGSTOP), ("exit", signal.SIGUSR1))


def wait_for(secs, fn, what):
    end = time.monotonic() + secs
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise TimeoutError(what)
        time.sleep(0.005)  # polling a condition; the figures come from timestamps


def msgrd_run(fault, sig):
    t = tempfile.mkdtemp(prefix="msgr-bsup.")
    sock, log, conf = (os.path.join(t, x) for x in ("s.sock", "app.log", "msgrd.conf"))
    with open(conf, "w") as f:
        f.write("[ha]\nftm = active\nhb_period_ms = 100\nhb_threshold = 3\n[exec]\nname = app\n"
                "command = %s %s\n" % (os.path.join(a.bin, "msgr-ha-app"), log))
    d = subprocess.Popen([os.path.join(a.bin, "msgrd"), "--node-id", "9", "--foreground", "--socket",
                          sock, "-c", conf, "--log-level", "err"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)

    def proc():
        r = subprocess.run([os.path.join(a.bin, "msgrctl"), "-s", sock, "-j", "proc"],
                           capture_output=True, text=True)
        try:
            return json.loads(r.stdout)[0] if r.returncode == 0 else None
        except (ValueError, IndexError):
            return None

    try:
        d.stdout.readline()  # READY
        p = wait_for(10, lambda: (lambda x: x if x and x["registered_ns"] else None)(proc()), "registered")
        wait_for(10, lambda: open(log).read().count("acked") >= 2, "acks")
        t0 = time.monotonic_ns()
        os.kill(p["pid"], sig)
        q = wait_for(10, lambda: (lambda x: x if x and x["registered_ns"] > t0 and x["pid"] != p["pid"]
                                  else None)(proc()), "recovered")
        return (q["detected_ns"] - t0) / 1e6, (q["registered_ns"] - t0) / 1e6
    finally:
        d.send_signal(signal.SIGTERM)
        d.wait(timeout=10)
        subprocess.run(["rm", "-rf", t])


def model_run(fault, sig, watchdog=300):
    m = subprocess.Popen([a.model, "--restart-sec", "100", "--watchdog-sec", str(watchdog),
                          "--timeout-abort-sec", str(a.abort_ms), "--max-starts", "2"],
                         stdout=subprocess.PIPE, text=True)
    ev = []

    def until(kind, n=1):
        while sum(1 for e in ev if e[0] == kind) < n:
            line = m.stdout.readline()
            if not line:
                raise RuntimeError("model ended early: %s" % ev)
            w = line.split()
            ev.append((w[0], int(w[1]), int(w[-1])))
        return [e for e in ev if e[0] == kind][n - 1]

    try:
        first = until("ready")
        t0 = time.monotonic_ns()
        os.kill(first[1], sig)
        second = until("ready", 2)
        det = min(e[2] for e in ev if e[0] in ("exit", "watchdog") and e[1] == first[1])
        return (det - t0) / 1e6, (second[2] - t0) / 1e6
    finally:
        m.kill()
        m.wait()
        for e in ev:  # the model's service instances: none may outlive the run
            try:
                os.kill(e[1], signal.SIGKILL)
            except ProcessLookupError:
                pass


def fig(bench, case, v, note):
    s = sorted(v)
    q = lambda p: s[min(len(s) - 1, int(round(p * (len(s) - 1))))]
    med = s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2
    print(json.dumps({"bench": bench, "case": case, "unit": "ms", "runs": v, "median": med,
                      "min": s[0], "max": s[-1], "p10": q(0.1), "p90": q(0.9), "note": note}))
    sys.stdout.flush()


for fault, sig in FAULTS:
    for name, fn, note in (
            ("supervise_msgrd", msgrd_run,
             "msgrd [exec] + msgr-ha-app: pidfd reaping, heartbeats 100 ms x 3, FTM RECOVER, "
             "restore from checkpoint, REGISTER"),
            ("supervise_systemd_model", model_run,
             "model of systemd Restart=always RestartSec=100ms WatchdogSec=300ms "
             "TimeoutAbortSec=%dms (bench_restart_model; not systemd)" % a.abort_ms)):
        det, rec = [], []
        for _ in range(a.runs):
            try:
                x, y = fn(fault, sig)
            except (TimeoutError, RuntimeError, subprocess.TimeoutExpired) as e:
                print(json.dumps({"note": "supervise %s %s: run failed: %s" % (name, fault, e)}))
                continue
            det.append(x)
            rec.append(y)
        if det:
            fig(name, fault + "_detect_ms", det, note)
            fig(name, fault + "_recover_ms", rec, note)

# systemd's defaults have no watchdog (WatchdogSec=0): a stopped service is never found.
try:
    m = subprocess.Popen([a.model, "--watchdog-sec", "0", "--max-starts", "2"], stdout=subprocess.PIPE, text=True)
    w = m.stdout.readline().split()  # start PID T
    r = m.stdout.readline().split()  # ready PID T
    os.kill(int(r[1]), signal.SIGSTOP)
    import select
    seen = select.select([m.stdout], [], [], 3.0)[0]
    print(json.dumps({"note": "supervise: systemd model with WatchdogSec=0 (systemd's default): a SIGSTOPped "
                              "service was %s within 3 s" % ("restarted" if seen else "NOT detected")}))
    os.kill(int(r[1]), signal.SIGKILL)
    m.kill()
    m.wait()
except (OSError, IndexError, ValueError) as e:
    print(json.dumps({"note": "supervise: WatchdogSec=0 check failed: %s" % e}))
