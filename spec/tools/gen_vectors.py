#!/usr/bin/python3
"""gen_vectors.py — generate spec/vectors/NNN-name.json (format: spec/vectors/FORMAT.md).

An independent encoder: every frame is built field by field with struct.pack (big-endian)
from the layouts in proto/include/mp/wire.h and spec/design-notes.md.  It shares no code
with proto/.  Deterministic: running it twice gives identical files.  It first deletes
every NNN-*.json in spec/vectors/ (stale generated vectors), then writes the vectors and
spec/vectors/REQUIREMENTS-USED.txt.

    /usr/bin/python3 spec/tools/gen_vectors.py          # (re)generate
    /usr/bin/python3 spec/tools/check_vectors.py        # validate

Vector numbers are assigned by hand below, grouped by message type (see GROUPS); a number
is never reused for a different vector.
"""
import json
import os
import re
import struct
import sys

sys.dont_write_bytecode = True  # keep spec/tools free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpspec import (TYPES, is_sequenced, crc32c, serial_wrap, stuff, deframe,  # noqa: E402
                    name_ok, pattern_ok, pattern_match, SERIAL_CAP)

VEC_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                        "..", "vectors"))

# ---- requirement IDs (the RFC author aligns the RFC's IDs with these) ------------------
REQS = {
    "MSG-HDR-1": "Every frame starts with the 4-byte common header: version (high nibble of byte 0), flags (low nibble), type (byte 1), length (bytes 2-3, big-endian, the total frame length including the header).",
    "MSG-HDR-2": "The version nibble MUST be 1; a frame with any other version is rejected (MP_EVERSION).",
    "MSG-HDR-3": "A frame whose type is not assigned in the type registry (including unassigned sequenced types and private types 0x80-0xFF) is rejected by the frame decoder (MP_ETYPE).",
    "MSG-HDR-4": "Input shorter than 4 bytes, or shorter than the length field, is truncated (MP_ETRUNC).",
    "MSG-HDR-5": "Bytes after `length` in a bearer payload are padding and are ignored; re-encoding yields only the first `length` bytes.",
    "MSG-HDR-6": "Types 0x10-0x3F carry the 16-byte sequenced header: seq(16) at 4, ack(16) at 6, chan(32) at 8, cseq(32) at 12.",
    "MSG-HDR-7": "Flag 0x8 (ACKREQ) asks for an immediate LINK_STATE; other flag bits are sent zero and ignored by receivers; the codec keeps all four flag bits raw and never rejects them.",
    "MSG-HDR-8": "A length below the type's minimum, different from the type's fixed size, or different from the size derived from fixed-size-per-count fields is rejected (MP_ELENGTH).",
    "MSG-HDR-9": "Sequence numbers use serial arithmetic; every 16-bit seq/ack and 32-bit cseq value, including 0xFFFF, 0x0000 and 0xFFFFFFFF, is valid on the wire.",
    "MSG-HDR-10": "Channels 0x02-0xFF are reserved: a sequenced frame on one of them is rejected (MP_ECHANNEL).",
    "MSG-HDR-11": "Reserved fields and undefined flag bits inside message bodies MUST be zero; the decoder rejects non-zero values (MP_ERESERVED).",
    "MSG-HDR-12": "Error precedence: ETRUNC > EVERSION > ETYPE > ELENGTH > ECHANNEL > ERESERVED > field checks (ERANGE/ENAME/EPATTERN/EPROP/EOPTION/ECOUNT) in wire order.",
    "MSG-HDR-13": "The maximum frame length is 65535 bytes (16-bit length field).",
    "MSG-OPT-1": "Options follow the fixed part (and, in PATH_OPEN, the name) of DISCOVER, LINK_RESET, LINK_ACTIVATE and PATH_OPEN up to `length`, as TLVs type(8) len(8) value(len); the decoder returns them in wire order.",
    "MSG-OPT-2": "A frame carries at most 16 options (MP_EOPTION).",
    "MSG-OPT-3": "An option type appears at most once in a frame (MP_EOPTION).",
    "MSG-OPT-4": "Bit 7 of the option type marks a critical option; an unknown critical option rejects the frame (MP_EOPTION).",
    "MSG-OPT-5": "An unknown non-critical option is skipped by the receiver; the codec accepts it and preserves it (type and value) so re-encoding is byte-exact.",
    "MSG-OPT-6": "An option whose 2-byte header or value runs past the end of the frame is malformed (MP_EOPTION).",
    "MSG-OPT-7": "A known option has a defined value length (NODE_NAME 1..63, BEARER_NAME 1..31, CAPS 4, MAX_MESSAGE 4, PROBE_INTERVAL 2, MINET_MAC 6, ACK_SESSION 2, PEER_EPOCH 4, SECURITY 1); any other length is malformed (MP_EOPTION).",
    "MSG-OPT-8": "NODE_NAME is one name component (1..63 of [A-Za-z0-9._-], not '.' or '..') (MP_ENAME).",
    "MSG-OPT-9": "SECURITY (0x81, critical) carries a policy 0..2 (PLAIN, REQUIRED, TRANSITION) (MP_ERANGE).",
    "MSG-OPT-10": "MAX_MESSAGE is between 1 MiB (every node MUST reassemble 1 MiB) and 16 MiB (MP_ERANGE).",
    "MSG-OPT-11": "PROBE_INTERVAL is a non-zero number of milliseconds (MP_ERANGE).",
    "MSG-OPT-12": "CAPS is a 32-bit capability mask (SECURE, BUNDLE, FRAGMENT, MINET, MGMT); MINET_MAC is a 6-byte MAC address; BEARER_NAME is 1..31 bytes.",
    "MSG-DISC-1": "DISCOVER layout: node_id(32) domain(32) max_version(8) dflags(8) mtu(16) incarnation(32), 20 bytes, then options; minimum length 20.",
    "MSG-DISC-2": "node_id is neither 0 nor 0xFFFFFFFF (DISCOVER, LINK_RESET/ACTIVATE node_id and peer_id, KEY_EXCHANGE) (MP_ERANGE).",
    "MSG-DISC-3": "dflags: REPLY 0x01, SECURE 0x02; other bits are reserved (MP_ERESERVED).",
    "MSG-DISC-4": "max_version is at least 1 (MP_ERANGE); it may exceed the frame's own version.",
    "MSG-LINK-1": "LINK_RESET and LINK_ACTIVATE layout: node_id peer_id incarnation (32 each) session next_seq tolerance_ms window mtu (16 each) priority(8) lflags(8), 28 bytes, then options; minimum length 28.",
    "MSG-LINK-2": "tolerance_ms is 10..30000 (MP_ERANGE).",
    "MSG-LINK-3": "window is 1..16384 (MP_ERANGE).",
    "MSG-LINK-4": "priority is 0..31 (MP_ERANGE).",
    "MSG-LINK-5": "lflags: STANDBY 0x01; other bits are reserved (MP_ERESERVED).",
    "MSG-LINK-39": "Every LINK_RESET and LINK_ACTIVATE carries a PEER_EPOCH option (0x08, 4 octets): the sender's loss epoch for the receiver.",
    "MSG-LINK-37": "Every LINK_ACTIVATE carries an ACK_SESSION option (0x07, 2 octets): the receiver's session as the sender learned it.",
    "MSG-STATE-1": "LINK_STATE layout: session ack next_seq (16 each) sflags(8) gap_count(8) timestamp(32) echo(32), 20 bytes, then gap_count gap blocks start(16) end(16); length MUST equal 20 + 4*gap_count (MP_ELENGTH).",
    "MSG-STATE-2": "gap_count is at most 32 (MP_ERANGE).",
    "MSG-STATE-3": "sflags: PROBE 0x01, REPLY 0x02; other bits are reserved (MP_ERESERVED).",
    "MSG-STATE-4": "A gap block is an inclusive range; its end is not before its start in 16-bit serial arithmetic (it may wrap through 0) (MP_ERANGE).",
    "MSG-DATA-1": "DATA is the sequenced header followed by the payload (0..65519 bytes); an empty payload is valid.",
    "MSG-DATA-2": "DATA travels on a path channel (chan >= 0x100) (MP_ECHANNEL).",
    "MSG-FRAG-1": "FRAGMENT layout: inner_type(8) reserved(8) reserved(16) total_len(32) offset(32) after the sequenced header, then at least 1 fragment byte; minimum length 29 (MP_ELENGTH).",
    "MSG-FRAG-2": "inner_type is an assigned sequenced type other than FRAGMENT and BUNDLE (MP_ETYPE).",
    "MSG-FRAG-3": "total_len is at most 16 MiB and offset + fragment length is at most total_len (MP_ERANGE).",
    "MSG-FRAG-4": "A FRAGMENT carries its message's chan and cseq, so its channel follows the channel rule of inner_type (MP_ECHANNEL).",
    "MSG-BNDL-1": "BUNDLE has chan = 0 and cseq = 0 (MP_ECHANNEL).",
    "MSG-BNDL-2": "BUNDLE members follow the sequenced header back to back, each a 12-byte inner header ver|flags(8) type(8) length(16) chan(32) cseq(32) then the body, member length including the inner header; there is at least one member; a member shorter than 12 or running past the frame is MP_ELENGTH.",
    "MSG-BNDL-3": "A member's type is an assigned sequenced type other than FRAGMENT and BUNDLE (MP_ETYPE).",
    "MSG-BNDL-4": "Each member is validated like a frame of its type (version, length, channel, reserved fields, field checks) with its own chan/cseq.",
    "MSG-MINET-1": "MINET layout: mflags(8) gso_type(8) hdr_len(16) gso_size(16) csum_start(16) csum_offset(16) domain(16) after the sequenced header, then an Ethernet frame of at least 14 bytes without FCS; minimum length 42 (MP_ELENGTH).",
    "MSG-MINET-2": "MINET travels on channel 1 (MP_ECHANNEL).",
    "MSG-MINET-3": "mflags: OFFLOAD 0x01, FLOOD 0x02, NEEDS_CSUM 0x04; other bits are reserved (MP_ERESERVED).",
    "MSG-MINET-4": "gso_type is NONE 0, TCPV4 1, UDP 3 or TCPV6 4, optionally ORed with ECN 0x80 (MP_ERANGE).",
    "MSG-NAME-1": "Name record layout: device_id(32) dtype(16) nflags(8) rank(8) generation(32) name_len(8) name prop_count(8) then per property key_len(8) key val_len(8) val; NAME_PUBLISH's body is exactly one record; minimum NAME_PUBLISH length 31; a name_len that runs the name or prop_count past the record is MP_ELENGTH.",
    "MSG-NAME-2": "A name is 1..127 bytes of '/'-separated components, each 1..63 of [A-Za-z0-9._-] and not '.' or '..'; no leading or trailing '/', no '//' (MP_ENAME).",
    "MSG-NAME-3": "A pattern is a name that may also use '*' (any run, possibly empty, inside one component), '?' (exactly one character) and '**' as a whole component (zero or more components); matching is case-sensitive (MP_EPATTERN).",
    "MSG-NAME-4": "A record has at most 16 properties (prop_count > 16 is MP_ERANGE).",
    "MSG-NAME-5": "A property key is 1..31 of [a-z0-9_.-]; a value is 0..255 octets without NUL; keys are unique within a record (MP_EPROP).",
    "MSG-NAME-6": "The properties declared by prop_count exactly fill the rest of the record (MP_ECOUNT).",
    "MSG-NAME-7": "nflags: EXCLUSIVE 0x01; other bits are reserved (MP_ERESERVED).",
    "MSG-NAME-8": "NAME_PUBLISH, NAME_WITHDRAW and NAME_SYNC travel on channel 0 (MP_ECHANNEL).",
    "MSG-NAME-9": "NAME_WITHDRAW layout: device_id(32) generation(32) name_len(8) name; length MUST equal 25 + name_len and the name is non-empty (minimum 26) (MP_ELENGTH).",
    "MSG-NAME-10": "NAME_SYNC layout: yflags(8) reserved(8) count(16) then count records, each rec_len(16) + name record; minimum length 20.",
    "MSG-NAME-11": "NAME_SYNC: the count records (by their rec_len) exactly fill the frame: records running past it or bytes left after them are MP_ECOUNT; a rec_len below 15 is MP_ELENGTH; each record exactly fills its rec_len.",
    "MSG-NAME-12": "NAME_SYNC: yflags FIRST 0x01, LAST 0x02, other bits and the reserved byte zero (MP_ERESERVED); count 0 is allowed only with LAST (MP_ERANGE), e.g. FIRST|LAST with count 0 for an empty table.",
    "MSG-PATH-1": "PATH_OPEN layout: src_path src_device dst_device credit (32 each) pkind(8) reserved(8) reserved(16) name_len(8) name(0..127) then options; minimum length 37; length below 37 + name_len is MP_ELENGTH.",
    "MSG-PATH-2": "PATH_OPEN travels on channel 0 (MP_ECHANNEL).",
    "MSG-PATH-3": "pkind is UNICAST 1, MULTICAST 2 or ANYCAST 3 (MP_ERANGE).",
    "MSG-PATH-4": "A PATH_OPEN name may be empty; a non-empty name is a name for UNICAST (MP_ENAME) and a pattern for MULTICAST and ANYCAST (MP_EPATTERN).",
    "MSG-PATH-5": "Path ids are >= 0x100: PATH_OPEN, PATH_ACCEPT and PATH_CLOSE src_path; PATH_ABORT src_path is 0 (refusal, no path exists) or >= 0x100 (MP_ERANGE).",
    "MSG-PATH-6": "PATH_ACCEPT, PATH_CLOSE, PATH_ABORT and PATH_CREDIT travel on the receiver's path channel: chan = body dst_path and >= 0x100 (MP_ECHANNEL).",
    "MSG-PATH-7": "PATH_ACCEPT is exactly 28 bytes: dst_path src_path credit; it is cseq 0 of the opener's channel (MP_ECHANNEL otherwise).",
    "MSG-PATH-8": "PATH_CLOSE is exactly 32 bytes: dst_path src_path last_cseq reason(8) reserved(24); reason is a registry value 0..12 (MP_ERANGE); reserved zero.",
    "MSG-PATH-9": "PATH_ABORT is exactly 28 bytes: dst_path src_path error(16) reserved(16); error is a registry value 0..12 (MP_ERANGE); reserved zero.",
    "MSG-PATH-10": "PATH_CREDIT is exactly 24 bytes: dst_path limit; limit is an absolute cseq bound (serial arithmetic, any value).",
    "MSG-PATH-11": "PATH_OPEN reserved bytes are zero (MP_ERESERVED).",
    "MSG-STAT-1": "SERVICE_STATUS layout: status(8) reason(8) reserved(16) node path device (32 each) name_len(8) name(0..127); length MUST equal 33 + name_len (MP_ELENGTH).",
    "MSG-STAT-2": "status is 1..9 and reason is a registry value 0..12 (MP_ERANGE).",
    "MSG-STAT-3": "SERVICE_STATUS reserved field is zero (MP_ERESERVED).",
    "MSG-STAT-4": "SERVICE_STATUS travels on channel 0 or on a path channel (>= 0x100) (MP_ECHANNEL).",
    "MSG-STAT-5": "A SERVICE_STATUS name is empty or a valid name (MP_ENAME).",
    "MSG-MGMT-1": "MGMT layout: corr_id epoch src_entity dst_entity (32 each) uop_count(8) gflags(8) reserved(16) payload_len(32), 40 bytes, then uop_count x (opcode(16) arg(16)), then payload; length MUST equal 40 + 4*uop_count + payload_len (MP_ELENGTH).",
    "MSG-MGMT-2": "uop_count is 0..64 (MP_ERANGE).",
    "MSG-MGMT-3": "gflags: REPLY 0x01, ERROR 0x02; other bits and the reserved field are zero (MP_ERESERVED).",
    "MSG-MGMT-4": "MGMT travels on channel 0 or on a path channel (>= 0x100) (MP_ECHANNEL).",
    "MSG-MGMT-5": "Microoperation opcodes and args are not range-checked by the codec (unassigned and private 0x8000-0xFFFF opcodes decode).",
    "MSG-SEC-1": "SECURED layout: key_id(8) reserved(8) reserved(16) counter(64) then ciphertext (>= 4 bytes) then a 16-byte tag; minimum length 36 (MP_ELENGTH).",
    "MSG-SEC-2": "SECURED reserved fields are zero (MP_ERESERVED).",
    "MSG-SEC-3": "KEY_EXCHANGE is exactly 96 bytes: phase(8) key_id(8) suite(16) node_id(32) exchange_id(32) public_key(32 bytes) random(16 bytes) mac(32 bytes) (MP_ELENGTH).",
    "MSG-SEC-4": "KEY_EXCHANGE phase is INIT 1, RESP 2 or CONFIRM 3 (MP_ERANGE).",
    "MSG-SEC-5": "KEY_EXCHANGE suite is AES256GCM 1 or CHACHA20POLY1305 2 (MP_ERANGE).",
    "MSG-SEC-6": "SECURED and KEY_EXCHANGE are unsequenced: 4-byte common header only.",
    "MSG-SER-1": "Serial line format: 0x7E, stuffed(frame || CRC-32C(frame) big-endian), 0x7E.",
    "MSG-SER-2": "Stuffing: 0x7E and 0x7D are sent as 0x7D followed by the byte XOR 0x20.",
    "MSG-SER-3": "CRC-32C is Castagnoli, reflected, init and xorout 0xFFFFFFFF ('123456789' -> 0xE3069283); a frame whose CRC does not match is discarded and counted (crc_errors).",
    "MSG-SER-4": "One flag may close one frame and open the next; empty frames (consecutive flags) are ignored and not counted.",
    "MSG-SER-5": "0x7D followed by 0x7E aborts the frame in progress; it is discarded and counted (framing_errors); that 0x7E opens the next frame.",
    "MSG-SER-6": "A frame longer than the de-framer capacity (one maximum frame plus CRC: 65539 bytes after unstuffing) is discarded up to the next flag and counted (overruns).",
    "MSG-SER-7": "A frame shorter than 8 bytes after unstuffing (common header + CRC) is discarded and counted (runts).",
    "MSG-SER-8": "Bytes before the first flag are discarded without being counted (the receiver is hunting for a flag); an unterminated frame at the end of input is not counted.",
    "MSG-SER-9": "The receiver accepts any escaped byte (0x7D, b -> b XOR 0x20), not only escaped 0x7E and 0x7D.",
    "MSG-CAP-1": "Capture pseudo-header (LINKTYPE_USER0): magic 0x4D, version 1, bearer(8), cflags(8), bearer_index(16), reserved(16): 8 bytes.",
    "MSG-CAP-2": "A wrong magic or version, undefined cflags bits (only TX 0x01 and FCS 0x02 are defined) or non-zero reserved field is rejected (MP_ERESERVED).",
    "MSG-CAP-3": "bearer is ETH 1, PCIE 2, SERIAL 3 or UDP 4 (MP_ERANGE).",
    "MSG-CAP-4": "Input shorter than 8 bytes is truncated (MP_ETRUNC).",
}

