"""What the msgrd HA scripts of this folder share (msgrd_ha.py, msgrd_failover.py,
msgrd_ftm_takeover.py, msgrd_iop_hotswap.py): a temporary directory, msgrd and the apps
started and stopped, msgrctl -j, bounded polling, and the apps' logs.

Each script does `import ha_lib` after putting its own folder first on sys.path, so it
runs from any working directory (ctest runs `python3 tests/ha/X.py BIN_DIR`).

No sleep is synchronisation: Run.until polls a condition with a bounded deadline, and a
timeout is a failure that keeps the logs.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


class Run:
    """One test run: BIN_DIR's binaries, a temporary directory and the processes started.

    logs: the files of the directory whose tails a failure prints (default: every *.err
    and *.log, sorted); tail: how many lines of each.  diagnose: called by fail() after
    the logs, to print what msgrctl says.
    """

    def __init__(self, bin_dir, prefix, logs=None, tail=25):
        self.bin = bin_dir
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.logs = logs
        self.tail = tail
        self.diagnose = None
        self.procs = {}       # key -> Popen, stopped by stop()
        self.pgroups = set()  # process groups killed by stop() (an IOP's board and its apps)

    def path(self, name):
        return os.path.join(self.dir, name)

    def exe(self, name):
        return os.path.join(self.bin, name)

    def write(self, name, text):
        """Writes text to the file name of the directory; returns its path."""
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def sock(self, node):
        """The msgrctl socket of a node of the run: N.sock in the directory."""
        return self.path("%s.sock" % node)

    def ctl(self, sock, *args, json_out=True, ok=True):
        """msgrctl -s SOCK [-j] ARGS: the parsed JSON (or the text with json_out=False), None
        when it fails; with ok=False the CompletedProcess, whatever its status.  SOCK is a
        path, or a node number n for the run's n.sock."""
        if isinstance(sock, int):
            sock = self.sock(sock)
        r = subprocess.run([self.exe("msgrctl"), "-s", sock] + (["-j"] if json_out else []) +
                           list(args), capture_output=True, text=True, timeout=10)
        if not ok:
            return r
        if r.returncode != 0:
            return None
        if not json_out:
            return r.stdout
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    def proc(self, sock, name="app"):
        """The process `name` of msgrctl -j proc on sock (a path or a node), or None."""
        for p in self.ctl(sock, "proc") or []:
            if p["name"] == name:
                return p
        return None

    def msgrd(self, key, node, sock, conf, name, args=(), tolerance=None):
        """Starts msgrd as node `node` (--foreground, --log-level info) with the config file
        conf, stdout to NAME.out (truncated) and stderr to NAME.err (appended: a restarted
        node keeps what it said before), kept as procs[key].  Returns the stdout's path:
        the daemon is up once ready() says so."""
        out = self.path(name + ".out")
        cmd = [self.exe("msgrd"), "--node-id", str(node), "--foreground", "--socket", sock]
        if tolerance is not None:
            cmd += ["--tolerance", str(tolerance)]
        cmd += ["-c", conf, "--log-level", "info"] + list(args)
        self.procs[key] = subprocess.Popen(cmd, stdout=open(out, "w"),
                                           stderr=open(self.path(name + ".err"), "a"))
        return out

    @staticmethod
    def ready(out):
        return "READY" in open(out).read()

    def stop(self):
        """SIGTERM to every process started, SIGKILL to one still there 10 s later; then
        SIGKILL to the process groups in pgroups."""
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for pid in self.pgroups:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass

    def fail(self, msg):
        print("FAIL:", msg)
        names = self.logs if self.logs is not None else \
            [f for f in sorted(os.listdir(self.dir)) if f.endswith(".err") or f.endswith(".log")]
        for f in names:
            p = self.path(f)
            if os.path.exists(p):
                print("---", f)
                print("".join(open(p).readlines()[-self.tail:]))
        if self.diagnose:
            self.diagnose()
        print("logs kept in", self.dir)
        self.stop()
        sys.exit(1)

    def until(self, secs, what, fn):
        """fn() polled every 20 ms until it returns something true, which is returned; a
        failure after secs seconds."""
        end = time.monotonic() + secs
        while True:
            v = fn()
            if v:
                return v
            if time.monotonic() > end:
                self.fail("timeout (%d s): %s" % (secs, what))
            time.sleep(0.02)  # poll interval, not synchronisation

    def remove(self, keep=False):
        """Removes the directory of a passing run (keep: says where it is instead)."""
        if keep:
            print("logs kept in", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def lines(path):
    """The lines of a log, [] before it exists."""
    try:
        return open(path).read().splitlines()
    except FileNotFoundError:
        return []


def starts(path):
    """msgr-ha-app's "start pid=P restored=N|none ..." lines."""
    return [l for l in lines(path) if l.startswith("start ")]


def last_acked(path):
    """The last counter msgr-ha-app logged as acknowledged by the store ("acked N"), 0 if none."""
    a = [int(l.split()[1]) for l in lines(path) if l.startswith("acked ")]
    return a[-1] if a else 0


def ftm_entity(ha, i):
    """Entity i of the FTM's registry in a msgrctl -j ha document, or None."""
    if not ha or not ha.get("ftm"):
        return None
    for e in ha["ftm"]["entities"]:
        if e["id"] == i:
            return e
    return None
