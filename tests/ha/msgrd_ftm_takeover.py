#!/usr/bin/env python3
"""The FTM killed: its monitor promotes the standby FTM, which restores the registry from
its checkpoint and goes on recovering; the old FTM, restarted, is fenced (no root needed).

    node 1: FTM active (epoch 1)     node 2: FTM standby          node 3: FTM monitor (entity 2)
            store --replica--------->        store (replica,               supervisor
                                             app checkpoints)                '-- msgr-ha-app
    three msgrd over UDP on 127.0.0.1, every pair linked (tolerance 200 ms)

1. node 1's msgrd is SIGKILLed.  Node 3's monitor misses the FTM's heartbeats for
   period x threshold (300 ms) and sends TAKEOVER to node 2, the first candidate that is
   not node 1; node 2 becomes active with a newer epoch, restores the registry from its
   own store (the replica of node 1's), and announces itself (FENCE + ELECT): node 3's
   supervisor and monitor follow it.
2. The app on node 3 is SIGKILLed: the new FTM restarts it, and it resumes from its last
   acknowledged checkpoint.
3. node 1's msgrd is restarted with its original configuration (ftm = active, epoch 1).
   When its links come up, node 2's FTM fences it: it steps down having learnt the newer
   epoch, and never commands anything.
At every sample of msgrctl -j ha (each poll, on every live node), at most one FTM reports
itself active with the newest epoch.  Times are printed, not asserted.  No sleep as
synchronisation: bounded polls of msgrctl -j and the app's log.

usage: msgrd_ftm_takeover.py BIN_DIR
"""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ha_lib  # noqa: E402  (this folder, from any working directory)

run = ha_lib.Run(sys.argv[1], "msgr-haftm.")
LOG = run.path("app.log")
APP = run.exe("msgr-ha-app")
procs = run.procs
fail = run.fail
stop = run.stop
ctl = run.ctl  # ctl(n, ...): msgrctl on node n
samples = 0


def diagnose():
    for n in (1, 2, 3):
        if n in procs and procs[n].poll() is None:
            print("--- node %d msgrctl ha:" % n, ctl(n, "ha", json_out=False))


run.diagnose = diagnose


def sample():
    """msgrctl -j ha of every live node, checked: never two active FTMs at the newest epoch."""
    global samples
    s = {}
    for n, p in procs.items():
        if p.poll() is None:
            j = ctl(n, "ha")
            if j:
                s[n] = j
    active = [(j["leadership"]["epoch"], n) for n, j in s.items()
              if j.get("leadership") and j["leadership"]["role"] == "active"]
    if active:
        top = max(e for e, _ in active)
        if sum(1 for e, _ in active if e == top) > 1:
            fail("two FTMs active with epoch %d: %s" % (top, active))
    samples += 1
    return s


def until(secs, what, fn):
    """run.until with fn(sample()): every poll samples every live node; a failure as
    soon as a node's msgrd exits that was not killed on purpose (dead)."""
    def poll():
        for n, p in procs.items():
            if p.poll() is not None and n not in dead:
                fail("node %d's msgrd exited (%s) while waiting for: %s" % (n, p.returncode, what))
        return fn(sample())
    return run.until(secs, what, poll)


def free_ports(k):
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(k)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


dead = set()
PORT = dict(zip((1, 2, 3), free_ports(3)))
CONF = {}


def start(n, conf):
    peers = ",".join("peer=127.0.0.1:%d" % PORT[m] for m in (1, 2, 3) if m != n)
    out = run.msgrd(n, n, run.sock(n), run.write("%d.conf" % n, conf), str(n),
                    ["--bearer", "udp:bind=127.0.0.1:%d,group=none,%s" % (PORT[n], peers)],
                    tolerance=200)
    dead.discard(n)
    until(20, "node %d ready" % n, lambda s: run.ready(out))