VECTORS = []


def clean(obj):
    """Drop encoder-only override keys (leading '_') recursively."""
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [clean(v) for v in obj]
    return obj


def add(num, name, desc, reqs, kind, valid, raw, fields=None, error=None, canonical=None):
    for r in reqs:
        assert r in REQS, (name, r)
    assert "\n" not in desc
    v = {"name": name, "description": desc, "requirements": list(reqs), "kind": kind,
         "valid": valid}
    if canonical is not None:
        v["canonical"] = canonical
    v["hex"] = raw.hex()
    if fields is not None:
        v["fields"] = fields
    if error is not None:
        v["error"] = error
    VECTORS.append((num, v))


def pat(n, seed=0):
    """Deterministic filler bytes."""
    return bytes((seed + i * 31 + (i >> 8)) & 0xFF for i in range(n))


def h(x):
    return bytes.fromhex(x)


def nb(s):
    return s.encode("latin-1") if isinstance(s, str) else s


# ---- body encoders: body dict (JSON field names) -> bytes ------------------------------

def enc_opts(opts):
    out = b""
    for o in opts:
        v = h(o["value"])
        out += bytes([o["type"], o.get("_len", len(v))]) + v
    return out


def enc_discover(b):
    return struct.pack(">IIBBHI", b["node_id"], b["domain"], b["max_version"], b["dflags"],
                       b["mtu"], b["incarnation"]) + enc_opts(b["opts"])


def enc_link(b):
    return struct.pack(">IIIHHHHHBB", b["node_id"], b["peer_id"], b["incarnation"],
                       b["session"], b["next_seq"], b["tolerance_ms"], b["window"], b["mtu"],
                       b["priority"], b["lflags"]) + enc_opts(b["opts"])


def enc_state(b):
    out = struct.pack(">HHHBBII", b["session"], b["ack"], b["next_seq"], b["sflags"],
                      b["gap_count"], b["timestamp"], b["echo"])
    for g in b["gaps"]:
        out += struct.pack(">HH", g["start"], g["end"])
    return out


def enc_data(b):
    return h(b["payload"])


def enc_fragment(b):
    return struct.pack(">BBHII", b["inner_type"], b.get("_r8", 0), b.get("_r16", 0),
                       b["total_len"], b["offset"]) + h(b["data"])


def enc_member(m):
    body = ENC[m["type"]](m["body"]) + h(m["body"].get("_tail", ""))
    length = m.get("_length", 12 + len(body))
    code = m.get("_code", TYPES[m["type"]])
    return (bytes([(m.get("_version", 1) << 4) | m["flags"], code])
            + struct.pack(">HII", length, m["chan"], m["cseq"]) + body)


def enc_bundle(b):
    return b"".join(enc_member(m) for m in b["members"])


def enc_minet(b):
    return struct.pack(">BBHHHHH", b["mflags"], b["gso_type"], b["hdr_len"], b["gso_size"],
                       b["csum_start"], b["csum_offset"], b["domain"]) + h(b["eth"])


def enc_props(props):
    out = b""
    for p in props:
        k, v = nb(p.get("_key_bytes", p["key"])), h(p["value"])
        out += bytes([p.get("_key_len", len(k))]) + k + bytes([p.get("_val_len", len(v))]) + v
    return out


def enc_record(b):
    name = nb(b["name"])
    return (struct.pack(">IHBBI", b["device_id"], b["dtype"], b["nflags"], b["rank"],
                        b["generation"])
            + bytes([b.get("_name_len", len(name))]) + name + bytes([b["prop_count"]])
            + enc_props(b["props"]))


def enc_withdraw(b):
    name = nb(b["name"])
    return (struct.pack(">II", b["device_id"], b["generation"])
            + bytes([b.get("_name_len", len(name))]) + name)


def enc_sync(b):
    out = struct.pack(">BBH", b["yflags"], b.get("_r8", 0), b["count"])
    for r in b["records"]:
        rec = h(r["_raw"]) if "_raw" in r else enc_record(r) + h(r.get("_tail", ""))
        out += struct.pack(">H", r.get("_rec_len", len(rec))) + rec
    return out


def enc_open(b):
    name = nb(b["name"])
    return (struct.pack(">IIIIBBH", b["src_path"], b["src_device"], b["dst_device"],
                        b["credit"], b["pkind"], b.get("_r8", 0), b.get("_r16", 0))
            + bytes([b.get("_name_len", len(name))]) + name + enc_opts(b["opts"]))


def enc_accept(b):
    return struct.pack(">III", b["dst_path"], b["src_path"], b["credit"])


def enc_close(b):
    return struct.pack(">IIIB", b["dst_path"], b["src_path"], b["last_cseq"],
                       b["reason"]) + b.get("_r24", 0).to_bytes(3, "big")


def enc_abort(b):
    return struct.pack(">IIHH", b["dst_path"], b["src_path"], b["error"], b.get("_r16", 0))


def enc_credit(b):
    return struct.pack(">II", b["dst_path"], b["limit"])


def enc_status(b):
    name = nb(b["name"])
    return (struct.pack(">BBHIII", b["status"], b["reason"], b.get("_r16", 0), b["node"],
                        b["path"], b["device"])
            + bytes([b.get("_name_len", len(name))]) + name)


def enc_mgmt(b):
    payload = h(b["payload"])
    out = struct.pack(">IIIIBBHI", b["corr_id"], b["epoch"], b["src_entity"],
                      b["dst_entity"], b["uop_count"], b["gflags"], b.get("_r16", 0),
                      b.get("_payload_len", len(payload)))
    for u in b["uops"]:
        out += struct.pack(">HH", u["opcode"], u["arg"])
    return out + payload


def enc_secured(b):
    return (struct.pack(">BBHQ", b["key_id"], b.get("_r8", 0), b.get("_r16", 0),
                        b["counter"]) + h(b["ciphertext"]) + h(b["tag"]))


def enc_kx(b):
    return (struct.pack(">BBHII", b["phase"], b["key_id"], b["suite"], b["node_id"],
                        b["exchange_id"])
            + h(b["public_key"]) + h(b["random"]) + h(b["mac"]))


ENC = {
    "DISCOVER": enc_discover, "LINK_RESET": enc_link, "LINK_ACTIVATE": enc_link,
    "LINK_STATE": enc_state, "DATA": enc_data, "FRAGMENT": enc_fragment,
    "BUNDLE": enc_bundle, "MINET": enc_minet, "NAME_PUBLISH": enc_record,
    "NAME_WITHDRAW": enc_withdraw, "NAME_SYNC": enc_sync, "PATH_OPEN": enc_open,
    "PATH_ACCEPT": enc_accept, "PATH_CLOSE": enc_close, "PATH_ABORT": enc_abort,
    "PATH_CREDIT": enc_credit, "SERVICE_STATUS": enc_status, "MGMT": enc_mgmt,
    "SECURED": enc_secured, "KEY_EXCHANGE": enc_kx,
}


# ---- frame building ---------------------------------------------------------------------

def build(tname, body, seq=0, ack=0, chan=0, cseq=0, flags=0, version=1, length=None,
          code=None, pad=b"", cut=None):
    """Returns (bytes, length_field).  body is a dict (encoded with ENC) or raw bytes."""
    code = TYPES[tname] if code is None else code
    if isinstance(body, dict):
        bb = ENC[tname](body) + h(body.get("_tail", ""))
    else:
        bb = body
    ext = struct.pack(">HHII", seq, ack, chan, cseq) if is_sequenced(code) else b""
    ln = 4 + len(ext) + len(bb) if length is None else length
    raw = bytes([((version & 0xF) << 4) | (flags & 0xF), code]) + struct.pack(">H", ln) + ext + bb + pad
    if cut is not None:
        raw = raw[:cut]
    return raw, ln


def frame_fields(tname, body, ln, seq=0, ack=0, chan=0, cseq=0, flags=0):
    f = {"version": 1, "flags": flags, "type": tname, "type_code": TYPES[tname], "length": ln}
    if is_sequenced(TYPES[tname]):
        f.update(seq=seq, ack=ack, chan=chan, cseq=cseq)
    f["body"] = clean(body)
    return f


def fv(num, name, desc, reqs, tname, body, **hk):
    """A valid frame vector."""
    raw, ln = build(tname, body, **hk)
    hf = {k: hk[k] for k in ("seq", "ack", "chan", "cseq", "flags") if k in hk}
    add(num, name, desc, ["MSG-HDR-1"] + list(reqs), "frame", True, raw,
        fields=frame_fields(tname, body, ln, **hf))


def fi(num, name, desc, reqs, error, tname, body, **hk):
    """An invalid frame vector."""
    raw, _ = build(tname, body, **hk)
    add(num, name, desc, list(reqs), "frame", False, raw, error=error)


# ---- body constructors with defaults (keys in struct order) -----------------------------

def O(t, value):  # noqa: E743
    return {"type": t, "value": value.hex() if isinstance(value, bytes) else value}


def discover(**kw):
    d = dict(node_id=0x0A000001, domain=0x4D534752, max_version=1, dflags=0, mtu=1500,
             incarnation=0x5EED0001, opts=[])
    d.update(kw)
    return d


def link(**kw):
    d = dict(node_id=0x0A000001, peer_id=0x0A000002, incarnation=0x5EED0001, session=0x1234,
             next_seq=0x0100, tolerance_ms=500, window=256, mtu=1500, priority=10, lflags=0,
             opts=[])
    d.update(kw)
    return d


def state(gaps=(), **kw):
    d = dict(session=0x1234, ack=0x00FF, next_seq=0x0040, sflags=0, gap_count=len(gaps),
             timestamp=0, echo=0, gaps=[{"start": s, "end": e} for s, e in gaps])
    d.update(kw)
    return d


def fragment(**kw):
    d = dict(inner_type=TYPES["DATA"], total_len=3000, offset=0, data=pat(8).hex())
    d.update(kw)
    return d


def member(tname, body, chan, cseq, flags=0, **over):
    bb = ENC[tname](body)
    m = {"version": 1, "flags": flags, "type": tname, "type_code": TYPES[tname],
         "length": 12 + len(bb), "chan": chan, "cseq": cseq, "body": body}
    m.update(over)
    return m


def bundle(*members):
    return {"count": len(members), "members": list(members)}


def eth_frame(dst, src, ethertype, payload):
    return h(dst) + h(src) + struct.pack(">H", ethertype) + payload


ARP = eth_frame("ffffffffffff", "020000000001", 0x0806,
                h("0001080006040001020000000001c0a80001000000000000c0a80002"))


def minet(**kw):
    d = dict(mflags=0x02, gso_type=0, hdr_len=0, gso_size=0, csum_start=0, csum_offset=0,
             domain=0, eth=ARP.hex())
    d.update(kw)
    return d


def record(name="storage/disk0", props=(), **kw):
    d = dict(device_id=1, dtype=0x0010, nflags=0x01, rank=10, generation=1, name=name,
             prop_count=len(props),
             props=[p if isinstance(p, dict) else
                    {"key": p[0], "value": p[1].hex() if isinstance(p[1], bytes) else p[1]}
                    for p in props])
    d.update(kw)
    return d


def withdraw(**kw):
    d = dict(device_id=1, generation=2, name="storage/disk0")
    d.update(kw)
    return d


def sync(yflags, records, **kw):
    d = dict(yflags=yflags, count=len(records), records=list(records))
    d.update(kw)
    return d


def path_open(**kw):
    d = dict(src_path=0x100, src_device=1, dst_device=0, credit=64, pkind=1,
             name="storage/disk0", opts=[])
    d.update(kw)
    return d


def accept(**kw):
    d = dict(dst_path=0x100, src_path=0x200, credit=32)
    d.update(kw)
    return d


def close(**kw):
    d = dict(dst_path=0x200, src_path=0x100, last_cseq=41, reason=10)
    d.update(kw)
    return d


def abort(**kw):
    d = dict(dst_path=0x100, src_path=0, error=2)
    d.update(kw)
    return d


def credit(**kw):
    d = dict(dst_path=0x200, limit=128)
    d.update(kw)
    return d


def status(**kw):
    d = dict(status=2, reason=6, node=0x0A000002, path=0, device=0, name="")
    d.update(kw)
    return d


