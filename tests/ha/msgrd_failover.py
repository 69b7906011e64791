#!/usr/bin/env python3
"""Failover of a supervised process when its node is lost (no root needed):

    node 1 (home)                         node 2 (FTM, checkpoint store, standby)
    msgrd --- UDP 127.0.0.1 (tolerance 200 ms) --- msgrd
      '-- msgr-ha-app (entity 0x100)                 (app configured, not started)
          saves its counter to node 2's store

node 1's msgrd and its app are SIGKILLed together: node 2 loses the peer, reports the
loss of node 1 to its FTM (MSG-MGMT-23), which fails the app over (RECOVER arg 2) to
node 2's supervisor; the new instance restores the last acknowledged counter from node
2's store and registers from node 2.  Times are printed, not asserted.  No sleep as
synchronisation: bounded polls of msgrctl -j and the log.

usage: msgrd_failover.py BIN_DIR
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1]
T = tempfile.mkdtemp(prefix="msgr-hafo.")
LOG = os.path.join(T, "app.log")
APP = os.path.join(BIN, "msgr-ha-app")
procs = {}


def ctl(n, *args, json_out=True):
    r = subprocess.run([os.path.join(BIN, "msgrctl"), "-s", os.path.join(T, "%d.sock" % n)] +
                       (["-j"] if json_out else []) + list(args), capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        return None
    if not json_out:
        return r.stdout
    try:
        return json.loads(r.stdout)
    except ValueError:
        return None


def stop():
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs.values():
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def fail(msg):
    print("FAIL:", msg)
    for f in sorted(os.listdir(T)):
        if f.endswith(".err") or f.endswith(".log"):
            print("---", f)
            print("".join(open(os.path.join(T, f)).readlines()[-25:]))
    for n in (1, 2):
        print("--- node %d msgrctl ha:" % n, ctl(n, "ha", json_out=False))
    print("logs kept in", T)
    stop()
    sys.exit(1)


def until(secs, what, fn):
    end = time.monotonic() + secs
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            fail("timeout (%d s): %s" % (secs, what))
        time.sleep(0.02)  # poll interval, not synchronisation


def start(n, extra, conf):
    path = os.path.join(T, "%d.conf" % n)
    open(path, "w").write(conf)
    out = os.path.join(T, "%d.out" % n)
    p = subprocess.Popen([os.path.join(BIN, "msgrd"), "--node-id", str(n), "--foreground", "--socket",
                          os.path.join(T, "%d.sock" % n), "--tolerance", "200", "-c", path,
                          "--log-level", "info"] + extra,
                         stdout=open(out, "w"), stderr=open(os.path.join(T, "%d.err" % n), "w"))
    procs[n] = p
    until(20, "node %d ready" % n, lambda: "READY" in open(out).read())


EXEC = """[exec]
name = app
command = %s %s
entity = 0x100
home = 1
standby = 2
on_crash = restart
""" % (APP, LOG)
start(2, ["--bearer", "udp:bind=127.0.0.1:0,group=none"],
      "[ha]\nftm = active\nhb_period_ms = 100\n" + EXEC)
port = ctl(2, "bearer")[0]["local"].rsplit(":", 1)[1]
start(1, ["--bearer", "udp:bind=127.0.0.1:0,group=none,peer=127.0.0.1:%s" % port],
      "[ha]\nftm = off\nftm_node = 2\nhb_period_ms = 100\n" + EXEC)


def app1():
    j = ctl(1, "proc")
    return j[0] if j else None


def ftm_ent(i):
    j = ctl(2, "ha")
    if not j or not j["ftm"]:
        return None
    for e in j["ftm"]["entities"]:
        if e["id"] == i:
            return e
    return None


until(20, "app on node 1 registered with the FTM on node 2",
      lambda: (lambda a: a and a["registered_ns"] and a["state"] == "running")(app1()) and
      (lambda e: e and e["node"] == 1 and e["state"] == "UP")(ftm_ent(0x100)) and
      (lambda e: e and e["kind"] == "node")(ftm_ent(1)))


def acked():
    a = [int(l.split()[1]) for l in open(LOG).read().splitlines() if l.startswith("acked ")]
    return a[-1] if a else 0


until(10, "checkpoints acknowledged by node 2's store", lambda: acked() >= 5)
app_pid = app1()["pid"]
k = acked()
t0 = time.monotonic_ns()
os.kill(procs[1].pid, signal.SIGKILL)  # the node: its daemon ...
os.kill(app_pid, signal.SIGKILL)       # ... and what ran on it
procs[1].wait()

p2 = until(15, "app failed over to node 2", lambda: (lambda j: j[0] if j and j[0]["registered_ns"] > t0
                                                      and j[0]["state"] == "running" else None)(ctl(2, "proc")))
starts = [l for l in open(LOG).read().splitlines() if l.startswith("start ")]
line = starts[-1]
if "pid=%d" % p2["pid"] not in line:
    fail("last start is not node 2's instance: %s" % line)
r = line.split("restored=")[1].split()[0]
if r == "none" or int(r) not in (k, k + 1):
    fail("restored %s, last acknowledged before the loss %d" % (r, k))
e = until(5, "FTM shows the app UP on node 2", lambda: (lambda e: e if e and e["node"] == 2 and e["state"] == "UP"
                                                         else None)(ftm_ent(0x100)))
if e["failovers"] != 1:
    fail("FTM failovers %d" % e["failovers"])
n1 = ftm_ent(1)
if not n1 or n1["state"] != "STOPPED":
    fail("node 1 not STOPPED in the FTM: %s" % n1)
log = ctl(2, "ha")["ftm"]["log"]
loss = [x for x in log if x["entity"] == 1 and x["trigger"] == "node-loss"]
if not loss:
    fail("no node-loss decision: %s" % [x["text"] for x in log])
print("node loss declared by the FTM: %.1f ms after the kill (link tolerance 200 ms)" %
      ((loss[0]["at_ns"] - t0) / 1e6))
print("app up on node 2 (restored %s, last acked %d, registered): %.1f ms after the kill" %
      (r, k, (p2["registered_ns"] - t0) / 1e6))
for x in log[-4:]:
    print("  " + x["text"])
stop()
subprocess.run(["rm", "-rf", T])
print("PASS")