HA = "[ha]\nhb_period_ms = 100\nhb_threshold = 3\n"
CONF[1] = HA + "ftm = active\nepoch = 1\nckpt_replica = 2\n"
CONF[2] = HA + "ftm = standby\nftm_node = 1\n"
CONF[3] = HA + """ftm = off
ftm_node = 1
watch_ftm = yes
ftm_candidates = 1,2
ckpt_node = 2
[exec]
name = app
command = %s %s
entity = 0x100
on_crash = restart
""" % (APP, LOG)
for n in (1, 2, 3):
    start(n, CONF[n])


def lead(s, n):
    j = s.get(n)
    return j["leadership"] if j and j.get("leadership") else None


def ent(s, n, i):
    return ha_lib.ftm_entity(s.get(n), i)


def acked():
    return ha_lib.last_acked(LOG)


def starts():
    return ha_lib.starts(LOG)


def app3():
    return run.proc(3)


# Steady state: node 1 leads; the app runs and is registered there; node 3 watches the
# FTM; node 1's registry (with the app) is checkpointed and copied to node 2's store.
def steady(s):
    l1, l2, w = lead(s, 1), lead(s, 2), s.get(3, {}).get("ftm_watch")
    e = ent(s, 1, 0x100)
    return (l1 and l1["role"] == "active" and l1["epoch"] == 1 and l2 and l2["role"] == "standby" and
            w and w["state"] == "up" and w["watching"]["node"] == 1 and w["acks"] >= 3 and
            e and e["node"] == 3 and e["state"] == "UP" and acked() >= 5 and
            l1["ckpt"]["acks"] == l1["ckpt"]["saves"] and l1["ckpt"]["saves"] >= 1 and
            s[1]["ckpt"]["records"] == 1 and s[1]["ckpt"]["unreplicated"] == 0)


until(30, "steady state (node 1 FTM, app registered, registry replicated, monitor watching)", steady)
s0 = sample()
if s0[3]["ftm_watch"]["candidates"] != [1, 2] or s0[3]["ftm_watch"]["detection_bound_ms"] != 300:
    fail("monitor config: %s" % s0[3]["ftm_watch"])

# ---- 1. the FTM's node dies ----------------------------------------------------------------
t0 = time.monotonic_ns()
os.kill(procs[1].pid, signal.SIGKILL)
dead.add(1)
procs[1].wait()


def promoted(s):
    l2, w = lead(s, 2), s.get(3, {}).get("ftm_watch")
    e = ent(s, 2, 0x100)
    return (l2 and l2["role"] == "active" and not l2["restore"]["pending"] and e and
            w and w["takeovers"] >= 1 and w["watching"]["node"] == 2 and w["state"] == "up" and
            s[3]["ftm_node"] == 2) and s


s = until(15, "node 2 promoted by node 3's monitor, registry restored, node 3 following", promoted)
l2, w = lead(s, 2), s[3]["ftm_watch"]
if l2["epoch"] <= 1:
    fail("new FTM's epoch %d is not newer than 1" % l2["epoch"])
if l2["promoted_by"] != {"node": 3, "entity": 2}:
    fail("promoted by %s, want node 3's monitor (entity 2)" % l2["promoted_by"])
if w["last_takeover"]["to_node"] != 2 or w["last_takeover"]["lost_node"] != 1:
    fail("TAKEOVER evidence: %s" % w["last_takeover"])
# Nodes 1, 2, 3 and the app, all from the checkpoint: the restore is answered by node 2's
# own store before any node has heard the ELECT and registered again.
if l2["restore"]["restored_entities"] != 4:
    fail("restored %d entities from the checkpoint, want 4" % l2["restore"]["restored_entities"])
e = ent(s, 2, 0x100)
if e["node"] != 3:
    fail("restored registry puts the app on node %d" % e["node"])
for n in (2, 3):
    if s[n]["epoch"] != l2["epoch"]:
        fail("node %d at epoch %d, the new FTM at %d" % (n, s[n]["epoch"], l2["epoch"]))
E2 = l2["epoch"]
detect = (w["outage_ns"] - t0) / 1e6
takeover = (l2["activated_ns"] - t0) / 1e6
restored = (l2["restore"]["restored_ns"] - t0) / 1e6