def mgmt(uops=(), payload=b"", **kw):
    d = dict(corr_id=1, epoch=1, src_entity=0, dst_entity=0, uop_count=len(uops), gflags=0,
             uops=[{"opcode": o, "arg": a} for o, a in uops], payload=payload.hex())
    d.update(kw)
    return d


def secured(**kw):
    d = dict(key_id=1, counter=1, ciphertext=pat(4, 0x51).hex(), tag=pat(16, 0xA0).hex())
    d.update(kw)
    return d


def kx(**kw):
    d = dict(phase=1, key_id=1, suite=1, node_id=0x0A000001, exchange_id=0x00C0FFEE,
             public_key=pat(32, 0x11).hex(), random=pat(16, 0x22).hex(), mac=pat(32, 0x33).hex())
    d.update(kw)
    return d


P = 0x100  # first path channel
PAD_NOTE = "re-encoding yields only the first `length` bytes"

# =====================================================================================
# Vectors
# =====================================================================================


def gen_header():
    R = ["MSG-HDR-1"]
    dbody = {"payload": "61626364"}
    fi(1, "hdr-version-2", "DATA with version nibble 2", R + ["MSG-HDR-2"], "MP_EVERSION",
       "DATA", dbody, chan=P, version=2)
    fi(2, "hdr-version-0", "DATA with version nibble 0", R + ["MSG-HDR-2"], "MP_EVERSION",
       "DATA", dbody, chan=P, version=0)
    fi(3, "hdr-version-15", "DISCOVER with version nibble 15", R + ["MSG-HDR-2"],
       "MP_EVERSION", "DISCOVER", discover(), version=15)
    fi(4, "hdr-type-0x05", "unassigned link-local type 0x05, 20-byte frame", R + ["MSG-HDR-3"],
       "MP_ETYPE", "DISCOVER", pat(16), code=0x05)
    fi(5, "hdr-type-0x00", "type 0x00 is not assigned", R + ["MSG-HDR-3"], "MP_ETYPE",
       "DISCOVER", pat(16), code=0x00)
    fi(6, "hdr-type-sequenced-0x14", "unassigned sequenced type 0x14 (mp_decode rejects it; only mp_hdr_decode accepts it)",
       R + ["MSG-HDR-3", "MSG-HDR-6"], "MP_ETYPE", "DATA", b"abcd", code=0x14, chan=P)
    fi(7, "hdr-type-private-0x80", "private type 0x80 is not decoded", R + ["MSG-HDR-3"],
       "MP_ETYPE", "DISCOVER", pat(12), code=0x80)
    fi(8, "hdr-type-security-0x42", "unassigned security-range type 0x42", R + ["MSG-HDR-3"],
       "MP_ETYPE", "DISCOVER", pat(12), code=0x42)
    fi(9, "hdr-type-0x50", "unassigned type 0x50", R + ["MSG-HDR-3"], "MP_ETYPE",
       "DISCOVER", pat(12), code=0x50)
    add(10, "hdr-trunc-empty", "empty input", ["MSG-HDR-4"], "frame", False, b"",
        error="MP_ETRUNC")
    add(11, "hdr-trunc-3-bytes", "3 bytes: shorter than the common header", ["MSG-HDR-4"],
        "frame", False, h("101000"), error="MP_ETRUNC")
    fi(12, "hdr-trunc-short-of-length", "DATA whose length is 20 but only 19 bytes are present",
       R + ["MSG-HDR-4"], "MP_ETRUNC", "DATA", dbody, chan=P, cut=19)
    fi(13, "hdr-trunc-sequenced-header", "DATA cut inside the sequenced header (12 of 16 bytes, length 16)",
       R + ["MSG-HDR-4", "MSG-HDR-6"], "MP_ETRUNC", "DATA", {"payload": ""}, chan=P, cut=12)
    fi(14, "hdr-length-zero", "DATA with length field 0 in a 4-byte buffer (not truncated: buffer >= length)",
       R + ["MSG-HDR-8"], "MP_ELENGTH", "DATA", b"", length=0, cut=4)
    fi(15, "hdr-length-3", "DATA with length 3, below the common header, 4-byte buffer",
       R + ["MSG-HDR-8"], "MP_ELENGTH", "DATA", b"", length=3, cut=4)
    fi(16, "hdr-length-below-sequenced-header", "DATA with length 12 (< 16) in a 16-byte buffer",
       R + ["MSG-HDR-8", "MSG-HDR-6"], "MP_ELENGTH", "DATA", b"", chan=P, length=12)
    fv(17, "hdr-padding-ignored", "DATA of length 20 followed by 26 zero bytes of Ethernet padding; " + PAD_NOTE,
       ["MSG-HDR-5", "MSG-DATA-1"], "DATA", dbody, seq=1, ack=0, chan=P, cseq=0, pad=bytes(26))
    fv(18, "hdr-padding-unsequenced", "LINK_STATE of length 20 followed by 26 bytes of non-zero padding; " + PAD_NOTE,
       ["MSG-HDR-5", "MSG-STATE-1"], "LINK_STATE", state(), pad=pat(26, 0x99))
    fv(19, "hdr-flags-raw", "DATA with all four flag bits set: undefined bits are kept raw, not rejected",
       ["MSG-HDR-7", "MSG-HDR-6"], "DATA", dbody, seq=2, ack=1, chan=P, cseq=1, flags=0xF)
    fv(20, "hdr-flag-ackreq", "DATA with ACKREQ (0x8)", ["MSG-HDR-7", "MSG-HDR-6"], "DATA",
       dbody, seq=3, ack=1, chan=P, cseq=2, flags=0x8)
    fv(21, "hdr-flags-unsequenced", "DISCOVER with flags 0x5 kept raw", ["MSG-HDR-7", "MSG-DISC-1"],
       "DISCOVER", discover(), flags=0x5)
    fi(22, "hdr-chan-reserved-0x02", "MGMT on reserved channel 0x02", ["MSG-HDR-10"],
       "MP_ECHANNEL", "MGMT", mgmt([(1, 0)]), chan=0x02)
    fi(23, "hdr-chan-reserved-0xff", "SERVICE_STATUS on reserved channel 0xFF", ["MSG-HDR-10"],
       "MP_ECHANNEL", "SERVICE_STATUS", status(), chan=0xFF)
    fv(24, "hdr-seq-zero", "DATA with seq 0, ack 0, cseq 0", ["MSG-HDR-6", "MSG-HDR-9"],
       "DATA", dbody, seq=0, ack=0, chan=P, cseq=0)


def gen_options():
    R = ["MSG-OPT-1"]
    D = "DISCOVER"
    name63 = "n" * 30 + "-" + "0" * 32
    assert len(name63) == 63
    fv(30, "opt-node-name", "DISCOVER with NODE_NAME 'node-a'", R + ["MSG-OPT-7", "MSG-OPT-8"],
       D, discover(opts=[O(0x01, b"node-a")]))
    fv(31, "opt-bearer-name", "DISCOVER with BEARER_NAME 'eth:veth0'", R + ["MSG-OPT-7", "MSG-OPT-12"],
       D, discover(opts=[O(0x02, b"eth:veth0")]))
    fv(32, "opt-caps", "DISCOVER with CAPS = all five defined capabilities", R + ["MSG-OPT-7", "MSG-OPT-12"],
       D, discover(opts=[O(0x03, struct.pack(">I", 0x1F))]))
    fv(33, "opt-max-message-16mib", "DISCOVER with MAX_MESSAGE = 16 MiB (upper bound)",
       R + ["MSG-OPT-7", "MSG-OPT-10"], D, discover(opts=[O(0x04, struct.pack(">I", 16 << 20))]))
    fv(34, "opt-probe-interval", "DISCOVER with PROBE_INTERVAL 125 ms", R + ["MSG-OPT-7", "MSG-OPT-11"],
       D, discover(opts=[O(0x05, struct.pack(">H", 125))]))
    fv(35, "opt-minet-mac", "DISCOVER with MINET_MAC 02:00:00:00:00:01", R + ["MSG-OPT-7", "MSG-OPT-12"],
       D, discover(opts=[O(0x06, h("020000000001"))]))
    fv(36, "opt-security", "DISCOVER with the known critical option SECURITY = REQUIRED",
       R + ["MSG-OPT-4", "MSG-OPT-7", "MSG-OPT-9"], D,
       discover(dflags=0x02, opts=[O(0x81, b"\x01")]))
    allk = [O(0x01, b"node-a"), O(0x02, b"eth0"), O(0x03, struct.pack(">I", 0x0F)),
            O(0x04, struct.pack(">I", 1 << 20)), O(0x05, struct.pack(">H", 1)),
            O(0x06, h("02aabbccddee")), O(0x07, struct.pack(">H", 0x1234)),
            O(0x08, struct.pack(">I", 7)), O(0x81, b"\x02")]
    fv(37, "opt-all-known", "DISCOVER with every known option type once, in registry order",
       R + ["MSG-OPT-7", "MSG-OPT-8", "MSG-OPT-9", "MSG-OPT-10", "MSG-OPT-11", "MSG-OPT-12"],
       D, discover(opts=allk))
    fv(38, "opt-unknown-noncritical", "DISCOVER with unknown non-critical option 0x42 (3 bytes) between known ones: accepted and preserved",
       R + ["MSG-OPT-5"], D, discover(opts=[O(0x01, b"node-a"), O(0x42, h("010203")),
                                             O(0x03, struct.pack(">I", 0x02))]))
    fv(39, "opt-unknown-noncritical-empty", "DISCOVER with unknown non-critical option 0x7F of length 0",
       R + ["MSG-OPT-5"], D, discover(opts=[O(0x7F, b"")]))
    sixteen = allk + [O(0x40 + i, pat(i, i)) for i in range(7)]
    assert len(sixteen) == 16
    fv(40, "opt-sixteen", "DISCOVER with 16 options (9 known + 7 unknown non-critical), the maximum",
       R + ["MSG-OPT-2", "MSG-OPT-5"], D, discover(opts=sixteen))
    fv(41, "opt-node-name-63", "DISCOVER with a 63-byte NODE_NAME (maximum)",
       R + ["MSG-OPT-7", "MSG-OPT-8"], D, discover(opts=[O(0x01, name63.encode())]))
    fv(42, "opt-max-message-1mib", "DISCOVER with MAX_MESSAGE = 1 MiB (lower bound)",
       R + ["MSG-OPT-7", "MSG-OPT-10"], D, discover(opts=[O(0x04, struct.pack(">I", 1 << 20))]))
    fv(43, "opt-unknown-noncritical-255", "DISCOVER with unknown non-critical option 0x7E carrying 255 bytes",
       R + ["MSG-OPT-5"], D, discover(opts=[O(0x7E, pat(255, 3))]))
    fv(44, "opt-bearer-name-31", "DISCOVER with a 31-byte BEARER_NAME (maximum)",
       R + ["MSG-OPT-7", "MSG-OPT-12"], D, discover(opts=[O(0x02, b"b" * 31)]))
    # invalid
    seventeen = sixteen + [O(0x70, b"")]
    fi(45, "opt-seventeen", "DISCOVER with 17 options", R + ["MSG-OPT-2"], "MP_EOPTION", D,
       discover(opts=seventeen))
    fi(46, "opt-unknown-critical", "DISCOVER with unknown critical option 0xC2", R + ["MSG-OPT-4"],
       "MP_EOPTION", D, discover(opts=[O(0x01, b"node-a"), O(0xC2, h("00"))]))
    fi(47, "opt-duplicate-known", "DISCOVER with NODE_NAME twice", R + ["MSG-OPT-3"],
       "MP_EOPTION", D, discover(opts=[O(0x01, b"node-a"), O(0x01, b"node-b")]))
    fi(48, "opt-duplicate-unknown", "DISCOVER with unknown non-critical option 0x42 twice",
       R + ["MSG-OPT-3", "MSG-OPT-5"], "MP_EOPTION", D,
       discover(opts=[O(0x42, h("01")), O(0x42, h("01"))]))
    fi(49, "opt-value-past-end", "DISCOVER whose last option claims 10 value bytes but only 3 remain",
       R + ["MSG-OPT-6"], "MP_EOPTION", D,
       discover(opts=[O(0x01, b"node-a"), {"type": 0x42, "value": "010203", "_len": 10}]))
    fi(50, "opt-header-past-end", "DISCOVER with a single stray byte after the last option (option header cut)",
       R + ["MSG-OPT-6"], "MP_EOPTION", D, discover(opts=[O(0x01, b"node-a")], _tail="05"))
    fi(51, "opt-caps-bad-length", "DISCOVER with a 3-byte CAPS option", R + ["MSG-OPT-7"],
       "MP_EOPTION", D, discover(opts=[O(0x03, h("00001f"))]))
    fi(52, "opt-node-name-empty", "DISCOVER with a 0-byte NODE_NAME", R + ["MSG-OPT-7"],
       "MP_EOPTION", D, discover(opts=[O(0x01, b"")]))
    fi(53, "opt-node-name-64", "DISCOVER with a 64-byte NODE_NAME", R + ["MSG-OPT-7"],
       "MP_EOPTION", D, discover(opts=[O(0x01, name63.encode() + b"x")]))
    fi(54, "opt-node-name-slash", "DISCOVER with NODE_NAME 'rack1/node-a' ('/' is not allowed in a node name)",
       R + ["MSG-OPT-8"], "MP_ENAME", D, discover(opts=[O(0x01, b"rack1/node-a")]))
    fi(55, "opt-node-name-dotdot", "DISCOVER with NODE_NAME '..'", R + ["MSG-OPT-8"], "MP_ENAME",
       D, discover(opts=[O(0x01, b"..")]))
    fi(56, "opt-security-value-3", "DISCOVER with SECURITY policy 3", R + ["MSG-OPT-9"],
       "MP_ERANGE", D, discover(opts=[O(0x81, b"\x03")]))
    fi(57, "opt-max-message-below-1mib", "DISCOVER with MAX_MESSAGE 1 MiB - 1", R + ["MSG-OPT-10"],
       "MP_ERANGE", D, discover(opts=[O(0x04, struct.pack(">I", (1 << 20) - 1))]))
    fi(58, "opt-max-message-above-16mib", "DISCOVER with MAX_MESSAGE 16 MiB + 1", R + ["MSG-OPT-10"],
       "MP_ERANGE", D, discover(opts=[O(0x04, struct.pack(">I", (16 << 20) + 1))]))
    fi(59, "opt-minet-mac-bad-length", "DISCOVER with a 5-byte MINET_MAC", R + ["MSG-OPT-7"],
       "MP_EOPTION", D, discover(opts=[O(0x06, h("0200000000"))]))
    fi(60, "opt-bearer-name-32", "DISCOVER with a 32-byte BEARER_NAME", R + ["MSG-OPT-7"],
       "MP_EOPTION", D, discover(opts=[O(0x02, b"b" * 32)]))
    fi(61, "opt-probe-interval-zero", "DISCOVER with PROBE_INTERVAL 0 ms", R + ["MSG-OPT-11"],
       "MP_ERANGE", D, discover(opts=[O(0x05, h("0000"))]))
    fi(62, "opt-security-bad-length", "DISCOVER with a 2-byte SECURITY option", R + ["MSG-OPT-7"],
       "MP_EOPTION", D, discover(opts=[O(0x81, h("0001"))]))
    fi(63, "opt-past-end-path-open", "PATH_OPEN whose option after the name runs past the frame",
       R + ["MSG-OPT-6", "MSG-PATH-1"], "MP_EOPTION", "PATH_OPEN",
       path_open(opts=[{"type": 0x05, "value": "00", "_len": 2}]), chan=0)
    fi(64, "opt-unknown-critical-link-activate", "LINK_ACTIVATE with unknown critical option 0xFF",
       R + ["MSG-OPT-4", "MSG-LINK-1"], "MP_EOPTION", "LINK_ACTIVATE",
       link(opts=[O(0xFF, h("0102"))]))
    fi(65, "opt-duplicate-link-reset", "LINK_RESET with CAPS twice", R + ["MSG-OPT-3", "MSG-LINK-1"],
       "MP_EOPTION", "LINK_RESET", link(opts=[O(0x03, h("00000002")), O(0x03, h("00000004"))]))


