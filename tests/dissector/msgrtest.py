"""Helpers for the Messenger dissector tests: pcap writing, frame building, and running
the system tshark with a freshly built plugin.

tshark run as root loads no personal plugins and ignores WIRESHARK_PLUGIN_DIR, so the
plugin is copied into a private HOME's personal plugin folder and, when we are root,
tshark runs as nobody (setpriv) with that HOME.  As a normal user the same HOME trick
works without setpriv.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

LINKTYPE_ETHERNET = 1
LINKTYPE_USER0 = 147
ETHERTYPE_MSGR = 0x88B5
UDP_PORT = 34997

# ---------------------------------------------------------------- pcap

def write_pcap(path, linktype, packets, snaplen=65535):
    """packets: iterable of bytes, or (bytes, ts_seconds) tuples."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        for i, p in enumerate(packets):
            if isinstance(p, tuple):
                data, ts = p
            else:
                data, ts = p, 1700000000 + i * 0.001
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            f.write(struct.pack("<IIII", sec, usec, len(data), len(data)))
            f.write(data)


def eth(dst, src, ethertype, payload):
    return bytes(dst) + bytes(src) + struct.pack(">H", ethertype) + payload


def mac(n, side=0):
    """A locally administered MAC that encodes a number (one link per n)."""
    return bytes([0x02, side & 0xFF]) + struct.pack(">I", n & 0xFFFFFFFF)


def ip_checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(src, dst, proto, payload, ident=1, ttl=64):
    hdr = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, ttl, proto, 0,
                      bytes(src), bytes(dst))
    hdr = hdr[:10] + struct.pack(">H", ip_checksum(hdr)) + hdr[12:]
    return hdr + payload


def udp_ipv4(src, dst, sport, dport, payload):
    u = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    return ipv4(src, dst, 17, u)


def icmp_echo(kind, ident, seq, data):
    """kind 8 = request, 0 = reply"""
    m = struct.pack(">BBHHH", kind, 0, 0, ident, seq) + data
    return m[:2] + struct.pack(">H", ip_checksum(m)) + m[4:]


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def caphdr(bearer, cflags, index=0):
    return struct.pack(">BBBBHH", 0x4D, 1, bearer, cflags, index, 0)


def user0(frame, bearer=3, tx=False, fcs=True, index=0, bad_fcs=False):
    cf = (1 if tx else 0) | (2 if fcs else 0)
    out = caphdr(bearer, cf, index) + frame
    if fcs:
        c = crc32c(frame)
        if bad_fcs:
            c ^= 0xDEADBEEF
        out += struct.pack(">I", c)
    return out

# ---------------------------------------------------------------- frames (independent encoder)

SEQUENCED = lambda t: 0x10 <= t <= 0x3F

T = dict(DISCOVER=0x01, LINK_RESET=0x02, LINK_ACTIVATE=0x03, LINK_STATE=0x04, DATA=0x10,
         FRAGMENT=0x11, BUNDLE=0x12, MINET=0x13, NAME_PUBLISH=0x20, NAME_WITHDRAW=0x21,
         NAME_SYNC=0x22, PATH_OPEN=0x28, PATH_ACCEPT=0x29, PATH_CLOSE=0x2A, PATH_ABORT=0x2B,
         PATH_CREDIT=0x2C, SERVICE_STATUS=0x2D, MGMT=0x30, SECURED=0x40, KEY_EXCHANGE=0x41)


def frame(type_, body, seq=0, ack=0, chan=0, cseq=0, flags=0, version=1):
    t = T[type_] if isinstance(type_, str) else type_
    if SEQUENCED(t):
        hdr_len = 16
        length = hdr_len + len(body)
        return struct.pack(">BBHHHII", (version << 4) | flags, t, length, seq, ack, chan, cseq) + body
    length = 4 + len(body)
    return struct.pack(">BBH", (version << 4) | flags, t, length) + body


def member(type_, body, chan=0, cseq=0, flags=0):
    t = T[type_]
    return struct.pack(">BBHII", 0x10 | flags, t, 12 + len(body), chan, cseq) + body


def opts(*pairs):
    return b"".join(struct.pack(">BB", t, len(v)) + v for t, v in pairs)


def name_record(device_id, dtype, nflags, rank, generation, name, props=()):
    n = name.encode()
    out = struct.pack(">IHBBIB", device_id, dtype, nflags, rank, generation, len(n)) + n
    out += struct.pack(">B", len(props))
    for k, v in props:
        out += struct.pack(">B", len(k)) + k.encode() + struct.pack(">B", len(v)) + v
    return out

# ---------------------------------------------------------------- tshark with the plugin

class Tshark:
    """Runs tshark with `plugin` loaded from a private personal plugin folder."""

    def __init__(self, plugin, abi="4.0", tshark="tshark"):
        self.tshark = shutil.which(tshark) or tshark
        self.home = tempfile.mkdtemp(prefix="msgr-ws-")
        os.chmod(self.home, 0o755)
        d = os.path.join(self.home, ".local", "lib", "wireshark", "plugins", abi, "epan")
        os.makedirs(d)
        shutil.copy(plugin, os.path.join(d, "messenger.so"))
        for root, dirs, files in os.walk(self.home):
            for x in dirs + files:
                os.chmod(os.path.join(root, x), 0o755)
        self.root = os.geteuid() == 0
        self.tmpdir = tempfile.mkdtemp(prefix="msgr-pcap-")
        os.chmod(self.tmpdir, 0o755)

    def cleanup(self):
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmpdir, name)

    def run(self, args, env=None, check=True):
        e = {"HOME": self.home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
        if env:
            e.update(env)
        cmd = [self.tshark] + list(args)
        if self.root:
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env"] + \
                  ["%s=%s" % kv for kv in e.items()] + cmd
            e = None
        # Files produced by the test must be readable by nobody.
        for f in os.listdir(self.tmpdir):
            os.chmod(os.path.join(self.tmpdir, f), 0o644)
        r = subprocess.run(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.tmpdir)
        out = r.stdout.decode("utf-8", "replace")
        err = r.stderr.decode("utf-8", "replace")
        if check and r.returncode != 0:
            raise RuntimeError("tshark %s failed (%d): %s" % (" ".join(args), r.returncode, err))
        return r.returncode, out, err

    def assert_plugin_loaded(self):
        _, out, err = self.run(["-G", "plugins"])
        if "messenger.so" not in out:
            raise SystemExit("FAIL: messenger.so not loaded by tshark (-G plugins):\n%s\n%s" % (out, err))
        _, out, _ = self.run(["-G", "protocols"])
        if not any(line.split("\t")[2:3] == ["msgr"] for line in out.splitlines()):
            raise SystemExit("FAIL: protocol msgr not registered")

    def json(self, pcap, extra=()):
        _, out, _ = self.run(["-r", pcap, "-T", "json", "--no-duplicate-keys"] + list(extra))
        return json.loads(out)


def flatten(obj, out=None):
    """Flatten tshark -T json (--no-duplicate-keys) layers into [(key, value)] in order."""
    if out is None:
        out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, list):
                for item in v:
                    if isinstance(item, (dict, list)):
                        flatten(item, out)
                    else:
                        out.append((k, item))
            elif isinstance(v, dict):
                flatten(v, out)  # a subtree ("<field>_tree" or a text label)
            else:
                out.append((k, v))
    elif isinstance(obj, list):
        for item in obj:
            flatten(item, out)
    return out


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)