# ---- 2. a failure under the new FTM ----------------------------------------------------------
k0 = acked()
until(10, "app acknowledged after the takeover", lambda s: acked() >= k0 + 3)
a = app3()
k = acked()
t1 = time.monotonic_ns()
os.kill(a["pid"], signal.SIGKILL)


def recovered(s):
    p = app3()
    return p if p and p["pid"] != a["pid"] and p["registered_ns"] > t1 and p["state"] == "running" else None


p = until(15, "the app recovered by the new FTM", recovered)
line = starts()[-1]
if "pid=%d" % p["pid"] not in line:
    fail("last start is not the new instance: %s" % line)
r = line.split("restored=")[1].split()[0]
if r == "none" or int(r) not in (k, k + 1):
    fail("restored %s, last acknowledged before the kill %d" % (r, k))
s = sample()
log2 = s[2]["ftm"]["log"]
rs = [x for x in log2 if x["entity"] == 0x100 and x["action"] == "restart"]
if not rs:
    fail("no restart decision by node 2's FTM: %s" % [x["text"] for x in log2])
if s[3]["exec"]["last_epoch"] != E2:
    fail("node 3's supervisor carried out a command of epoch %d, want %d" % (s[3]["exec"]["last_epoch"], E2))
recover_ms = (p["registered_ns"] - t1) / 1e6
k2 = k

# ---- 3. the old FTM comes back with its old configuration -----------------------------------
t2 = time.monotonic_ns()
start(1, CONF[1])


def fenced(s):
    l1 = lead(s, 1)
    return (l1 and l1["role"] == "deposed" and l1["fenced_by_epoch"] == E2 and
            s[1]["ftm_node"] == 2 and (lambda e: e and e["state"] == "UP")(ent(s, 2, 1))) and s


s = until(15, "restarted node 1 steps down (fenced by epoch %d) and registers with node 2" % E2, fenced)
l1 = lead(s, 1)
if l1["deposed_by_node"] != 2:
    fail("node 1 learnt the epoch from node %d, want 2" % l1["deposed_by_node"])
if s[1]["ftm"]["counters"]["commands"] != 0:
    fail("the restarted old FTM sent %d commands" % s[1]["ftm"]["counters"]["commands"])
l2 = lead(s, 2)
if l2["role"] != "active" or l2["epoch"] != E2:
    fail("node 2 no longer active at epoch %d: %s" % (E2, l2))
# A further failure is still recovered by node 2 alone.
a = app3()
k = acked()
t3 = time.monotonic_ns()
os.kill(a["pid"], signal.SIGKILL)
p = until(15, "the app recovered again after node 1's return",
          lambda s: (lambda q: q if q and q["pid"] != a["pid"] and q["registered_ns"] > t3 and
                     q["state"] == "running" else None)(app3()))
s = sample()
if s[1]["ftm"]["counters"]["commands"] != 0 or s[3]["exec"]["last_epoch"] != E2:
    fail("after node 1's return: node 1 commands %d, node 3 last epoch %d" %
         (s[1]["ftm"]["counters"]["commands"], s[3]["exec"]["last_epoch"]))

print("FTM loss detected by node 3's monitor: %.1f ms after the kill (bound %d ms)" %
      (detect, w["detection_bound_ms"]))
print("node 2 active with epoch %d: %.1f ms after the kill; registry restored (%d entities): %.1f ms" %
      (E2, takeover, l2["restore"]["restored_entities"], restored))
print("app recovered by the new FTM: %.1f ms after its kill (restored %s, last acked %d)" % (recover_ms, r, k2))
print("restarted node 1 stepped down %.1f ms after its restart; fenced requests refused: node 1 %d, "
      "node 2 %d, node 3 %d" % ((l1["deposed_ns"] - t2) / 1e6, s[1]["mgmt"]["fenced"],
                                s[2]["mgmt"]["fenced"], s[3]["mgmt"]["fenced"]))
print("msgrctl samples checked (at most one active FTM at the newest epoch): %d" % samples)
print("  " + w["last_takeover"]["evidence"])
print("  " + l2["activation"])
stop()
run.remove()
print("PASS")