def gen_discover():
    R = ["MSG-DISC-1"]
    D = "DISCOVER"
    fv(70, "discover-basic", "DISCOVER without options (20 bytes)", R, D, discover())
    fv(71, "discover-reply-secure", "DISCOVER reply (REPLY|SECURE) with NODE_NAME, CAPS and SECURITY options",
       R + ["MSG-DISC-3", "MSG-OPT-1"], D,
       discover(node_id=0x0A000002, dflags=0x03, mtu=1472, incarnation=0xFFFFFFFF,
                opts=[O(0x01, b"iop-3"), O(0x03, struct.pack(">I", 0x1F)), O(0x81, b"\x01")]))
    fv(72, "discover-node-id-max", "DISCOVER with node_id 0xFFFFFFFE (largest valid) and domain 0",
       R + ["MSG-DISC-2"], D, discover(node_id=0xFFFFFFFE, domain=0, incarnation=0))
    fv(73, "discover-max-version-2", "DISCOVER from a node supporting up to version 2 (frame itself is version 1)",
       R + ["MSG-DISC-4"], D, discover(max_version=2, node_id=1))
    fi(74, "discover-node-id-zero", "DISCOVER with node_id 0", R + ["MSG-DISC-2"], "MP_ERANGE",
       D, discover(node_id=0))
    fi(75, "discover-node-id-broadcast", "DISCOVER with node_id 0xFFFFFFFF", R + ["MSG-DISC-2"],
       "MP_ERANGE", D, discover(node_id=0xFFFFFFFF))
    fi(76, "discover-dflags-undefined", "DISCOVER with undefined dflags bit 0x04", R + ["MSG-DISC-3"],
       "MP_ERESERVED", D, discover(dflags=0x04))
    fi(77, "discover-short", "DISCOVER of length 19 (minimum 20)", R + ["MSG-HDR-8"], "MP_ELENGTH",
       D, discover(), length=19)
    fi(78, "discover-max-version-zero", "DISCOVER with max_version 0", R + ["MSG-DISC-4"],
       "MP_ERANGE", D, discover(max_version=0))
    fi(79, "discover-truncated", "DISCOVER with length 20 but 16 bytes present", R + ["MSG-HDR-4"],
       "MP_ETRUNC", D, discover(), cut=16)


def gen_link():
    R = ["MSG-LINK-1"]
    L = "LINK_RESET"
    fv(90, "link-reset-basic", "LINK_RESET with default tolerance 500 ms, window 256, MTU 1500, PEER_EPOCH 1",
       R + ["MSG-LINK-39"], L, link(opts=[O(0x08, struct.pack(">I", 1))]))
    fv(91, "link-reset-limits-low", "LINK_RESET at the low limits: tolerance 10, window 1, priority 0",
       R + ["MSG-LINK-2", "MSG-LINK-3", "MSG-LINK-4"], L,
       link(tolerance_ms=10, window=1, priority=0, session=0, next_seq=0))
    fv(92, "link-reset-limits-high", "LINK_RESET at the high limits: tolerance 30000, window 16384, priority 31",
       R + ["MSG-LINK-2", "MSG-LINK-3", "MSG-LINK-4"], L,
       link(tolerance_ms=30000, window=16384, priority=31, session=0xFFFF, next_seq=0xFFFF))
    fv(93, "link-reset-with-options", "LINK_RESET with BEARER_NAME and PROBE_INTERVAL options",
       R + ["MSG-OPT-1"], L, link(opts=[O(0x02, b"eth:veth0"), O(0x05, struct.pack(">H", 125))]))
    fi(94, "link-reset-tolerance-9", "LINK_RESET with tolerance 9 ms", R + ["MSG-LINK-2"], "MP_ERANGE",
       L, link(tolerance_ms=9))
    fi(95, "link-reset-tolerance-30001", "LINK_RESET with tolerance 30001 ms", R + ["MSG-LINK-2"],
       "MP_ERANGE", L, link(tolerance_ms=30001))
    fi(96, "link-reset-window-0", "LINK_RESET with window 0", R + ["MSG-LINK-3"], "MP_ERANGE", L,
       link(window=0))
    fi(97, "link-reset-window-16385", "LINK_RESET with window 16385", R + ["MSG-LINK-3"],
       "MP_ERANGE", L, link(window=16385))
    fi(98, "link-reset-priority-32", "LINK_RESET with priority 32", R + ["MSG-LINK-4"], "MP_ERANGE",
       L, link(priority=32))
    fi(99, "link-reset-lflags-undefined", "LINK_RESET with undefined lflags bit 0x02",
       R + ["MSG-LINK-5"], "MP_ERESERVED", L, link(lflags=0x02))
    fi(100, "link-reset-peer-id-zero", "LINK_RESET with peer_id 0", R + ["MSG-DISC-2"], "MP_ERANGE",
       L, link(peer_id=0))
    fi(101, "link-reset-short", "LINK_RESET of length 27 (minimum 28)", R + ["MSG-HDR-8"],
       "MP_ELENGTH", L, link(), length=27)
    fv(102, "link-reset-peer-epoch", "LINK_RESET with PEER_EPOCH 5",
       R + ["MSG-LINK-39", "MSG-OPT-1", "MSG-OPT-7"], L, link(opts=[O(0x08, struct.pack(">I", 5))]))
    fi(103, "link-reset-peer-epoch-2-bytes", "LINK_RESET with a 2-byte PEER_EPOCH",
       R + ["MSG-LINK-39", "MSG-OPT-7"], "MP_EOPTION", L, link(opts=[O(0x08, h("0005"))]))
    A = "LINK_ACTIVATE"
    fv(110, "link-activate-basic", "LINK_ACTIVATE answering a LINK_RESET of session 0x1234",
       R + ["MSG-LINK-37", "MSG-LINK-39", "MSG-OPT-1", "MSG-OPT-7"], A,
       link(node_id=0x0A000002, peer_id=0x0A000001, session=0xBEEF, next_seq=0xFFF0,
            tolerance_ms=1000, window=128, mtu=1472,
            opts=[O(0x08, struct.pack(">I", 1)), O(0x07, struct.pack(">H", 0x1234))]))
    fv(111, "link-activate-standby-options", "LINK_ACTIVATE with STANDBY and NODE_NAME, CAPS options",
       R + ["MSG-LINK-5", "MSG-OPT-1"], A,
       link(lflags=0x01, priority=5, opts=[O(0x01, b"node-b"), O(0x03, struct.pack(">I", 0x1E))]))
    fi(112, "link-activate-lflags-undefined", "LINK_ACTIVATE with lflags 0x80", R + ["MSG-LINK-5"],
       "MP_ERESERVED", A, link(lflags=0x80))
    fi(113, "link-activate-window-0", "LINK_ACTIVATE with window 0", R + ["MSG-LINK-3"], "MP_ERANGE",
       A, link(window=0))
    fi(114, "link-activate-node-id-broadcast", "LINK_ACTIVATE with node_id 0xFFFFFFFF",
       R + ["MSG-DISC-2"], "MP_ERANGE", A, link(node_id=0xFFFFFFFF))
    fi(115, "link-activate-short", "LINK_ACTIVATE of length 20", R + ["MSG-HDR-8"], "MP_ELENGTH", A,
       link(), length=20)
    fi(116, "link-activate-ack-session-3-bytes", "LINK_ACTIVATE with a 3-byte ACK_SESSION",
       R + ["MSG-LINK-37", "MSG-OPT-7"], "MP_EOPTION", A, link(opts=[O(0x07, h("123456"))]))


def gen_state():
    R = ["MSG-STATE-1"]
    S = "LINK_STATE"
    fv(120, "state-ack-only", "LINK_STATE acknowledging up to 0x00FF, no gaps", R, S, state())
    fv(121, "state-probe", "LINK_STATE PROBE with a timestamp", R + ["MSG-STATE-3"], S,
       state(sflags=0x01, timestamp=0x00012345))
    fv(122, "state-reply", "LINK_STATE REPLY echoing the probe timestamp", R + ["MSG-STATE-3"], S,
       state(sflags=0x02, timestamp=0x00020000, echo=0x00012345))
    fv(123, "state-one-gap", "LINK_STATE with one gap block 0x0101..0x0103", R + ["MSG-STATE-4"], S,
       state(gaps=[(0x0101, 0x0103)], ack=0x0100, next_seq=0x0108))
    gaps32 = [(0x1000 + 4 * i, 0x1000 + 4 * i + (i % 3)) for i in range(32)]
    fv(124, "state-32-gaps", "LINK_STATE with 32 gap blocks (maximum)", R + ["MSG-STATE-2", "MSG-STATE-4"],
       S, state(gaps=gaps32, ack=0x0FFF, next_seq=0x1080))
    fv(125, "state-gap-wrap", "LINK_STATE with ack 0xFFFD and a gap 0xFFFE..0x0001 wrapping through 0",
       R + ["MSG-STATE-4", "MSG-HDR-9"], S,
       state(gaps=[(0xFFFE, 0x0001)], ack=0xFFFD, next_seq=0x0004))
    fv(126, "state-single-seq-gap", "LINK_STATE with ack 0xFFFF, gap 0x0000..0x0000 (start = end)",
       R + ["MSG-STATE-4", "MSG-HDR-9"], S,
       state(gaps=[(0x0000, 0x0000)], ack=0xFFFF, next_seq=0x0002, sflags=0x03, timestamp=7, echo=6))
    fi(127, "state-gap-count-short", "LINK_STATE with gap_count 2 but one gap block (length 24)",
       R + ["MSG-HDR-8"], "MP_ELENGTH", S, state(gaps=[(1, 2)], gap_count=2))
    fi(128, "state-gap-count-extra", "LINK_STATE with gap_count 0 but 4 bytes of gap data (length 24)",
       R + ["MSG-HDR-8"], "MP_ELENGTH", S, state(gaps=[(1, 2)], gap_count=0))
    gaps33 = [(0x1000 + 2 * i, 0x1000 + 2 * i) for i in range(33)]
    fi(129, "state-gap-count-33", "LINK_STATE with 33 gap blocks and a length that matches",
       R + ["MSG-STATE-2"], "MP_ERANGE", S, state(gaps=gaps33))
    fi(130, "state-sflags-undefined", "LINK_STATE with undefined sflags bit 0x04", R + ["MSG-STATE-3"],
       "MP_ERESERVED", S, state(sflags=0x04))
    fi(131, "state-gap-reversed", "LINK_STATE gap block 0x0010..0x0005 (end before start)",
       R + ["MSG-STATE-4"], "MP_ERANGE", S, state(gaps=[(0x0010, 0x0005)], ack=0x0004))
    fi(132, "state-short", "LINK_STATE of length 16 (minimum 20)", R + ["MSG-HDR-8"], "MP_ELENGTH", S,
       state(), length=16)


def gen_data():
    R = ["MSG-HDR-6", "MSG-DATA-1"]
    fv(140, "data-basic", "DATA on path 0x100, cseq 7, 4-byte payload", R, "DATA",
       {"payload": "61626364"}, seq=5, ack=3, chan=0x100, cseq=7)
    fv(141, "data-empty-payload", "DATA with a zero-length payload (16 bytes)", R, "DATA",
       {"payload": ""}, seq=6, ack=3, chan=0x101, cseq=8)
    fv(142, "data-max-frame", "DATA of length 65535 (65519-byte payload), the largest frame",
       R + ["MSG-HDR-13"], "DATA", {"payload": pat(65535 - 16, 0x5A).hex()},
       seq=0x8000, ack=0x7FFF, chan=0x00012345, cseq=0x80000000)
    fv(143, "data-seq-wrap", "DATA with seq 0xFFFF, ack 0x0000, cseq 0xFFFFFFFF (wraparound values)",
       R + ["MSG-HDR-9"], "DATA", {"payload": "ff"}, seq=0xFFFF, ack=0x0000, chan=0x100,
       cseq=0xFFFFFFFF)
    fv(144, "data-chan-max", "DATA on path channel 0xFFFFFFFF", R + ["MSG-DATA-2"], "DATA",
       {"payload": "00"}, seq=1, ack=0xFFFF, chan=0xFFFFFFFF, cseq=0)
    fi(145, "data-chan-node", "DATA on channel 0", R + ["MSG-DATA-2"], "MP_ECHANNEL", "DATA",
       {"payload": "61"}, chan=0)
    fi(146, "data-chan-minet", "DATA on channel 1", R + ["MSG-DATA-2"], "MP_ECHANNEL", "DATA",
       {"payload": "61"}, chan=1)
    fi(147, "data-short", "DATA of length 15", R + ["MSG-HDR-8"], "MP_ELENGTH", "DATA",
       {"payload": "61"}, chan=P, length=15)
    fi(148, "data-truncated", "DATA of length 1000 with 100 bytes present", R + ["MSG-HDR-4"],
       "MP_ETRUNC", "DATA", {"payload": pat(984).hex()}, chan=P, cut=100)
    fi(149, "data-chan-reserved-0x80", "DATA on reserved channel 0x80", R + ["MSG-HDR-10"],
       "MP_ECHANNEL", "DATA", {"payload": "61"}, chan=0x80)


def gen_fragment():
    R = ["MSG-HDR-6", "MSG-FRAG-1"]
    F = "FRAGMENT"
    fv(160, "fragment-first", "first FRAGMENT of a 3000-byte DATA message (offset 0, 1400 bytes)", R, F,
       fragment(data=pat(1400, 1).hex()), seq=10, ack=2, chan=0x100, cseq=9)
    fv(161, "fragment-last", "last FRAGMENT of the same message (offset 2800, 200 bytes)",
       R + ["MSG-FRAG-3"], F, fragment(offset=2800, data=pat(200, 2).hex()),
       seq=12, ack=2, chan=0x100, cseq=9)
    fv(162, "fragment-minet", "FRAGMENT of a 64 KiB MINET message on channel 1",
       R + ["MSG-FRAG-4"], F, fragment(inner_type=TYPES["MINET"], total_len=65536 + 28 - 16,
                                       offset=1400, data=pat(1400, 3).hex()),
       seq=20, ack=0, chan=1, cseq=77)
    fv(163, "fragment-max-message", "FRAGMENT ending exactly at total_len = 16 MiB",
       R + ["MSG-FRAG-3"], F, fragment(total_len=16 << 20, offset=(16 << 20) - 10,
                                       data=pat(10, 4).hex()), chan=0x200, cseq=1)
    fv(164, "fragment-name-sync", "FRAGMENT of a NAME_SYNC message on channel 0",
       R + ["MSG-FRAG-2", "MSG-FRAG-4"], F,
       fragment(inner_type=TYPES["NAME_SYNC"], total_len=5000, offset=0, data=pat(1000, 5).hex()),
       chan=0, cseq=3)
    fi(165, "fragment-empty-data", "FRAGMENT of length 28 (no fragment bytes)", R + ["MSG-HDR-8"],
       "MP_ELENGTH", F, fragment(data=""), chan=P)
    fi(166, "fragment-reserved8", "FRAGMENT with non-zero reserved byte 17", R + ["MSG-HDR-11"],
       "MP_ERESERVED", F, fragment(_r8=1), chan=P)
    fi(167, "fragment-reserved16", "FRAGMENT with non-zero reserved bytes 18-19", R + ["MSG-HDR-11"],
       "MP_ERESERVED", F, fragment(_r16=0x8000), chan=P)
    fi(168, "fragment-inner-fragment", "FRAGMENT whose inner_type is FRAGMENT", R + ["MSG-FRAG-2"],
       "MP_ETYPE", F, fragment(inner_type=0x11), chan=P)
    fi(169, "fragment-inner-bundle", "FRAGMENT whose inner_type is BUNDLE", R + ["MSG-FRAG-2"],
       "MP_ETYPE", F, fragment(inner_type=0x12), chan=0)
    fi(170, "fragment-inner-unsequenced", "FRAGMENT whose inner_type is DISCOVER (unsequenced)",
       R + ["MSG-FRAG-2"], "MP_ETYPE", F, fragment(inner_type=0x01), chan=P)
    fi(171, "fragment-inner-unknown", "FRAGMENT whose inner_type is the unassigned sequenced type 0x14",
       R + ["MSG-FRAG-2"], "MP_ETYPE", F, fragment(inner_type=0x14), chan=P)
    fi(172, "fragment-past-total", "FRAGMENT with offset 2900 + 200 bytes > total_len 3000",
       R + ["MSG-FRAG-3"], "MP_ERANGE", F, fragment(offset=2900, data=pat(200).hex()), chan=P)
    fi(173, "fragment-total-over-16mib", "FRAGMENT with total_len 16 MiB + 1", R + ["MSG-FRAG-3"],
       "MP_ERANGE", F, fragment(total_len=(16 << 20) + 1), chan=P)
    fi(174, "fragment-chan-vs-inner", "FRAGMENT of a DATA message on channel 0", R + ["MSG-FRAG-4"],
       "MP_ECHANNEL", F, fragment(), chan=0)


