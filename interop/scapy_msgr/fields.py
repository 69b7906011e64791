"""Conversion between Scapy packets and the vector `fields` object (spec/vectors/FORMAT.md)."""
from scapy.packet import Raw
from .layers import (Messenger, MsgrBundleMember, MsgrOption, MsgrGap, MsgrUop, MsgrProp,
                     MsgrNameRecord, MsgrSyncRecord, BODIES, TYPES, TYPE_CODES, is_sequenced,
                     MsgrData, MsgrMgmt)

_HEX = {"payload", "eth", "data", "ciphertext", "tag", "public_key", "random", "mac"}
_SKIP = {"name_len", "reserved", "reserved8", "reserved16", "payload_len", "len",
         "key_len", "val_len", "rec_len"}


def fv(pkt, n):
    """Field value; never the Packet class attribute of the same name (`name`)."""
    v = pkt.fields[n] if n in pkt.fields else pkt.default_fields.get(n)
    if isinstance(v, str):
        v = v.encode("latin-1")
    return v


def _opts(lst):
    return [{"type": int(o.type), "value": bytes(o.value).hex()} for o in lst]


def _props(lst):
    return [{"key": bytes(p.key).decode("latin-1"), "value": bytes(p.value).hex()} for p in lst]


def _record(r):
    return {"device_id": int(r.device_id), "dtype": int(r.dtype), "nflags": int(r.nflags),
            "rank": int(r.rank), "generation": int(r.generation),
            "name": bytes(fv(r, "dname")).decode("latin-1"), "prop_count": int(r.prop_count),
            "props": _props(r.props)}


def body_fields(body, t):
    """The `body` object of a decoded frame or member of type t."""
    if body is None or not isinstance(body, BODIES.get(t, Raw)):
        body = BODIES[t](bytes(body) if body is not None else b"")
    if t in (0x20,):
        return _record(body)
    out = {}
    for f in body.fields_desc:
        n = f.name
        if n in _SKIP:
            continue
        v = fv(body, n)
        if n == "load":
            out["payload"] = bytes(v).hex()
        elif n == "opts":
            out["opts"] = _opts(v)
        elif n == "gaps":
            out["gaps"] = [{"start": int(g.start), "end": int(g.end)} for g in v]
        elif n == "uops":
            out["uops"] = [{"opcode": int(u.opcode), "arg": int(u.arg)} for u in v]
        elif n == "records":
            out["records"] = [_record(r.record) for r in v]
        elif n == "members":
            out["count"] = len(v)
            out["members"] = [member_fields(m) for m in v]
        elif n == "dname":
            out["name"] = bytes(v).decode("latin-1")
        elif n in _HEX:
            out[n] = bytes(v).hex()
        else:
            out[n] = int(v)
    return out


def member_fields(m):
    t = int(m.type)
    return {"version": int(m.version), "flags": int(m.flags), "type": TYPES.get(t, t),
            "type_code": t, "length": int(m.length), "chan": int(m.chan), "cseq": int(m.cseq),
            "body": body_fields(m.body, t)}


def to_fields(pkt):
    """Scapy Messenger packet -> vector fields."""
    t = int(pkt.type)
    d = {"version": int(pkt.version), "flags": int(pkt.flags), "type": TYPES.get(t, t),
         "type_code": t, "length": int(pkt.length)}
    if is_sequenced(t):
        for k in ("seq", "ack", "chan", "cseq"):
            d[k] = int(pkt.getfieldval(k))
    body = pkt.payload if pkt.payload else None
    d["body"] = body_fields(body, t)
    return d


# ----------------------------------------------------------------------- building
def _mk_opts(lst):
    return [MsgrOption(type=o["type"], value=bytes.fromhex(o["value"])) for o in lst]


def _mk_props(lst):
    return [MsgrProp(key=p["key"].encode("latin-1"), value=bytes.fromhex(p["value"]))
            for p in lst]


def _rec_kwargs(b):
    return dict(device_id=b["device_id"], dtype=b["dtype"], nflags=b["nflags"], rank=b["rank"],
                generation=b["generation"], dname=b["name"].encode("latin-1"),
                prop_count=b.get("prop_count"), props=_mk_props(b.get("props", [])))


def make_body(t, b):
    cls = BODIES[t]
    if t == 0x20:
        return cls(**_rec_kwargs(b))
    kw = {}
    for k, v in b.items():
        if k == "payload":
            kw["load"] = bytes.fromhex(v)
        elif k == "opts":
            kw["opts"] = _mk_opts(v)
        elif k == "gaps":
            kw["gaps"] = [MsgrGap(start=g["start"], end=g["end"]) for g in v]
        elif k == "uops":
            kw["uops"] = [MsgrUop(opcode=u["opcode"], arg=u["arg"]) for u in v]
        elif k == "records":
            kw["records"] = [MsgrSyncRecord(record=MsgrNameRecord(**_rec_kwargs(r))) for r in v]
        elif k == "members":
            kw["members"] = [make_member(m) for m in v]
        elif k == "count" and t == 0x12:
            continue          # BUNDLE has no count on the wire
        elif k == "name":
            kw["dname"] = v.encode("latin-1")
        elif k in _HEX:
            kw[k] = bytes.fromhex(v)
        else:
            kw[k] = v
    return cls(**kw)


def make_member(m):
    t = m["type_code"]
    return MsgrBundleMember(version=m["version"], flags=m["flags"], type=t,
                            length=m.get("length"), chan=m["chan"], cseq=m["cseq"],
                            body=make_body(t, m["body"]))


def from_fields(d, keep_length=True):
    """Vector fields -> Scapy Messenger packet (length recomputed unless keep_length)."""
    t = d["type_code"]
    kw = dict(version=d["version"], flags=d["flags"], type=t,
              length=d["length"] if keep_length else None)
    if is_sequenced(t):
        kw.update(seq=d["seq"], ack=d["ack"], chan=d["chan"], cseq=d["cseq"])
    return Messenger(**kw) / make_body(t, d["body"])


def dissect(data):
    return Messenger(bytes(data))
