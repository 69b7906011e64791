"""Scapy layers for Messenger (the RFC field `name` is `dname` here: Scapy reserves `name`)

 (RFC-messenger.md), written from the RFC text alone.

Every message type of Section 5, the options of Section 4, name records with
properties (5.8), BUNDLE members (5.6), NAME_SYNC records (5.10), MGMT microoperations
(5.17), SECURED (5.18) and KEY_EXCHANGE (5.19).  Bound to EtherType 0x88B5 (14.1) and
UDP port 34997 (14.2).  `length` fields are computed on build when left as None.
"""
import struct

from scapy.packet import Packet, bind_layers, Raw, Padding
from scapy.fields import (BitField, ByteEnumField, ByteField, ShortField, IntField,
                          LongField, XByteField, XShortField, XIntField, StrLenField,
                          StrField, StrFixedLenField, PacketLenField, FieldLenField, PacketListField,
                          ConditionalField, FlagsField, ShortEnumField, Field,
                          ThreeBytesField, MACField)
from scapy.layers.l2 import Ether
from scapy.layers.inet import UDP

ETHERTYPE = 0x88B5          # 14.1, 17.6
UDP_PORT = 34997            # 14.2
MCAST4 = "239.255.88.181"
MCAST6 = "ff15::88b5"

TYPES = {
    0x01: "DISCOVER", 0x02: "LINK_RESET", 0x03: "LINK_ACTIVATE", 0x04: "LINK_STATE",
    0x10: "DATA", 0x11: "FRAGMENT", 0x12: "BUNDLE", 0x13: "MINET",
    0x20: "NAME_PUBLISH", 0x21: "NAME_WITHDRAW", 0x22: "NAME_SYNC",
    0x28: "PATH_OPEN", 0x29: "PATH_ACCEPT", 0x2A: "PATH_CLOSE", 0x2B: "PATH_ABORT",
    0x2C: "PATH_CREDIT", 0x2D: "SERVICE_STATUS", 0x30: "MGMT",
    0x40: "SECURED", 0x41: "KEY_EXCHANGE",
}
TYPE_CODES = {v: k for k, v in TYPES.items()}
OPTIONS = {0x01: "NODE_NAME", 0x02: "BEARER_NAME", 0x03: "CAPS", 0x04: "MAX_MESSAGE",
           0x05: "PROBE_INTERVAL", 0x06: "MINET_MAC", 0x07: "ACK_SESSION", 0x08: "PEER_EPOCH",
           0x81: "SECURITY"}
REASONS = {0: "MP_R_NONE", 1: "MP_R_NO_SUCH_DEVICE", 2: "MP_R_REFUSED",
           3: "MP_R_NO_RESOURCES", 4: "MP_R_PROTOCOL", 5: "MP_R_TIMEOUT",
           6: "MP_R_PEER_DOWN", 7: "MP_R_NAME_CONFLICT", 8: "MP_R_VERSION", 9: "MP_R_AUTH",
           10: "MP_R_APP_CLOSE", 11: "MP_R_NOT_PERMITTED", 12: "MP_R_TOO_BIG"}
STATUS = {1: "PEER_UP", 2: "PEER_DOWN", 3: "PATH_BROKEN", 4: "NAME_APPEARED",
          5: "NAME_VANISHED", 6: "SERVICE_READY", 7: "SERVICE_DEGRADED",
          8: "SERVICE_FAILED", 9: "TAKEOVER"}
UOPS = {0x0000: "NOP", 0x0001: "HEARTBEAT", 0x0002: "HEARTBEAT_ACK", 0x0010: "REGISTER",
        0x0011: "UNREGISTER", 0x0020: "CONFIGURE", 0x0021: "BOOT", 0x0022: "RESET",
        0x0023: "QUIESCE", 0x0024: "EXTRACT", 0x0025: "INSERT", 0x0026: "IOP_STATE",
        0x0030: "PROC_START", 0x0031: "PROC_STOP", 0x0032: "PROC_FAILED",
        0x0033: "RECOVER", 0x0034: "TAKEOVER", 0x0040: "CKPT_SAVE", 0x0041: "CKPT_ACK",
        0x0042: "CKPT_RESTORE", 0x0050: "STATS_GET", 0x0051: "STATS_REPLY",
        0x0060: "FENCE", 0x0061: "ELECT"}
BEARERS = {1: "ETH", 2: "PCIE", 3: "SERIAL", 4: "UDP"}


def is_sequenced(t):
    """3.3: sequenced iff the type lies in 0x10-0x3F, assigned or not."""
    return 0x10 <= t <= 0x3F


# ---------------------------------------------------------------- helpers / sublayers
class _Sub(Packet):
    """A list item: never has a payload; the rest goes back to the list."""
    def extract_padding(self, s):
        return b"", s