def gen_bundle():
    R = ["MSG-HDR-6", "MSG-BNDL-1", "MSG-BNDL-2"]
    B = "BUNDLE"
    m_data = member("DATA", {"payload": "68656c6c6f"}, 0x100, 7)
    fv(180, "bundle-one-member", "BUNDLE with one DATA member", R, B, bundle(m_data),
       seq=100, ack=50, chan=0, cseq=0)
    several = bundle(
        member("DATA", {"payload": "61"}, 0x100, 8),
        member("DATA", {"payload": ""}, 0x100, 9, flags=0x8),
        member("PATH_CREDIT", credit(dst_path=0x300, limit=1000), 0x300, 4),
        member("NAME_WITHDRAW", withdraw(), 0, 12),
        member("MGMT", mgmt([(0x0001, 0)]), 0, 13),
        member("SERVICE_STATUS", status(status=1, reason=0), 0, 14),
        member("MINET", minet(), 1, 1000),
    )
    fv(181, "bundle-several-members", "BUNDLE with 7 members of 6 types (incl. an empty DATA with raw flags)",
       R + ["MSG-BNDL-3", "MSG-BNDL-4"], B, several, seq=101, ack=50)
    fv(182, "bundle-path-control", "BUNDLE with PATH_ACCEPT, PATH_CLOSE and NAME_PUBLISH members",
       R + ["MSG-BNDL-4"], B,
       bundle(member("PATH_ACCEPT", accept(dst_path=0x100), 0x100, 0),
              member("PATH_CLOSE", close(dst_path=0x200), 0x200, 42),
              member("NAME_PUBLISH", record(props=[("slot", b"3")]), 0, 15)),
       seq=0xFFFF, ack=0xFFFF)
    fi(183, "bundle-member-overrun", "BUNDLE whose second member's length runs past the frame",
       R, "MP_ELENGTH", B, bundle(m_data, member("DATA", {"payload": "6162"}, 0x100, 8, _length=20)))
    fi(184, "bundle-member-below-inner-header", "BUNDLE member with length 8 (< 12-byte inner header)",
       R, "MP_ELENGTH", B, bundle(member("DATA", {"payload": "61626364"}, 0x100, 8, _length=8)))
    fi(185, "bundle-empty", "BUNDLE without members (length 16)", R, "MP_ELENGTH", B, bundle())
    fi(186, "bundle-trailing-partial-member", "BUNDLE with one member followed by 5 stray bytes",
       R, "MP_ELENGTH", B, dict(bundle(m_data), _tail="1010000c00"))
    fi(187, "bundle-chan-nonzero", "BUNDLE on channel 0x100", R, "MP_ECHANNEL", B, bundle(m_data),
       chan=0x100)
    fi(188, "bundle-cseq-nonzero", "BUNDLE with cseq 1", R, "MP_ECHANNEL", B, bundle(m_data), cseq=1)
    fi(189, "bundle-member-fragment", "BUNDLE with a FRAGMENT member", R + ["MSG-BNDL-3"], "MP_ETYPE",
       B, bundle(member("FRAGMENT", fragment(), 0x100, 3)))
    fi(190, "bundle-member-bundle", "BUNDLE with a BUNDLE member", R + ["MSG-BNDL-3"], "MP_ETYPE", B,
       bundle(member("BUNDLE", bundle(m_data), 0, 0)))
    fi(191, "bundle-member-unsequenced", "BUNDLE with a DISCOVER member", R + ["MSG-BNDL-3"],
       "MP_ETYPE", B, bundle(member("DISCOVER", discover(), 0, 0)))
    fi(192, "bundle-member-version-2", "BUNDLE whose member has version nibble 2", R + ["MSG-BNDL-4"],
       "MP_EVERSION", B, bundle(member("DATA", {"payload": "61"}, 0x100, 8, _version=2)))
    fi(193, "bundle-member-bad-channel", "BUNDLE with a PATH_CREDIT member on channel 0",
       R + ["MSG-BNDL-4", "MSG-PATH-6"], "MP_ECHANNEL", B,
       bundle(m_data, member("PATH_CREDIT", credit(), 0, 3)))
    fi(194, "bundle-member-fixed-size-wrong", "BUNDLE with a PATH_ACCEPT member whose body is 8 bytes",
       R + ["MSG-BNDL-4", "MSG-PATH-7"], "MP_ELENGTH", B,
       bundle(member("DATA", {"payload": "0000010000000200"}, 0x100, 0, _code=0x29)))
    fi(195, "bundle-member-unknown-type", "BUNDLE with a member of unassigned sequenced type 0x14",
       R + ["MSG-BNDL-3"], "MP_ETYPE", B,
       bundle(member("DATA", {"payload": "61"}, 0x100, 8, _code=0x14)))


def gen_minet():
    R = ["MSG-HDR-6", "MSG-MINET-1", "MSG-MINET-2"]
    M = "MINET"
    fv(200, "minet-arp-flood", "MINET carrying a broadcast ARP request, FLOOD set", R + ["MSG-MINET-3"],
       M, minet(), seq=7, ack=1, chan=1, cseq=0)
    ip = h("45000028000140004006") + h("0000") + h("c0a80001c0a80002")
    tcp = h("c00001bb000000010000000050102000") + h("0000") + h("0000")
    eth = eth_frame("020000000002", "020000000001", 0x0800, ip + tcp + pat(1448 * 2, 9))
    fv(201, "minet-tcp-gso", "MINET with a TCPv4 GSO super-frame: OFFLOAD|NEEDS_CSUM, gso_size 1448",
       R + ["MSG-MINET-3", "MSG-MINET-4"], M,
       minet(mflags=0x05, gso_type=1, hdr_len=54, gso_size=1448, csum_start=34, csum_offset=16,
             domain=1, eth=eth.hex()), seq=8, ack=1, chan=1, cseq=1)
    fv(202, "minet-gso-tcpv6-ecn", "MINET with gso_type TCPV6|ECN (0x84) and all mflags",
       R + ["MSG-MINET-3", "MSG-MINET-4"], M,
       minet(mflags=0x07, gso_type=0x84, hdr_len=74, gso_size=1428, csum_start=54,
             csum_offset=16, domain=0xFFFF,
             eth=eth_frame("333300000001", "020000000001", 0x86DD, pat(100, 7)).hex()),
       chan=1, cseq=2)
    fv(203, "minet-min-eth", "MINET with a 14-byte Ethernet frame (header only, the minimum)", R, M,
       minet(mflags=0, eth=eth_frame("020000000002", "020000000001", 0x88B6, b"").hex()),
       chan=1, cseq=0xFFFFFFFF)
    fv(204, "minet-gso-udp", "MINET with gso_type UDP (3)", R + ["MSG-MINET-4"], M,
       minet(mflags=0x01, gso_type=3, hdr_len=42, gso_size=1472,
             eth=eth_frame("020000000002", "020000000001", 0x0800, pat(60, 1)).hex()),
       chan=1, cseq=5)
    fi(205, "minet-chan-node", "MINET on channel 0", R, "MP_ECHANNEL", M, minet(), chan=0)
    fi(206, "minet-eth-13", "MINET with a 13-byte Ethernet frame (length 41)", R + ["MSG-HDR-8"],
       "MP_ELENGTH", M, minet(eth=ARP[:13].hex()), chan=1)
    fi(207, "minet-mflags-undefined", "MINET with undefined mflags bit 0x08", R + ["MSG-MINET-3"],
       "MP_ERESERVED", M, minet(mflags=0x0A), chan=1)
    fi(208, "minet-gso-type-2", "MINET with unassigned gso_type 2", R + ["MSG-MINET-4"], "MP_ERANGE",
       M, minet(mflags=0x01, gso_type=2), chan=1)
    fi(209, "minet-gso-type-ecn-5", "MINET with gso_type 0x85 (ECN | unassigned 5)",
       R + ["MSG-MINET-4"], "MP_ERANGE", M, minet(mflags=0x01, gso_type=0x85), chan=1)
    fi(210, "minet-chan-path", "MINET on path channel 0x100", R, "MP_ECHANNEL", M, minet(), chan=0x100)


def name127():
    n = "a" * 63 + "/" + "b" * 63
    assert len(n) == 127 and name_ok(n.encode())
    return n


def name128():
    n = "a" * 63 + "/" + "b" * 62 + "/c"
    assert len(n) == 128
    return n


def gen_name_publish():
    R = ["MSG-HDR-6", "MSG-NAME-1", "MSG-NAME-8"]
    N = "NAME_PUBLISH"
    fv(220, "publish-basic", "NAME_PUBLISH of exclusive 'storage/disk0' with two properties",
       R + ["MSG-NAME-2", "MSG-NAME-5"], N,
       record(props=[("vendor", b"acme"), ("slot", b"3")]), seq=30, ack=4, chan=0, cseq=11)
    fv(221, "publish-no-props", "NAME_PUBLISH of shared one-character name 'a', no properties",
       R + ["MSG-NAME-7"], N, record(name="a", nflags=0, rank=0, device_id=0xFFFFFFFF,
                                     dtype=0xFFFF, generation=0xFFFFFFFF), chan=0, cseq=0)
    props16 = [("k%02d" % i + "_" * 28, bytes(((i * 7 + j) % 255) + 1 for j in range(255)))
               for i in range(16)]
    assert all(len(k) == 31 for k, _ in props16)
    fv(222, "publish-limits", "NAME_PUBLISH at every limit: 127-byte name, 16 properties with 31-byte keys and 255-byte values",
       R + ["MSG-NAME-2", "MSG-NAME-4", "MSG-NAME-5"], N,
       record(name=name127(), props=props16, rank=255), chan=0, cseq=12)
    fv(223, "publish-empty-value", "NAME_PUBLISH with a property whose value is empty and a key using '_.-'",
       R + ["MSG-NAME-5"], N, record(name="svc/Ctl-1.x", props=[("a_b.c-d", b"")]), chan=0, cseq=13)
    fi(224, "publish-chan-minet", "NAME_PUBLISH on channel 1", R, "MP_ECHANNEL", N, record(), chan=1)
    fi(225, "publish-chan-path", "NAME_PUBLISH on path channel 0x100", R, "MP_ECHANNEL", N, record(),
       chan=0x100)
    fi(226, "publish-nflags-undefined", "NAME_PUBLISH with undefined nflags bit 0x02",
       R + ["MSG-NAME-7"], "MP_ERESERVED", N, record(nflags=0x03))
    fi(227, "publish-name-double-slash", "NAME_PUBLISH of 'a//b'", R + ["MSG-NAME-2"], "MP_ENAME", N,
       record(name="a//b"))
    fi(228, "publish-name-empty", "NAME_PUBLISH with name_len 0 (and one property, so the length is not below minimum)",
       R + ["MSG-NAME-2"], "MP_ENAME", N, record(name="", props=[("k", b"v")]))
    fi(229, "publish-name-128", "NAME_PUBLISH with a 128-byte name", R + ["MSG-NAME-2"], "MP_ENAME", N,
       record(name=name128()))
    fi(230, "publish-key-uppercase", "NAME_PUBLISH with property key 'Vendor'", R + ["MSG-NAME-5"],
       "MP_EPROP", N, record(props=[("Vendor", b"acme")]))
    fi(231, "publish-key-32", "NAME_PUBLISH with a 32-byte property key", R + ["MSG-NAME-5"],
       "MP_EPROP", N, record(props=[("k" * 32, b"v")]))
    fi(232, "publish-key-empty", "NAME_PUBLISH with a 0-byte property key", R + ["MSG-NAME-5"],
       "MP_EPROP", N, record(props=[("", b"v")]))
    fi(233, "publish-value-nul", "NAME_PUBLISH with a property value containing NUL",
       R + ["MSG-NAME-5"], "MP_EPROP", N, record(props=[("k", b"a\x00b")]))
    fi(234, "publish-duplicate-key", "NAME_PUBLISH with property key 'slot' twice", R + ["MSG-NAME-5"],
       "MP_EPROP", N, record(props=[("slot", b"1"), ("slot", b"2")]))
    props17 = [("p%02d" % i, b"v") for i in range(17)]
    fi(235, "publish-prop-count-17", "NAME_PUBLISH with 17 well-formed properties", R + ["MSG-NAME-4"],
       "MP_ERANGE", N, record(props=props17))
    fi(236, "publish-prop-count-short", "NAME_PUBLISH with prop_count 2 but one property present",
       R + ["MSG-NAME-6"], "MP_ECOUNT", N, record(props=[("slot", b"3")], prop_count=2))
    fi(237, "publish-prop-count-trailing", "NAME_PUBLISH with prop_count 1 and bytes of a second property after it",
       R + ["MSG-NAME-6"], "MP_ECOUNT", N,
       record(props=[("slot", b"3"), ("rack", b"7")], prop_count=1))
    fi(238, "publish-name-len-overrun", "NAME_PUBLISH whose name_len (40) runs past the frame",
       R, "MP_ELENGTH", N, record(name="storage/disk0", _name_len=40))
    fi(239, "publish-short", "NAME_PUBLISH of length 30 (minimum 31)", R + ["MSG-HDR-8"], "MP_ELENGTH",
       N, record(name="a"), length=30)
    fi(240, "publish-key-len-overrun", "NAME_PUBLISH whose last property's val_len runs past the frame",
       R + ["MSG-NAME-6"], "MP_ECOUNT", N,
       record(props=[{"key": "slot", "value": "33", "_val_len": 9}]))


