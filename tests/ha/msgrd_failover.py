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
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ha_lib  # noqa: E402  (this folder, from any working directory)

run = ha_lib.Run(sys.argv[1], "msgr-hafo.")
LOG = run.path("app.log")
APP = run.exe("msgr-ha-app")
procs = run.procs
fail = run.fail
until = run.until
stop = run.stop
ctl = run.ctl  # ctl(n, ...): msgrctl on node n


def diagnose():
    for n in (1, 2):
        print("--- node %d msgrctl ha:" % n, ctl(n, "ha", json_out=False))


run.diagnose = diagnose


def start(n, extra, conf):
    out = run.msgrd(n, n, run.sock(n), run.write("%d.conf" % n, conf), str(n), extra, tolerance=200)
    until(20, "node %d ready" % n, lambda: run.ready(out))


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
    return run.proc(1)


def ftm_ent(i):
    return ha_lib.ftm_entity(ctl(2, "ha"), i)


until(20, "app on node 1 registered with the FTM on node 2",
      lambda: (lambda a: a and a["registered_ns"] and a["state"] == "running")(app1()) and
      (lambda e: e and e["node"] == 1 and e["state"] == "UP")(ftm_ent(0x100)) and
      (lambda e: e and e["kind"] == "node")(ftm_ent(1)))


def acked():
    return ha_lib.last_acked(LOG)


until(10, "checkpoints acknowledged by node 2's store", lambda: acked() >= 5)
app_pid = app1()["pid"]
k = acked()
t0 = time.monotonic_ns()
os.kill(procs[1].pid, signal.SIGKILL)  # the node: its daemon ...
os.kill(app_pid, signal.SIGKILL)       # ... and what ran on it
procs[1].wait()

p2 = until(15, "app failed over to node 2", lambda: (lambda j: j[0] if j and j[0]["registered_ns"] > t0
                                                      and j[0]["state"] == "running" else None)(ctl(2, "proc")))
line = ha_lib.starts(LOG)[-1]
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
run.remove()
print("PASS")