class MsgrOption(_Sub):
    """4.1: type (8), len (8), value."""
    name = "Messenger option"
    fields_desc = [ByteEnumField("type", 0, OPTIONS),
                   FieldLenField("len", None, length_of="value", fmt="B"),
                   StrLenField("value", b"", length_from=lambda p: p.len)]


class MsgrGap(_Sub):
    """5.3 gap block."""
    name = "Messenger gap block"
    fields_desc = [ShortField("start", 0), ShortField("end", 0)]


class MsgrUop(_Sub):
    """5.17 microoperation."""
    name = "Messenger uop"
    fields_desc = [ShortEnumField("opcode", 0, UOPS), ShortField("arg", 0)]


class MsgrProp(_Sub):
    """5.8 property: key_len, key, val_len, val."""
    name = "Messenger property"
    fields_desc = [FieldLenField("key_len", None, length_of="key", fmt="B"),
                   StrLenField("key", b"", length_from=lambda p: p.key_len),
                   FieldLenField("val_len", None, length_of="value", fmt="B"),
                   StrLenField("value", b"", length_from=lambda p: p.val_len)]


def _name_record_fields():
    return [XIntField("device_id", 0), XShortField("dtype", 0),
            FlagsField("nflags", 0, 8, ["EXCLUSIVE"]), ByteField("rank", 0),
            IntField("generation", 0),
            FieldLenField("name_len", None, length_of="dname", fmt="B"),
            StrLenField("dname", b"", length_from=lambda p: p.name_len),
            FieldLenField("prop_count", None, count_of="props", fmt="B"),
            PacketListField("props", [], MsgrProp, count_from=lambda p: p.prop_count)]


class MsgrNameRecord(_Sub):
    """5.8 name record (the unit of NAME_PUBLISH and NAME_SYNC)."""
    name = "Messenger name record"
    fields_desc = _name_record_fields()


class MsgrSyncRecord(_Sub):
    """5.10: rec_len (16) then a name record of rec_len octets."""
    name = "Messenger NAME_SYNC record"
    fields_desc = [FieldLenField("rec_len", None, length_of="record", fmt="H"),
                   PacketLenField("record", MsgrNameRecord(), MsgrNameRecord,
                                  length_from=lambda p: p.rec_len)]


class _TailTag(Field):
    """All octets but the last 16 (SECURED ciphertext)."""
    __slots__ = ["taglen"]
    def __init__(self, name, default, taglen=16):
        Field.__init__(self, name, default, "B")
        self.taglen = taglen

    def getfield(self, pkt, s):
        n = max(0, len(s) - self.taglen)
        return s[n:], s[:n]

    def addfield(self, pkt, s, val):
        return s + bytes(val or b"")

    def i2len(self, pkt, x):
        return len(x or b"")

    def any2i(self, pkt, x):
        return bytes(x) if x is not None else b""


# ---------------------------------------------------------------- the frame
class Messenger(Packet):
    """Common header (3.1) plus, for types 0x10-0x3F, the sequenced header (3.4)."""
    name = "Messenger"
    fields_desc = [BitField("version", 1, 4),
                   FlagsField("flags", 0, 4, ["b0", "b1", "b2", "ACKREQ"]),
                   ByteEnumField("type", 0x10, TYPES),
                   ShortField("length", None),
                   ConditionalField(ShortField("seq", 0), lambda p: is_sequenced(p.type)),
                   ConditionalField(ShortField("ack", 0), lambda p: is_sequenced(p.type)),
                   ConditionalField(XIntField("chan", 0), lambda p: is_sequenced(p.type)),
                   ConditionalField(IntField("cseq", 0), lambda p: is_sequenced(p.type))]

    def hdr_len(self):
        return 16 if is_sequenced(self.type) else 4

    def post_build(self, p, pay):
        p += pay
        if self.length is None:
            p = p[:2] + struct.pack("!H", len(p)) + p[4:]
        return p

    def extract_padding(self, s):
        # MSG-HDR-5: octets beyond `length` are bearer padding
        if self.length is None:
            return s, b""
        n = max(0, self.length - self.hdr_len())
        return s[:n], s[n:]

    def guess_payload_class(self, payload):
        if self.version != 1:
            return Raw
        return BODIES.get(self.type, Raw)


class _MemberBody(PacketLenField):
    """The body of a member is dissected by the member's own type."""
    def m2i(self, pkt, m):
        cls = BODIES.get(pkt.type, Raw) if pkt.version == 1 else Raw
        if cls in (MsgrFragment, MsgrBundle):
            cls = Raw
        return cls(m)

    def i2m(self, pkt, i):
        return b"" if i is None else bytes(i)