def gen_withdraw():
    R = ["MSG-HDR-6", "MSG-NAME-9", "MSG-NAME-8"]
    W = "NAME_WITHDRAW"
    fv(250, "withdraw-basic", "NAME_WITHDRAW of 'storage/disk0' generation 2", R + ["MSG-NAME-2"], W,
       withdraw(), seq=31, ack=4, chan=0, cseq=14)
    fv(251, "withdraw-name-127", "NAME_WITHDRAW of a 127-byte name", R + ["MSG-NAME-2"], W,
       withdraw(name=name127(), device_id=0, generation=0xFFFFFFFF), chan=0, cseq=15)
    fi(252, "withdraw-length-mismatch", "NAME_WITHDRAW whose length is one more than 25 + name_len",
       R + ["MSG-HDR-8"], "MP_ELENGTH", W, withdraw(_tail="00"))
    fi(253, "withdraw-name-empty", "NAME_WITHDRAW with name_len 0 (length 25, minimum 26)",
       R + ["MSG-HDR-8"], "MP_ELENGTH", W, withdraw(name=""))
    fi(254, "withdraw-name-space", "NAME_WITHDRAW of 'a b'", R + ["MSG-NAME-2"], "MP_ENAME", W,
       withdraw(name="a b"))
    fi(255, "withdraw-chan-path", "NAME_WITHDRAW on channel 0x100", R, "MP_ECHANNEL", W, withdraw(),
       chan=0x100)
    fi(256, "withdraw-name-dotdot", "NAME_WITHDRAW of 'storage/..'", R + ["MSG-NAME-2"], "MP_ENAME", W,
       withdraw(name="storage/.."))
    fi(257, "withdraw-name-len-short", "NAME_WITHDRAW whose name_len (5) is less than the name bytes present",
       R + ["MSG-HDR-8"], "MP_ELENGTH", W, withdraw(_name_len=5))


def gen_sync():
    R = ["MSG-HDR-6", "MSG-NAME-10", "MSG-NAME-8"]
    Y = "NAME_SYNC"
    r1 = record(name="storage/disk0", props=[("vendor", b"acme")])
    r2 = record(name="storage/disk1", device_id=2, nflags=0, rank=3, generation=9)
    r3 = record(name="net/eth0", device_id=3, dtype=0x0020, props=[("mac", b"02:00:00:00:00:01"),
                                                                   ("mtu", b"1500")])
    fv(260, "sync-empty", "NAME_SYNC FIRST|LAST with count 0: the sender has no names",
       R + ["MSG-NAME-12"], Y, sync(0x03, []), seq=1, ack=1, chan=0, cseq=0)
    fv(261, "sync-first-two", "NAME_SYNC FIRST chunk with two records", R + ["MSG-NAME-11"], Y,
       sync(0x01, [r1, r2]), chan=0, cseq=1)
    fv(262, "sync-middle-three", "NAME_SYNC middle chunk (no flags) with three records",
       R + ["MSG-NAME-11"], Y, sync(0x00, [r1, r2, r3]), chan=0, cseq=2)
    fv(263, "sync-last-one", "NAME_SYNC LAST chunk with one record", R + ["MSG-NAME-11", "MSG-NAME-12"],
       Y, sync(0x02, [r3]), chan=0, cseq=3)
    fi(264, "sync-count-zero-not-last", "NAME_SYNC FIRST with count 0 (only allowed with LAST)",
       R + ["MSG-NAME-12"], "MP_ERANGE", Y, sync(0x01, []))
    fi(265, "sync-count-too-high", "NAME_SYNC with count 3 but two records", R + ["MSG-NAME-11"],
       "MP_ECOUNT", Y, sync(0x01, [r1, r2], count=3))
    fi(266, "sync-count-too-low", "NAME_SYNC with count 1 but two records", R + ["MSG-NAME-11"],
       "MP_ECOUNT", Y, sync(0x01, [r1, r2], count=1))
    fi(267, "sync-rec-len-overrun", "NAME_SYNC whose only record's rec_len runs past the frame",
       R + ["MSG-NAME-11"], "MP_ECOUNT", Y, sync(0x03, [dict(r2, _rec_len=200)]))
    fi(268, "sync-yflags-undefined", "NAME_SYNC with undefined yflags bit 0x04", R + ["MSG-NAME-12"],
       "MP_ERESERVED", Y, sync(0x07, [r1]))
    fi(269, "sync-reserved", "NAME_SYNC with non-zero reserved byte", R + ["MSG-NAME-12"],
       "MP_ERESERVED", Y, sync(0x03, [r1], _r8=0x01))
    fi(270, "sync-chan-minet", "NAME_SYNC on channel 1", R, "MP_ECHANNEL", Y, sync(0x03, [r1]), chan=1)
    fi(271, "sync-record-bad-name", "NAME_SYNC whose second record is named '/a'", R + ["MSG-NAME-2"],
       "MP_ENAME", Y, sync(0x03, [r1, record(name="/a")]))
    fi(272, "sync-rec-len-below-min", "NAME_SYNC with rec_len 10 (record minimum 15)",
       R + ["MSG-NAME-11"], "MP_ELENGTH", Y,
       sync(0x03, [{"_raw": "00000001000100000000000001"[:20]}]))
    fi(273, "sync-record-prop-mismatch", "NAME_SYNC whose record declares prop_count 2 but holds one property within rec_len",
       R + ["MSG-NAME-6"], "MP_ECOUNT", Y, sync(0x03, [dict(r1, prop_count=2)]))
    fi(274, "sync-short", "NAME_SYNC of length 19 (minimum 20)", R + ["MSG-HDR-8"], "MP_ELENGTH", Y,
       sync(0x03, []), length=19)


def gen_path():
    R = ["MSG-HDR-6", "MSG-PATH-1", "MSG-PATH-2"]
    PO = "PATH_OPEN"
    fv(300, "open-unicast-name", "PATH_OPEN unicast to 'storage/disk0', credit 64", R + ["MSG-PATH-4"],
       PO, path_open(), seq=40, ack=5, chan=0, cseq=20)
    fv(301, "open-multicast-pattern", "PATH_OPEN multicast to pattern 'sensors/*/temp?' with PROBE_INTERVAL and unknown non-critical options",
       R + ["MSG-PATH-3", "MSG-PATH-4", "MSG-OPT-1", "MSG-OPT-5"], PO,
       path_open(src_path=0x1234, pkind=2, name="sensors/*/temp?", credit=0,
                 opts=[O(0x05, struct.pack(">H", 50)), O(0x55, h("cafe"))]), chan=0, cseq=21)
    fv(302, "open-anycast-globstar", "PATH_OPEN anycast to pattern '**'", R + ["MSG-PATH-3", "MSG-PATH-4"],
       PO, path_open(src_path=0xFFFFFFFF, pkind=3, name="**", credit=0xFFFFFFFF), chan=0, cseq=22)
    fv(303, "open-by-device", "PATH_OPEN with an empty name, addressing dst_device 7", R + ["MSG-PATH-4"],
       PO, path_open(dst_device=7, name=""), chan=0, cseq=23)
    fv(304, "open-name-127-options", "PATH_OPEN with a 127-byte name followed by a NODE_NAME option",
       R + ["MSG-PATH-4", "MSG-OPT-1"], PO, path_open(name=name127(), opts=[O(0x01, b"node-a")]),
       chan=0, cseq=24)
    fi(305, "open-chan-path", "PATH_OPEN on path channel 0x100", R, "MP_ECHANNEL", PO, path_open(),
       chan=0x100)
    fi(306, "open-pkind-0", "PATH_OPEN with pkind 0", R + ["MSG-PATH-3"], "MP_ERANGE", PO,
       path_open(pkind=0))
    fi(307, "open-pkind-4", "PATH_OPEN with pkind 4", R + ["MSG-PATH-3"], "MP_ERANGE", PO,
       path_open(pkind=4))
    fi(308, "open-reserved8", "PATH_OPEN with non-zero reserved byte 33", R + ["MSG-PATH-11"],
       "MP_ERESERVED", PO, path_open(_r8=0x20))
    fi(309, "open-name-overrun", "PATH_OPEN whose name_len (100) runs past the frame", R + ["MSG-HDR-8"],
       "MP_ELENGTH", PO, path_open(_name_len=100))
    fi(310, "open-unicast-pattern", "PATH_OPEN unicast with name 'storage/*' (a pattern is not a name)",
       R + ["MSG-PATH-4"], "MP_ENAME", PO, path_open(name="storage/*"))
    fi(311, "open-multicast-bad-pattern", "PATH_OPEN multicast with pattern 'sensors/a**'",
       R + ["MSG-PATH-4", "MSG-NAME-3"], "MP_EPATTERN", PO, path_open(pkind=2, name="sensors/a**"))
    fi(312, "open-src-path-low", "PATH_OPEN with src_path 0x50 (path ids start at 0x100)",
       R + ["MSG-PATH-5"], "MP_ERANGE", PO, path_open(src_path=0x50))
    fi(313, "open-short", "PATH_OPEN of length 36 (minimum 37)", R + ["MSG-HDR-8"], "MP_ELENGTH", PO,
       path_open(name=""), length=36)
    fi(314, "open-reserved16", "PATH_OPEN with non-zero reserved bytes 34-35", R + ["MSG-PATH-11"],
       "MP_ERESERVED", PO, path_open(_r16=1))

    R = ["MSG-HDR-6", "MSG-PATH-6", "MSG-PATH-7"]
    PA = "PATH_ACCEPT"
    fv(320, "accept-basic", "PATH_ACCEPT on the opener's channel 0x100, cseq 0, credit 32", R, PA,
       accept(), seq=50, ack=40, chan=0x100, cseq=0)
    fv(321, "accept-credit-max", "PATH_ACCEPT with credit 0xFFFFFFFF and large path ids",
       R + ["MSG-PATH-5"], PA, accept(dst_path=0xFFFFFFFF, src_path=0x100, credit=0xFFFFFFFF),
       chan=0xFFFFFFFF, cseq=0)
    fi(322, "accept-length-32", "PATH_ACCEPT of length 32 (fixed 28)", R + ["MSG-HDR-8"], "MP_ELENGTH",
       PA, dict(accept(), _tail="00000000"), chan=0x100)
    fi(323, "accept-cseq-nonzero", "PATH_ACCEPT with cseq 1", R, "MP_ECHANNEL", PA, accept(),
       chan=0x100, cseq=1)
    fi(324, "accept-chan-not-dst", "PATH_ACCEPT on channel 0x101 with dst_path 0x100", R, "MP_ECHANNEL",
       PA, accept(), chan=0x101)
    fi(325, "accept-src-path-zero", "PATH_ACCEPT with src_path 0", R + ["MSG-PATH-5"], "MP_ERANGE", PA,
       accept(src_path=0), chan=0x100)
    fi(326, "accept-dst-path-reserved", "PATH_ACCEPT with dst_path = chan = 0x10 (not a path channel)",
       R + ["MSG-HDR-10"], "MP_ECHANNEL", PA, accept(dst_path=0x10), chan=0x10)

    R = ["MSG-HDR-6", "MSG-PATH-6", "MSG-PATH-8"]
    PC = "PATH_CLOSE"
    fv(330, "close-app", "PATH_CLOSE with reason APP_CLOSE, last_cseq 41", R, PC, close(),
       seq=60, ack=41, chan=0x200, cseq=42)
    fv(331, "close-last-cseq-wrap", "PATH_CLOSE with last_cseq 0xFFFFFFFF and reason TOO_BIG (12, maximum)",
       R + ["MSG-HDR-9"], PC, close(last_cseq=0xFFFFFFFF, reason=12), chan=0x200, cseq=0)
    fi(332, "close-reason-13", "PATH_CLOSE with reason 13", R, "MP_ERANGE", PC, close(reason=13),
       chan=0x200)
    fi(333, "close-reserved", "PATH_CLOSE with non-zero reserved bytes 29-31", R, "MP_ERESERVED", PC,
       close(_r24=0x000100), chan=0x200)
    fi(334, "close-length-28", "PATH_CLOSE of length 28 (fixed 32)", R + ["MSG-HDR-8"], "MP_ELENGTH", PC,
       close(), chan=0x200, length=28)
    fi(335, "close-chan-node", "PATH_CLOSE on channel 0", R, "MP_ECHANNEL", PC, close(), chan=0)
    fi(336, "close-src-path-low", "PATH_CLOSE with src_path 0xFF", R + ["MSG-PATH-5"], "MP_ERANGE", PC,
       close(src_path=0xFF), chan=0x200)

    R = ["MSG-HDR-6", "MSG-PATH-6", "MSG-PATH-9"]
    PB = "PATH_ABORT"
    fv(340, "abort-refusal", "PATH_ABORT refusing an open (src_path 0, error REFUSED, cseq 0)",
       R + ["MSG-PATH-5"], PB, abort(), seq=61, ack=40, chan=0x100, cseq=0)
    fv(341, "abort-peer-down", "PATH_ABORT of an open path with error PEER_DOWN", R, PB,
       abort(dst_path=0x300, src_path=0x400, error=6), chan=0x300, cseq=99)
    fi(342, "abort-error-13", "PATH_ABORT with error 13", R, "MP_ERANGE", PB, abort(error=13),
       chan=0x100)
    fi(343, "abort-src-path-reserved", "PATH_ABORT with src_path 0x7F", R + ["MSG-PATH-5"], "MP_ERANGE",
       PB, abort(src_path=0x7F), chan=0x100)
    fi(344, "abort-reserved", "PATH_ABORT with non-zero reserved bytes 26-27", R, "MP_ERESERVED", PB,
       abort(_r16=0xFFFF), chan=0x100)
    fi(345, "abort-length-32", "PATH_ABORT of length 32 (fixed 28)", R + ["MSG-HDR-8"], "MP_ELENGTH", PB,
       dict(abort(), _tail="00000000"), chan=0x100)
    fi(346, "abort-chan-mismatch", "PATH_ABORT on channel 0x200 with dst_path 0x100", R, "MP_ECHANNEL",
       PB, abort(), chan=0x200)

    R = ["MSG-HDR-6", "MSG-PATH-6", "MSG-PATH-10"]
    PR = "PATH_CREDIT"
    fv(350, "credit-basic", "PATH_CREDIT granting cseq < 128 on path 0x200", R, PR, credit(),
       seq=62, ack=60, chan=0x200, cseq=43)
    fv(351, "credit-limit-wrap", "PATH_CREDIT with limit 5 after cseq wrapped past 0xFFFFFFFF",
       R + ["MSG-HDR-9"], PR, credit(limit=5), chan=0x200, cseq=0xFFFFFFFE)
    fi(352, "credit-length-28", "PATH_CREDIT of length 28 (fixed 24)", R + ["MSG-HDR-8"], "MP_ELENGTH",
       PR, dict(credit(), _tail="00000000"), chan=0x200)
    fi(353, "credit-chan-minet", "PATH_CREDIT on channel 1", R, "MP_ECHANNEL", PR, credit(dst_path=1),
       chan=1)
    fi(354, "credit-chan-mismatch", "PATH_CREDIT on channel 0x100 with dst_path 0x200", R, "MP_ECHANNEL",
       PR, credit(), chan=0x100)


