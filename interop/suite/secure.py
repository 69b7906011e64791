"""The suite's side of a secured link (RFC 12), written from the RFC: the KEY_EXCHANGE
MACs (12.2), the key derivation (12.3), SECURED frames (12.4).  The scripted peer plays
the responder R (its node_id is above the IUT's) and, once keys are installed, talks
through SecBearer, which encrypts what the peer sends and decrypts what it receives, so
the rest of the harness runs unchanged on the inner frames."""
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

T_SECURED, T_KX = 0x40, 0x41
PLAIN, REQUIRED, TRANSITION = 0, 1, 2


def hkdf(ikm, salt, info, n):
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=salt, info=info).derive(ikm)


def hkdf_extract(salt, ikm):
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand(prk, info, n):
    return HKDFExpand(algorithm=hashes.SHA256(), length=n, info=info).derive(prk)


def kx_mac_key(cluster_key, domain):
    return hkdf(cluster_key, struct.pack(">I", domain), b"messenger/1 kx-mac", 32)


def kx_frame(phase, key_id, suite, node_id, exchange_id, pub, rnd, mac_key, prefix=b"",
             bad_mac=False):
    """A KEY_EXCHANGE frame (96 octets); its mac covers prefix || its own octets 0..63."""
    f = struct.pack("!BBH", 0x10, T_KX, 96) + struct.pack("!BBHII", phase, key_id, suite,
                                                          node_id, exchange_id) + pub + rnd
    assert len(f) == 64
    mac = hmac.new(mac_key, prefix + f, hashlib.sha256).digest()
    if bad_mac:
        mac = bytes([mac[0] ^ 1]) + mac[1:]
    return f + mac


def kx_parse(d):
    phase, key_id, suite, node_id, xid = struct.unpack("!BBHII", d[4:16])
    return {"phase": phase, "key_id": key_id, "suite": suite, "node_id": node_id,
            "exchange_id": xid, "pub": d[16:48], "random": d[48:64], "mac": d[64:96]}


def kx_mac_ok(mac_key, prefix, d):
    return hmac.compare_digest(hmac.new(mac_key, prefix + d[:64], hashlib.sha256).digest(),
                               d[64:96])


def derive(z, r_i, r_r, a, b, key_id, suite):
    prk = hkdf_extract(r_i + r_r, z)
    tail = struct.pack(">IIBH", a, b, key_id, suite)
    return (hkdf_expand(prk, b"messenger/1 key" + tail, 32),
            hkdf_expand(prk, b"messenger/1 iv" + tail, 4))


def seal(key, iv, key_id, counter, inner):
    hdr = struct.pack("!BBH", 0x10, T_SECURED, 16 + len(inner) + 16) + \
        struct.pack("!BBHQ", key_id, 0, 0, counter)
    return hdr + AESGCM(key).encrypt(iv + struct.pack(">Q", counter), inner, hdr)


def open_secured(key, iv, d):
    """(key_id, counter, inner) or None when it does not authenticate."""
    if len(d) < 32 or d[1] != T_SECURED:
        return None
    key_id, counter = d[4], struct.unpack(">Q", d[8:16])[0]
    try:
        inner = AESGCM(key).decrypt(iv + struct.pack(">Q", counter), d[16:], d[:16])
    except Exception:  # noqa: BLE001
        return None
    return key_id, counter, inner


class Responder:
    """R's half of one exchange: answer an INIT, check the CONFIRM."""
    def __init__(self, cluster_key, domain, node_id, iut_id):
        self.mac_key = kx_mac_key(cluster_key, domain)
        self.node_id, self.iut_id = node_id, iut_id
        self.priv = X25519PrivateKey.generate()
        self.pub = self.priv.public_key().public_bytes(serialization.Encoding.Raw,
                                                       serialization.PublicFormat.Raw)
        self.rnd = os.urandom(16)
        self.init = self.resp = None

    def answer(self, init, pub=None, bad_mac=False, node_id=None, exchange_id=None):
        """The RESP to INIT (bytes); installs the keys unless pub is forced."""
        k = kx_parse(init)
        self.init, self.kx = init, k
        self.suite = 1
        self.resp = kx_frame(2, k["key_id"], self.suite, node_id or self.node_id,
                             k["exchange_id"] if exchange_id is None else exchange_id,
                             pub or self.pub, self.rnd, self.mac_key, prefix=init[:96],
                             bad_mac=bad_mac)
        if pub is None:
            z = self.priv.exchange(X25519PublicKey.from_public_bytes(k["pub"]))
            self.tx_key, self.tx_iv = derive(z, k["random"], self.rnd, self.node_id,
                                             self.iut_id, k["key_id"], self.suite)
            self.rx_key, self.rx_iv = derive(z, k["random"], self.rnd, self.iut_id,
                                             self.node_id, k["key_id"], self.suite)
            self.key_id = k["key_id"]
        return self.resp

    def confirm_ok(self, d):
        return d[1] == T_KX and d[4] == 3 and kx_mac_ok(self.mac_key, self.init[:96] + self.resp[:96], d)


