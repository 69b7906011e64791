"""Which of the RFC's MUST requirements the conformance suite can test on the wire.

NOT_WIRE: requirements that no peer on a UDP or Ethernet bearer can observe, with the
reason.  CONDITIONAL: requirements that bind only an implementation with a feature it
announces (the adapter's `hello` caps), with the reason.  The report lists both, and
gives the MUST coverage over everything and over the wire-testable, applicable rest."""

NOT_WIRE = {}
for _i in range(1, 10):
    NOT_WIRE["MSG-SHM-%d" % _i] = ("PCIe shim (14.4): a shared-memory window between host and "
                                   "IOP, not a packet bearer the suite's peer can sit on")
NOT_WIRE.update({
    "MSG-SEC-11": "key storage (volatile memory only): not observable on the wire",
    "MSG-MGMT-17": "checkpoint durability on storage: not observable on the wire",
    "MSG-MINET-11": "behaviour towards the node's own TAP device, not on the wire",
    "MSG-MINET-12": "a deployment rule (every node of a MINET domain configured alike)",
    "MSG-NAME-21": "a rule for applications; the node itself publishes msgr/ names for its "
                   "roles (10.8), so its wire behaviour cannot show a violation",
})

_SEC = ["MSG-SEC-%d" % i for i in (7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 24)]
_MINET = ["MSG-MINET-%d" % i for i in (6, 7, 8, 9, 10)]
# 10.6-10.12: the duties of the HA roles (FTM, heartbeat watcher, IOP manager, checkpoint
# store, execution supervisor).  MSG-MGMT-15 (fencing) binds every node and stays in scope.
_FTM = ["MSG-MGMT-%d" % i for i in [13, 14, 16] + list(range(18, 32))]
CONDITIONAL = {
    "secure": (_SEC, "binds a node that implements secured links (announces CAP_SECURE, 12.1, "
                     "12.7); the IUT does not"),
    "minet": (_MINET, "binds a node that runs MINET (announces CAP_MINET, 4.3); the IUT does not"),
    "ha_role": (_FTM, "binds a node acting in an HA role (FTM, heartbeat watcher, IOP manager, "
                      "checkpoint store, execution supervisor: 10.6-10.12); the driver cannot "
                      "make the IUT one"),
}


BEARER_SPECIFIC = {"MSG-ETH-": "eth", "MSG-UDP-": "udp"}


def classify(rid, caps, bearers=("udp", "eth")):
    """None if the requirement is in scope, else (kind, reason).  bearers: the bearers
    of this run (a per-bearer report leaves the other bearer's mapping to its own run)."""
    for pre, b in BEARER_SPECIFIC.items():
        if rid.startswith(pre) and b not in bearers:
            return ("other bearer", "a %s bearer mapping, tested by the %s run" % (
                b, "veth" if b == "eth" else "udp"))
    if rid in NOT_WIRE:
        return ("not wire-testable", NOT_WIRE[rid])
    for cap, (ids, why) in CONDITIONAL.items():
        if rid in ids and cap not in caps:
            return ("not applicable", why)
    return None