def gen_status():
    R = ["MSG-HDR-6", "MSG-STAT-1", "MSG-STAT-4"]
    S = "SERVICE_STATUS"
    fv(360, "status-peer-down", "SERVICE_STATUS PEER_DOWN on channel 0, no name", R + ["MSG-STAT-2"], S,
       status(), seq=70, ack=1, chan=0, cseq=30)
    fv(361, "status-name-appeared", "SERVICE_STATUS NAME_APPEARED for 'storage/disk0'",
       R + ["MSG-STAT-5"], S, status(status=4, reason=0, device=1, name="storage/disk0"),
       chan=0, cseq=31)
    fv(362, "status-path-broken", "path-scoped SERVICE_STATUS PATH_BROKEN on the path's channel",
       R + ["MSG-STAT-2"], S, status(status=3, reason=6, path=0x200, device=5), chan=0x200, cseq=44)
    fv(363, "status-takeover-limits", "SERVICE_STATUS TAKEOVER (9) with reason 12 and a 127-byte name",
       R + ["MSG-STAT-2", "MSG-STAT-5"], S,
       status(status=9, reason=12, node=0xFFFFFFFE, path=0xFFFFFFFF, device=0xFFFFFFFF,
              name=name127()), chan=0, cseq=32)
    fi(364, "status-zero", "SERVICE_STATUS with status 0", R + ["MSG-STAT-2"], "MP_ERANGE", S,
       status(status=0))
    fi(365, "status-10", "SERVICE_STATUS with status 10", R + ["MSG-STAT-2"], "MP_ERANGE", S,
       status(status=10))
    fi(366, "status-reason-13", "SERVICE_STATUS with reason 13", R + ["MSG-STAT-2"], "MP_ERANGE", S,
       status(reason=13))
    fi(367, "status-reserved", "SERVICE_STATUS with non-zero reserved bytes 18-19", R + ["MSG-STAT-3"],
       "MP_ERESERVED", S, status(_r16=0x0100))
    fi(368, "status-length-mismatch", "SERVICE_STATUS whose name_len (3) leaves 2 trailing bytes",
       R + ["MSG-HDR-8"], "MP_ELENGTH", S, status(name="abcde", _name_len=3))
    fi(369, "status-chan-minet", "SERVICE_STATUS on channel 1", R, "MP_ECHANNEL", S, status(), chan=1)
    fi(370, "status-bad-name", "SERVICE_STATUS with name 'a/'", R + ["MSG-STAT-5"], "MP_ENAME", S,
       status(status=5, name="a/"))


def gen_mgmt():
    R = ["MSG-HDR-6", "MSG-MGMT-1", "MSG-MGMT-4"]
    M = "MGMT"
    fv(400, "mgmt-heartbeat", "MGMT HEARTBEAT from the FTM (entity 1) to a node microkernel", R, M,
       mgmt([(0x0001, 0)], src_entity=1, epoch=3), seq=80, ack=2, chan=0, cseq=50)
    fv(401, "mgmt-configure-boot-payload", "MGMT CONFIGURE then BOOT with a 20-byte payload",
       R + ["MSG-MGMT-5"], M, mgmt([(0x0020, 1), (0x0021, 0)], payload=b"iop=3;image=fw-1.2.bin"[:20],
                                   corr_id=0x10, epoch=4, src_entity=1, dst_entity=0x30),
       chan=0, cseq=51)
    ops = [0x0000, 0x0001, 0x0002, 0x0010, 0x0011, 0x0020, 0x0021, 0x0022, 0x0023, 0x0024,
           0x0025, 0x0026, 0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0040, 0x0041, 0x0042,
           0x0050, 0x0051, 0x0060, 0x0061, 0x8000, 0xFFFF, 0x1234]
    uops64 = [(ops[i % len(ops)], i * 1000 & 0xFFFF) for i in range(64)]
    fv(402, "mgmt-64-uops", "MGMT with 64 microoperations (maximum), incl. unassigned and private opcodes",
       R + ["MSG-MGMT-2", "MSG-MGMT-5"], M, mgmt(uops64), chan=0, cseq=52)
    fv(403, "mgmt-64-uops-payload", "MGMT with 64 microoperations and a 1000-byte payload",
       R + ["MSG-MGMT-2"], M, mgmt(uops64, payload=pat(1000, 0x77), corr_id=0xFFFFFFFF,
                                   epoch=0xFFFFFFFF), chan=0, cseq=53)
    fv(404, "mgmt-reply-no-uops", "MGMT REPLY|ERROR with no microoperations and a payload",
       R + ["MSG-MGMT-2", "MSG-MGMT-3"], M, mgmt([], payload=b"\x00\x00\x00\x04", gflags=0x03),
       chan=0, cseq=54)
    fv(405, "mgmt-on-path", "path-scoped MGMT STATS_GET on path channel 0x200", R, M,
       mgmt([(0x0050, 0)], dst_entity=7), chan=0x200, cseq=45)
    fi(406, "mgmt-uop-count-65", "MGMT with 65 microoperations and a matching length", R + ["MSG-MGMT-2"],
       "MP_ERANGE", M, mgmt(uops64 + [(0, 0)]))
    fi(407, "mgmt-payload-len-mismatch", "MGMT whose payload_len (10) exceeds the bytes present (4)",
       R + ["MSG-HDR-8"], "MP_ELENGTH", M, mgmt([(1, 0)], payload=b"abcd", _payload_len=10))
    fi(408, "mgmt-uop-count-mismatch", "MGMT with uop_count 3 but two microoperations and no payload",
       R + ["MSG-HDR-8"], "MP_ELENGTH", M, mgmt([(1, 0), (2, 0)], uop_count=3))
    fi(409, "mgmt-gflags-undefined", "MGMT with undefined gflags bit 0x04", R + ["MSG-MGMT-3"],
       "MP_ERESERVED", M, mgmt([(1, 0)], gflags=0x04))
    fi(410, "mgmt-reserved", "MGMT with non-zero reserved bytes 34-35", R + ["MSG-MGMT-3"],
       "MP_ERESERVED", M, mgmt([(1, 0)], _r16=0x0001))
    fi(411, "mgmt-chan-minet", "MGMT on channel 1", R, "MP_ECHANNEL", M, mgmt([(1, 0)]), chan=1)
    fi(412, "mgmt-short", "MGMT of length 39 (minimum 40)", R + ["MSG-HDR-8"], "MP_ELENGTH", M,
       mgmt([]), length=39)
    fi(413, "mgmt-truncated", "MGMT with 64 uops cut to 100 bytes", R + ["MSG-HDR-4"], "MP_ETRUNC", M,
       mgmt(uops64), cut=100)


def gen_security():
    R = ["MSG-SEC-1", "MSG-SEC-6"]
    S = "SECURED"
    fv(500, "secured-min", "SECURED with the minimum 4-byte ciphertext and a 16-byte tag (length 36)", R, S,
       secured())
    fv(501, "secured-large", "SECURED with key_id 255, counter 2^64-2 and a 1500-byte ciphertext", R, S,
       secured(key_id=255, counter=0xFFFFFFFFFFFFFFFE, ciphertext=pat(1500, 0x3C).hex()))
    fv(502, "secured-counter-zero", "SECURED with key_id 0 and counter 0", R, S,
       secured(key_id=0, counter=0, ciphertext=pat(40, 1).hex()), flags=0x8)
    fi(503, "secured-short", "SECURED of length 35 (minimum 36)", R + ["MSG-HDR-8"], "MP_ELENGTH", S,
       secured(ciphertext="010203"))
    fi(504, "secured-reserved8", "SECURED with non-zero reserved byte 5", R + ["MSG-SEC-2"],
       "MP_ERESERVED", S, secured(_r8=1))
    fi(505, "secured-reserved16", "SECURED with non-zero reserved bytes 6-7", R + ["MSG-SEC-2"],
       "MP_ERESERVED", S, secured(_r16=0x8000))
    fi(506, "secured-truncated", "SECURED of length 36 with 30 bytes present", R + ["MSG-HDR-4"],
       "MP_ETRUNC", S, secured(), cut=30)

    R = ["MSG-SEC-3", "MSG-SEC-6"]
    K = "KEY_EXCHANGE"
    fv(520, "kx-init", "KEY_EXCHANGE INIT, suite AES256GCM", R + ["MSG-SEC-4", "MSG-SEC-5"], K, kx())
    fv(521, "kx-resp", "KEY_EXCHANGE RESP, suite CHACHA20POLY1305", R + ["MSG-SEC-4", "MSG-SEC-5"], K,
       kx(phase=2, suite=2, node_id=0x0A000002, public_key=pat(32, 0x44).hex(),
          random=pat(16, 0x55).hex(), mac=pat(32, 0x66).hex()))
    fv(522, "kx-confirm", "KEY_EXCHANGE CONFIRM for key_id 2", R + ["MSG-SEC-4"], K,
       kx(phase=3, key_id=2, exchange_id=0xFFFFFFFF, public_key="00" * 32, random="ff" * 16))
    fi(523, "kx-length-95", "KEY_EXCHANGE of length 95 (fixed 96)", R + ["MSG-HDR-8"], "MP_ELENGTH", K,
       kx(), length=95)
    fi(524, "kx-length-97", "KEY_EXCHANGE of length 97 (fixed 96)", R + ["MSG-HDR-8"], "MP_ELENGTH", K,
       dict(kx(), _tail="00"))
    fi(525, "kx-phase-0", "KEY_EXCHANGE with phase 0", R + ["MSG-SEC-4"], "MP_ERANGE", K, kx(phase=0))
    fi(526, "kx-phase-4", "KEY_EXCHANGE with phase 4", R + ["MSG-SEC-4"], "MP_ERANGE", K, kx(phase=4))
    fi(527, "kx-suite-3", "KEY_EXCHANGE with suite 3", R + ["MSG-SEC-5"], "MP_ERANGE", K, kx(suite=3))
    fi(528, "kx-node-id-zero", "KEY_EXCHANGE with node_id 0", R + ["MSG-DISC-2"], "MP_ERANGE", K,
       kx(node_id=0))
    fi(529, "kx-truncated", "KEY_EXCHANGE of length 96 with 64 bytes present", R + ["MSG-HDR-4"],
       "MP_ETRUNC", K, kx(), cut=64)


def gen_precedence():
    R = ["MSG-HDR-12"]
    fi(900, "prec-trunc-over-version", "version 2 DATA, length 20, 8 bytes present: truncation wins",
       R + ["MSG-HDR-4", "MSG-HDR-2"], "MP_ETRUNC", "DATA", {"payload": "61626364"}, chan=P,
       version=2, cut=8)
    fi(901, "prec-version-over-type", "version 2 and unassigned type 0x05", R + ["MSG-HDR-2", "MSG-HDR-3"],
       "MP_EVERSION", "DISCOVER", pat(16), version=2, code=0x05)
    fi(902, "prec-type-over-length", "unassigned type 0x05 with length 2 in a 4-byte buffer",
       R + ["MSG-HDR-3", "MSG-HDR-8"], "MP_ETYPE", "DISCOVER", b"", code=0x05, length=2, cut=4)
    fi(903, "prec-length-over-channel", "PATH_ACCEPT of length 24 on channel 1", R + ["MSG-HDR-8", "MSG-PATH-6"],
       "MP_ELENGTH", "PATH_ACCEPT", struct.pack(">II", 1, 0x200), chan=1)
    fi(904, "prec-channel-over-reserved", "PATH_CLOSE on channel 0 with non-zero reserved bytes",
       R + ["MSG-PATH-6", "MSG-PATH-8"], "MP_ECHANNEL", "PATH_CLOSE", close(_r24=1), chan=0)
    fi(905, "prec-reserved-over-range", "PATH_CLOSE with reason 99 and non-zero reserved bytes",
       R + ["MSG-PATH-8"], "MP_ERESERVED", "PATH_CLOSE", close(reason=99, _r24=1), chan=0x200)
    fi(906, "prec-reserved-over-earlier-range", "DISCOVER with node_id 0 (offset 4) and undefined dflags 0x80 (offset 13)",
       R + ["MSG-DISC-2", "MSG-DISC-3"], "MP_ERESERVED", "DISCOVER", discover(node_id=0, dflags=0x80))
    fi(907, "prec-range-before-name", "SERVICE_STATUS with status 0 and name 'a b': wire order",
       R + ["MSG-STAT-2", "MSG-STAT-5"], "MP_ERANGE", "SERVICE_STATUS", status(status=0, name="a b"))
    fi(908, "prec-range-before-option", "LINK_RESET with tolerance 5 and an unknown critical option",
       R + ["MSG-LINK-2", "MSG-OPT-4"], "MP_ERANGE", "LINK_RESET",
       link(tolerance_ms=5, opts=[O(0xC1, b"")]))
    fi(909, "prec-length-over-reserved", "LINK_STATE with a gap_count mismatch and undefined sflags",
       R + ["MSG-STATE-1", "MSG-STATE-3"], "MP_ELENGTH", "LINK_STATE",
       state(gaps=[(1, 1)], gap_count=3, sflags=0x80))
    fi(910, "prec-name-before-prop", "NAME_PUBLISH with name 'a b' and property key 'K'",
       R + ["MSG-NAME-2", "MSG-NAME-5"], "MP_ENAME", "NAME_PUBLISH",
       record(name="a b", props=[("K", b"v")]))
    fi(911, "prec-pkind-before-option", "PATH_OPEN with pkind 0 and a duplicate option",
       R + ["MSG-PATH-3", "MSG-OPT-3"], "MP_ERANGE", "PATH_OPEN",
       path_open(pkind=0, opts=[O(0x05, h("0001")), O(0x05, h("0001"))]))
    fi(912, "prec-version-over-length", "DATA with version 3 and length 8", R + ["MSG-HDR-2", "MSG-HDR-8"],
       "MP_EVERSION", "DATA", b"", version=3, length=8, cut=8)
    fi(913, "prec-trunc-over-type", "unassigned type 0x05 with length 40 and 20 bytes present",
       R + ["MSG-HDR-4", "MSG-HDR-3"], "MP_ETRUNC", "DISCOVER", pat(16), code=0x05, length=40)
    fi(914, "prec-type-over-channel", "unassigned sequenced type 0x3F on reserved channel 0x02",
       R + ["MSG-HDR-3", "MSG-HDR-10"], "MP_ETYPE", "DATA", b"ab", code=0x3F, chan=0x02)
    fi(915, "prec-channel-over-range", "PATH_ACCEPT on channel 0x101 (dst_path 0x100) with src_path 0",
       R + ["MSG-PATH-6", "MSG-PATH-5"], "MP_ECHANNEL", "PATH_ACCEPT", accept(src_path=0), chan=0x101)
    fi(916, "prec-option-before-nothing-later", "DISCOVER with duplicate options then an unknown critical option: first error in wire order",
       R + ["MSG-OPT-3", "MSG-OPT-4"], "MP_EOPTION", "DISCOVER",
       discover(opts=[O(0x03, h("00000001")), O(0x03, h("00000001")), O(0xC0, b"")]))


# ---- serial ------------------------------------------------------------------------------

def frame_bytes(tname, body, **hk):
    return build(tname, body, **hk)[0]


def sv(num, name, desc, reqs, line, canonical=None, error=None):
    frames, cnt = deframe(line)
    fields = {"frames": [f.hex() for f in frames]}
    fields.update(cnt)
    valid = error is None
    assert valid == bool(frames), name
    if canonical:
        assert b"".join(serial_wrap(f) for f in frames) == line, name
    add(num, name, desc, ["MSG-SER-1"] + list(reqs), "serial", valid, line, fields=fields,
        error=error, canonical=canonical if valid else None)