class MsgrBundleMember(_Sub):
    """5.6 member: ver|flags, type, length, chan, cseq (12 octets), then the body."""
    name = "Messenger BUNDLE member"
    fields_desc = [BitField("version", 1, 4),
                   FlagsField("flags", 0, 4, ["b0", "b1", "b2", "ACKREQ"]),
                   ByteEnumField("type", 0x10, TYPES),
                   ShortField("length", None),
                   XIntField("chan", 0), IntField("cseq", 0),
                   _MemberBody("body", None, Raw,
                               length_from=lambda p: max(0, (p.length or 12) - 12))]

    def post_build(self, p, pay):
        if self.length is None:
            p = p[:2] + struct.pack("!H", len(p)) + p[4:]
        return p + pay


# ---------------------------------------------------------------- bodies
class MsgrBody(Packet):
    def extract_padding(self, s):
        return b"", s


class MsgrDiscover(MsgrBody):
    name = "Messenger DISCOVER"
    fields_desc = [XIntField("node_id", 0), XIntField("domain", 0), ByteField("max_version", 1),
                   FlagsField("dflags", 0, 8, ["REPLY", "SECURE"]), ShortField("mtu", 1500),
                   XIntField("incarnation", 0), PacketListField("opts", [], MsgrOption)]


class MsgrLink(MsgrBody):
    name = "Messenger LINK_RESET/LINK_ACTIVATE"
    fields_desc = [XIntField("node_id", 0), XIntField("peer_id", 0), XIntField("incarnation", 0),
                   XShortField("session", 0), ShortField("next_seq", 0),
                   ShortField("tolerance_ms", 500), ShortField("window", 256),
                   ShortField("mtu", 1500), ByteField("priority", 0),
                   FlagsField("lflags", 0, 8, ["STANDBY"]),
                   PacketListField("opts", [], MsgrOption)]


class MsgrLinkState(MsgrBody):
    name = "Messenger LINK_STATE"
    fields_desc = [XShortField("session", 0), ShortField("ack", 0), ShortField("next_seq", 0),
                   FlagsField("sflags", 0, 8, ["PROBE", "REPLY"]),
                   FieldLenField("gap_count", None, count_of="gaps", fmt="B"),
                   IntField("timestamp", 0), IntField("echo", 0),
                   PacketListField("gaps", [], MsgrGap, count_from=lambda p: p.gap_count)]


class MsgrData(MsgrBody):
    name = "Messenger DATA"
    fields_desc = [StrField("load", b"")]  # RFC: payload (a reserved Scapy name)


class MsgrFragment(MsgrBody):
    name = "Messenger FRAGMENT"
    fields_desc = [ByteEnumField("inner_type", 0x10, TYPES), ByteField("reserved8", 0),
                   ShortField("reserved16", 0), IntField("total_len", 0),
                   IntField("offset", 0), StrField("data", b"")]


class MsgrBundle(MsgrBody):
    name = "Messenger BUNDLE"
    fields_desc = [PacketListField("members", [], MsgrBundleMember)]


class MsgrMinet(MsgrBody):
    name = "Messenger MINET"
    fields_desc = [FlagsField("mflags", 0, 8, ["OFFLOAD", "FLOOD", "NEEDS_CSUM"]),
                   ByteField("gso_type", 0), ShortField("hdr_len", 0),
                   ShortField("gso_size", 0), ShortField("csum_start", 0),
                   ShortField("csum_offset", 0), ShortField("domain", 0),
                   StrField("eth", b"")]


class MsgrNamePublish(MsgrBody):
    name = "Messenger NAME_PUBLISH"
    fields_desc = _name_record_fields()


class MsgrNameWithdraw(MsgrBody):
    name = "Messenger NAME_WITHDRAW"
    fields_desc = [XIntField("device_id", 0), IntField("generation", 0),
                   FieldLenField("name_len", None, length_of="dname", fmt="B"),
                   StrLenField("dname", b"", length_from=lambda p: p.name_len)]


class MsgrNameSync(MsgrBody):
    name = "Messenger NAME_SYNC"
    fields_desc = [FlagsField("yflags", 0, 8, ["FIRST", "LAST"]), ByteField("reserved", 0),
                   FieldLenField("count", None, count_of="records", fmt="H"),
                   PacketListField("records", [], MsgrSyncRecord,
                                   count_from=lambda p: p.count)]


class MsgrPathOpen(MsgrBody):
    name = "Messenger PATH_OPEN"
    fields_desc = [XIntField("src_path", 0x100), XIntField("src_device", 0),
                   XIntField("dst_device", 0), IntField("credit", 0),
                   ByteEnumField("pkind", 1, {1: "UNICAST", 2: "MULTICAST", 3: "ANYCAST"}),
                   ByteField("reserved8", 0), ShortField("reserved16", 0),
                   FieldLenField("name_len", None, length_of="dname", fmt="B"),
                   StrLenField("dname", b"", length_from=lambda p: p.name_len),
                   PacketListField("opts", [], MsgrOption)]