class Initiator:
    """I's half (the peer rekeying, 12.6: either end may initiate a rekey)."""
    def __init__(self, cluster_key, domain, node_id, iut_id, key_id):
        self.mac_key = kx_mac_key(cluster_key, domain)
        self.node_id, self.iut_id, self.key_id = node_id, iut_id, key_id
        self.priv = X25519PrivateKey.generate()
        self.pub = self.priv.public_key().public_bytes(serialization.Encoding.Raw,
                                                       serialization.PublicFormat.Raw)
        self.rnd = os.urandom(16)
        self.xid = struct.unpack(">I", os.urandom(4))[0]
        self.init = kx_frame(1, key_id, 1, node_id, self.xid, self.pub, self.rnd, self.mac_key)

    def confirm(self, resp):
        """Check RESP, derive the keys, return the CONFIRM (None if RESP is bad)."""
        if not (resp[1] == T_KX and resp[4] == 2 and
                kx_mac_ok(self.mac_key, self.init[:96], resp)):
            return None
        k = kx_parse(resp)
        z = self.priv.exchange(X25519PublicKey.from_public_bytes(k["pub"]))
        self.tx_key, self.tx_iv = derive(z, self.rnd, k["random"], self.node_id, self.iut_id,
                                         self.key_id, k["suite"])
        self.rx_key, self.rx_iv = derive(z, self.rnd, k["random"], self.iut_id, self.node_id,
                                         self.key_id, k["suite"])
        return kx_frame(3, self.key_id, k["suite"], self.node_id, self.xid, b"\0" * 32,
                        b"\0" * 16, self.mac_key, prefix=self.init[:96] + resp[:96])


class SecBearer:
    """Wraps the suite's bearer: every frame but DISCOVER and KEY_EXCHANGE goes out as
    SECURED under the current key; SECURED frames coming in are opened (any installed
    receive key), and what fails to open is kept in `bad` and not returned."""
    def __init__(self, inner, tx_key, tx_iv, rx_keys, key_id):
        self.inner = inner
        self.tx_key, self.tx_iv, self.key_id = tx_key, tx_iv, key_id
        self.rx = dict(rx_keys)                   # key_id -> (key, iv)
        self.counter = 0
        self.sent = []                            # (counter, SECURED bytes)
        self.outer = []                           # every frame received, as on the wire
        self.opened = []                          # (key_id, counter) of each opened frame
        self.bad = []
        self.plain = []                           # unsecured frames other than DISCOVER/KX
        self.log = inner.log
        self.name = inner.name

    def __getattr__(self, k):
        return getattr(self.inner, k)

    def send(self, frame, **kw):
        f = bytes(frame)
        if f[1] in (0x01, T_KX, T_SECURED):
            self.inner.send(f, **kw)
            return
        s = seal(self.tx_key, self.tx_iv, self.key_id, self.counter, f)
        self.sent.append((self.counter, s))
        self.counter += 1
        self.inner.send(s, **kw)

    def send_raw(self, f):
        self.inner.send(f)

    def recv(self, timeout):
        import time
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            d = self.inner.recv(left)
            if d is None:
                return None
            self.outer.append(d)
            if len(d) < 4:
                continue
            if d[1] != T_SECURED:
                if d[1] not in (0x01, T_KX):
                    self.plain.append(d)
                else:
                    return d
                continue
            kid = d[4]
            if kid not in self.rx:
                self.bad.append(d)
                continue
            r = open_secured(self.rx[kid][0], self.rx[kid][1], d)
            if r is None:
                self.bad.append(d)
                continue
            self.opened.append((r[0], r[1]))
            n = struct.unpack("!H", r[2][2:4])[0] if len(r[2]) >= 4 else 0
            return r[2][:n] if n else r[2]