def gen_serial():
    f1 = frame_bytes("DATA", {"payload": "68656c6c6f"}, seq=1, ack=0, chan=0x100, cseq=0)
    f2 = frame_bytes("LINK_STATE", state())
    f3 = frame_bytes("DATA", {"payload": "007e7d7e7d20ff"}, seq=2, chan=0x100, cseq=1)
    # a frame whose CRC itself contains 0x7E or 0x7D
    i = 0
    while True:
        fc = frame_bytes("DATA", {"payload": struct.pack(">I", i).hex()}, seq=3, chan=0x100, cseq=2)
        c = struct.pack(">I", crc32c(fc))
        if FLAGS_IN(c):
            break
        i += 1
    sv(600, "serial-good", "one DATA frame with its CRC-32C, between two flags", ["MSG-SER-3"],
       serial_wrap(f1), canonical=True)
    w1, w2 = serial_wrap(f1), serial_wrap(f2)
    sv(601, "serial-shared-flag", "two frames back to back sharing one flag", ["MSG-SER-4"],
       w1 + w2[1:], canonical=False)
    sv(602, "serial-escaped-payload", "DATA whose payload contains 0x7E and 0x7D, stuffed",
       ["MSG-SER-2"], serial_wrap(f3), canonical=True)
    sv(603, "serial-escaped-crc", "frame whose CRC-32C contains 0x7E/0x7D, stuffed", ["MSG-SER-2", "MSG-SER-3"],
       serial_wrap(fc), canonical=True)
    sv(604, "serial-two-frames", "two frames each with its own pair of flags", ["MSG-SER-4"],
       w1 + w2, canonical=True)
    sv(605, "serial-idle-flags", "flags as idle fill around and between two frames", ["MSG-SER-4"],
       b"\x7e\x7e\x7e" + w1 + b"\x7e\x7e" + w2 + b"\x7e", canonical=False)
    sv(606, "serial-leading-garbage", "bytes before the first flag are discarded without counting",
       ["MSG-SER-8"], h("0102037d5e41") + w1, canonical=False)
    ab = b"\x7e" + stuff(f2[:9]) + b"\x7d\x7e"
    sv(607, "serial-abort-then-good", "an aborted frame (0x7D 0x7E) whose closing flag opens a good frame",
       ["MSG-SER-5"], ab + w1[1:], canonical=False)
    bad = bytearray(f2 + struct.pack(">I", crc32c(f2) ^ 0x00000001))
    wbad = b"\x7e" + stuff(bytes(bad)) + b"\x7e"
    sv(608, "serial-bad-crc-then-good", "a frame with a bad CRC followed by a good frame",
       ["MSG-SER-3", "MSG-SER-4"], wbad + w1[1:], canonical=False)
    # unnecessary escape: 0x7D 0x41 decodes as 0x61 ('a')
    st = stuff(f1 + struct.pack(">I", crc32c(f1)))
    k = st.index(b"h")  # 'h' = 0x68 -> send as 0x7D 0x48
    sv(609, "serial-unneeded-escape", "a frame where 'h' (0x68) is sent escaped as 0x7D 0x48",
       ["MSG-SER-9", "MSG-SER-2"], b"\x7e" + st[:k] + b"\x7d\x48" + st[k + 1:] + b"\x7e",
       canonical=False)
    sv(610, "serial-unterminated-tail", "a good frame followed by an unterminated frame at end of input",
       ["MSG-SER-8"], w1 + stuff(f2[:10]), canonical=False)
    fmax = frame_bytes("DATA", {"payload": bytes((j % 0x7C) for j in range(65535 - 16)).hex()},
                       seq=9, chan=0x100, cseq=9)
    assert len(fmax) == 65535
    sv(611, "serial-max-frame", "a 65535-byte frame: with its CRC exactly fills the de-framer capacity (65539)",
       ["MSG-SER-6", "MSG-HDR-13"], serial_wrap(fmax), canonical=True)
    sv(612, "serial-runt-then-good", "a 7-byte runt followed by a good frame", ["MSG-SER-7"],
       b"\x7e" + h("10100014000000") + w1, canonical=False)
    # invalid
    sv(620, "serial-bad-crc", "one frame whose CRC-32C has one bit flipped", ["MSG-SER-3"], wbad,
       error="MP_ECRC")
    sv(621, "serial-abort", "a frame aborted by 0x7D 0x7E", ["MSG-SER-5"], ab, error="MP_EFRAMING")
    over = bytes(((j * 7) % 0x7C) for j in range(SERIAL_CAP + 1))
    sv(622, "serial-overlong", "65540 bytes between flags: exceeds the 65539-byte de-framer capacity",
       ["MSG-SER-6"], b"\x7e" + over + b"\x7e", error="MP_ENOSPC")
    sv(623, "serial-runt", "7 bytes between flags (shorter than header + CRC)", ["MSG-SER-7"],
       b"\x7e" + h("10100014000000") + b"\x7e", error="MP_ETRUNC")
    # CRC-32C over the first 4 bytes, with a wrong (byte-swapped, i.e. little-endian) CRC
    le = f2 + struct.pack("<I", crc32c(f2))
    assert struct.pack("<I", crc32c(f2)) != struct.pack(">I", crc32c(f2))
    sv(624, "serial-crc-little-endian", "frame whose CRC-32C is appended little-endian (must be big-endian)",
       ["MSG-SER-3"], b"\x7e" + stuff(le) + b"\x7e", error="MP_ECRC")


def FLAGS_IN(b):
    return 0x7E in b or 0x7D in b


# ---- capture pseudo-header -----------------------------------------------------------------

def caphdr(magic=0x4D, version=1, bearer=3, cflags=0, index=0, reserved=0):
    return struct.pack(">BBBBHH", magic, version, bearer, cflags, index, reserved)


def cv(num, name, desc, reqs, **kw):
    add(num, name, desc, ["MSG-CAP-1"] + reqs, "caphdr", True, caphdr(**kw),
        fields={"bearer": kw.get("bearer", 3), "cflags": kw.get("cflags", 0),
                "bearer_index": kw.get("index", 0)})


def ci(num, name, desc, reqs, error, raw):
    add(num, name, desc, ["MSG-CAP-1"] + reqs, "caphdr", False, raw, error=error)


def gen_caphdr():
    cv(700, "caphdr-serial-rx-fcs", "serial bearer 0, received, CRC-32C follows the frame", [],
       bearer=3, cflags=0x02, index=0)
    cv(701, "caphdr-pcie-tx", "PCIe shim bearer 1, sent", [], bearer=2, cflags=0x01, index=1)
    cv(702, "caphdr-eth", "Ethernet bearer 2, received, no FCS", [], bearer=1, cflags=0, index=2)
    cv(703, "caphdr-udp-max-index", "UDP bearer 0xFFFF, sent with FCS", [], bearer=4, cflags=0x03,
       index=0xFFFF)
    ci(704, "caphdr-bad-magic", "magic 0x4E instead of 0x4D", ["MSG-CAP-2"], "MP_ERESERVED",
       caphdr(magic=0x4E))
    ci(705, "caphdr-bad-version", "pseudo-header version 2", ["MSG-CAP-2"], "MP_ERESERVED",
       caphdr(version=2))
    ci(706, "caphdr-cflags-undefined", "undefined cflags bit 0x04", ["MSG-CAP-2"], "MP_ERESERVED",
       caphdr(cflags=0x06))
    ci(707, "caphdr-reserved", "non-zero reserved bytes 6-7", ["MSG-CAP-2"], "MP_ERESERVED",
       caphdr(reserved=0x0001))
    ci(708, "caphdr-bearer-0", "bearer 0", ["MSG-CAP-3"], "MP_ERANGE", caphdr(bearer=0))
    ci(709, "caphdr-bearer-5", "bearer 5", ["MSG-CAP-3"], "MP_ERANGE", caphdr(bearer=5))
    ci(710, "caphdr-short", "7 bytes", ["MSG-CAP-4"], "MP_ETRUNC", caphdr()[:7])
    ci(711, "caphdr-version-0", "pseudo-header version 0", ["MSG-CAP-2"], "MP_ERESERVED",
       caphdr(version=0))


# ---- names and patterns ----------------------------------------------------------------------

def nv(num, name, desc, s):
    b = s.encode()
    assert name_ok(b), s
    add(num, name, desc, ["MSG-NAME-2"], "name", True, b, fields={"name": s})


def ni(num, name, desc, b):
    b = nb(b)
    assert not name_ok(b), b
    add(num, name, desc, ["MSG-NAME-2"], "name", False, b, error="MP_ENAME")


def pv(num, name, desc, p, match, nomatch):
    b = p.encode()
    assert pattern_ok(b), p
    for m in match:
        assert name_ok(m.encode()) and pattern_match(b, m.encode()), (p, m)
    for m in nomatch:
        assert name_ok(m.encode()) and not pattern_match(b, m.encode()), (p, m)
    add(num, name, desc, ["MSG-NAME-3"], "pattern", True, b,
        fields={"pattern": p, "match": match, "nomatch": nomatch})


def pi(num, name, desc, b):
    b = nb(b)
    assert not pattern_ok(b), b
    add(num, name, desc, ["MSG-NAME-3"], "pattern", False, b, error="MP_EPATTERN")


def gen_names():
    nv(800, "name-one-char", "one-character name", "a")
    nv(801, "name-components", "three components", "storage/raid-1/disk0")
    nv(802, "name-charset", "every character class: upper, lower, digits, '.', '_', '-'", "AZaz09._-/x")
    nv(803, "name-127", "127 bytes (maximum)", name127())
    nv(804, "name-component-63", "one 63-byte component (maximum)", "c" * 63)
    nv(805, "name-triple-dot", "component '...' is neither '.' nor '..'", "a/.../b")
    nv(806, "name-dots-inside", "components with leading and trailing dots", ".a/b./.c.")
    nv(807, "name-63-components", "64 one-character components (127 bytes)", "/".join(["x"] * 64))
    ni(810, "name-empty", "empty name", "")
    ni(811, "name-double-slash", "'a//b'", "a//b")
    ni(812, "name-leading-slash", "'/a'", "/a")
    ni(813, "name-trailing-slash", "'a/'", "a/")
    ni(814, "name-dotdot", "'..'", "..")
    ni(815, "name-dot", "'.'", ".")
    ni(816, "name-dotdot-component", "'a/../b'", "a/../b")
    ni(817, "name-space", "'a b'", "a b")
    ni(818, "name-128", "128 bytes, every component within 63", name128())
    ni(819, "name-component-64", "a 64-byte component", "c" * 64)
    ni(820, "name-star", "'disk*' (pattern character in a name)", "disk*")
    ni(821, "name-nul", "'a' NUL 'b'", "a\x00b")
    ni(822, "name-non-ascii", "UTF-8 'cafe' with e-acute", "caf\xc3\xa9")
    ni(823, "name-slash-only", "'/'", "/")
    ni(824, "name-question", "'disk?'", "disk?")
    ni(825, "name-dot-component", "'a/./b'", "a/./b")

    pv(850, "pattern-star", "'*' matches any one-component name", "*",
       ["a", "disk0", "A-b.c_d"], ["a/b", "x/y/z"])
    pv(851, "pattern-question", "'?' matches exactly one character", "disk?",
       ["disk0", "diskA", "disk."], ["disk", "disk10", "disk0/x"])
    pv(852, "pattern-globstar", "'**' matches every name", "**", ["a", "a/b", "a/b/c/d"], [])
    pv(853, "pattern-globstar-tail", "'storage/**' matches storage and everything below it",
       "storage/**", ["storage", "storage/disk0", "storage/a/b"], ["store", "storage2/x", "x/storage"])
    pv(854, "pattern-globstar-middle", "'a/**/z' matches zero or more middle components", "a/**/z",
       ["a/z", "a/b/z", "a/b/c/z"], ["a", "z", "a/z/b", "b/a/z"])
    pv(855, "pattern-star-in-component", "'sensor-*/temp': '*' stays inside one component",
       "sensor-*/temp", ["sensor-1/temp", "sensor-/temp", "sensor-a.b/temp"],
       ["sensor/temp", "sensor-1/x/temp", "sensor-1"])
    pv(856, "pattern-star-empty-run", "'disk*' matches the empty run", "disk*",
       ["disk", "disk0", "disk-a.b"], ["dis", "disk/0", "Disk0"])
    pv(857, "pattern-star-question", "'*/?' mixes both wildcards", "*/?",
       ["a/b", "storage/0"], ["a", "a/bc", "a/b/c"])
    pv(858, "pattern-literal", "a name is a pattern matching only itself, case-sensitively", "a/b",
       ["a/b"], ["a", "a/b/c", "A/b", "a/B"])
    pv(859, "pattern-globstar-head", "'**/temp' matches temp at any depth", "**/temp",
       ["temp", "a/temp", "a/b/temp"], ["temp/a", "atemp", "a/temp2"])
    pv(860, "pattern-multi-star", "'*a*b*' inside one component", "x/*a*b*",
       ["x/ab", "x/1a2b3", "x/bab"], ["x/ba", "x/a/b", "ab"])
    pv(861, "pattern-127", "a 127-byte pattern", "*" + "p" * 61 + "?/" + "q" * 62 + "*",
       ["Z" + "p" * 61 + "X/" + "q" * 62], ["p" * 61 + "X/" + "q" * 62 + "/r"])
    pv(862, "pattern-double-globstar", "'**/**' is valid and matches everything", "**/**",
       ["a", "a/b/c"], [])
    pi(870, "pattern-empty", "empty pattern", "")
    pi(871, "pattern-triple-star", "'***' ('**' must be a whole component)", "***")
    pi(872, "pattern-star-star-suffix", "'a**'", "a**")
    pi(873, "pattern-double-slash", "'a//*'", "a//*")
    pi(874, "pattern-leading-slash", "'/*'", "/*")
    pi(875, "pattern-trailing-slash", "'*/'", "*/")
    pi(876, "pattern-dotdot", "'a/..'", "a/..")
    pi(877, "pattern-space", "'a *'", "a *")
    pi(878, "pattern-128", "128 bytes", "*" * 63 + "/" + "?" * 62 + "/x")
    pi(879, "pattern-component-64", "a 64-byte component", "*" * 64)
    pi(880, "pattern-globstar-prefix", "'**x'", "**x")


# ---- output --------------------------------------------------------------------------------

GENERATORS = [gen_header, gen_options, gen_discover, gen_link, gen_state, gen_data,
              gen_fragment, gen_bundle, gen_minet, gen_name_publish, gen_withdraw, gen_sync,
              gen_path, gen_status, gen_mgmt, gen_security, gen_precedence, gen_serial,
              gen_caphdr, gen_names]

FILE_RE = re.compile(r"^\d{3}-[a-z0-9-]+\.json$")


def main():
    for g in GENERATORS:
        g()
    nums, names = set(), set()
    for num, v in VECTORS:
        assert 0 <= num <= 999 and num not in nums, ("duplicate number", num)
        assert v["name"] not in names, ("duplicate name", v["name"])
        nums.add(num)
        names.add(v["name"])
    os.makedirs(VEC_DIR, exist_ok=True)
    for fn in os.listdir(VEC_DIR):
        if FILE_RE.match(fn):
            os.remove(os.path.join(VEC_DIR, fn))
    used = set()
    for num, v in sorted(VECTORS, key=lambda x: x[0]):
        used.update(v["requirements"])
        path = os.path.join(VEC_DIR, "%03d-%s.json" % (num, v["name"]))
        with open(path, "w", encoding="ascii", newline="\n") as f:
            f.write(json.dumps(v, indent=2, ensure_ascii=True) + "\n")

    def key(r):
        fam, n = r.rsplit("-", 1)
        return (list(REQS).index(r), fam, int(n))
    with open(os.path.join(VEC_DIR, "REQUIREMENTS-USED.txt"), "w", encoding="utf-8",
              newline="\n") as f:
        f.write("# Requirement IDs used by spec/vectors (generated by spec/tools/gen_vectors.py).\n")
        f.write("# One per line: ID, a tab, the requirement the vectors check.\n")
        for r in sorted(used, key=key):
            f.write("%s\t%s\n" % (r, REQS[r]))
    unused = sorted(set(REQS) - used)
    print("wrote %d vectors to %s (%d requirement IDs)" % (len(VECTORS), VEC_DIR, len(used)))
    if unused:
        print("note: requirement IDs defined but unused: " + ", ".join(unused))


if __name__ == "__main__":
    main()