class MsgrPathAccept(MsgrBody):
    name = "Messenger PATH_ACCEPT"
    fields_desc = [XIntField("dst_path", 0x100), XIntField("src_path", 0x100),
                   IntField("credit", 0)]


class MsgrPathClose(MsgrBody):
    name = "Messenger PATH_CLOSE"
    fields_desc = [XIntField("dst_path", 0x100), XIntField("src_path", 0x100),
                   IntField("last_cseq", 0), ByteEnumField("reason", 10, REASONS),
                   ThreeBytesField("reserved", 0)]


class MsgrPathAbort(MsgrBody):
    name = "Messenger PATH_ABORT"
    fields_desc = [XIntField("dst_path", 0x100), XIntField("src_path", 0),
                   ShortEnumField("error", 0, REASONS), ShortField("reserved", 0)]


class MsgrPathCredit(MsgrBody):
    name = "Messenger PATH_CREDIT"
    fields_desc = [XIntField("dst_path", 0x100), IntField("limit", 0)]


class MsgrServiceStatus(MsgrBody):
    name = "Messenger SERVICE_STATUS"
    fields_desc = [ByteEnumField("status", 1, STATUS), ByteEnumField("reason", 0, REASONS),
                   ShortField("reserved", 0), XIntField("node", 0), XIntField("path", 0),
                   XIntField("device", 0),
                   FieldLenField("name_len", None, length_of="dname", fmt="B"),
                   StrLenField("dname", b"", length_from=lambda p: p.name_len)]


class MsgrMgmt(MsgrBody):
    name = "Messenger MGMT"
    fields_desc = [IntField("corr_id", 0), IntField("epoch", 0), IntField("src_entity", 0),
                   IntField("dst_entity", 0),
                   FieldLenField("uop_count", None, count_of="uops", fmt="B"),
                   FlagsField("gflags", 0, 8, ["REPLY", "ERROR"]), ShortField("reserved", 0),
                   FieldLenField("payload_len", None, length_of="load", fmt="I"),
                   PacketListField("uops", [], MsgrUop, count_from=lambda p: p.uop_count),
                   StrLenField("load", b"", length_from=lambda p: p.payload_len)]  # RFC: payload


class MsgrSecured(MsgrBody):
    name = "Messenger SECURED"
    fields_desc = [ByteField("key_id", 0), ByteField("reserved8", 0), ShortField("reserved16", 0),
                   LongField("counter", 0), _TailTag("ciphertext", b""),
                   StrFixedLenField("tag", b"\0" * 16, 16)]


class MsgrKeyExchange(MsgrBody):
    name = "Messenger KEY_EXCHANGE"
    fields_desc = [ByteEnumField("phase", 1, {1: "INIT", 2: "RESP", 3: "CONFIRM"}),
                   ByteField("key_id", 0),
                   ShortEnumField("suite", 1, {1: "AES256GCM", 2: "CHACHA20POLY1305"}),
                   XIntField("node_id", 0), XIntField("exchange_id", 0),
                   StrFixedLenField("public_key", b"\0" * 32, 32),
                   StrFixedLenField("random", b"\0" * 16, 16),
                   StrFixedLenField("mac", b"\0" * 32, 32)]


BODIES = {0x01: MsgrDiscover, 0x02: MsgrLink, 0x03: MsgrLink, 0x04: MsgrLinkState,
          0x10: MsgrData, 0x11: MsgrFragment, 0x12: MsgrBundle, 0x13: MsgrMinet,
          0x20: MsgrNamePublish, 0x21: MsgrNameWithdraw, 0x22: MsgrNameSync,
          0x28: MsgrPathOpen, 0x29: MsgrPathAccept, 0x2A: MsgrPathClose,
          0x2B: MsgrPathAbort, 0x2C: MsgrPathCredit, 0x2D: MsgrServiceStatus,
          0x30: MsgrMgmt, 0x40: MsgrSecured, 0x41: MsgrKeyExchange}


class MsgrCapHdr(Packet):
    """15: the 8-octet LINKTYPE_USER0 capture pseudo-header."""
    name = "Messenger capture pseudo-header"
    fields_desc = [XByteField("magic", 0x4D), ByteField("cversion", 1),
                   ByteEnumField("bearer", 1, BEARERS),
                   FlagsField("cflags", 0, 8, ["TX", "FCS"]),
                   ShortField("bearer_index", 0), ShortField("reserved", 0)]

    def guess_payload_class(self, payload):
        return Messenger


bind_layers(Ether, Messenger, type=ETHERTYPE)
bind_layers(UDP, Messenger, dport=UDP_PORT)
bind_layers(UDP, Messenger, sport=UDP_PORT)
for _t, _c in BODIES.items():
    bind_layers(Messenger, _c, type=_t)
