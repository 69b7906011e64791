"""Which of the RFC's MUST requirements the conformance suite can test on the wire.

NOT_WIRE: requirements that no peer on a bearer the suite drives (UDP, Ethernet, the
PCIe shim window) can observe, with the reason.  CONDITIONAL: requirements that bind only an implementation with a feature it
announces (the adapter's `hello` caps), with the reason.  The report lists both, and
gives the MUST coverage over everything and over the wire-testable, applicable rest."""

NOT_WIRE = {}
NOT_WIRE.update({
    "MSG-SEC-11": "key storage (volatile memory only): not observable on the wire",
    "MSG-MGMT-17": "checkpoint durability on storage: not observable on the wire",
    "MSG-MINET-11": "binds a receiver whose TAP cannot take offload metadata; a TAP that "
                    "takes it (IFF_VNET_HDR, as msgrd's always does) hands the GSO "
                    "super-frame to the host stack unsegmented, so no observation point "
                    "outside the node sees the node's own segmentation",
    "MSG-MINET-12": "a deployment rule (every node of a MINET domain configured alike)",
    "MSG-NAME-21": "a rule for applications; the node itself publishes msgr/ names for its "
                   "roles (10.8), so its wire behaviour cannot show a violation",
})

_SEC = ["MSG-SEC-%d" % i for i in (7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 24)]
_MINET = ["MSG-MINET-%d" % i for i in (6, 7, 8, 9, 10)]
# 10.6-10.12: the duties of the HA roles (FTM, heartbeat watcher, IOP manager, checkpoint
# store, execution supervisor).  MSG-MGMT-15 (fencing) binds every node and stays in scope.
_FTM = ["MSG-MGMT-%d" % i for i in [13, 14, 16] + list(range(18, 32))]
_SHM = ["MSG-SHM-%d" % i for i in range(1, 10)]
CONDITIONAL = {
    "pcie": (_SHM, "binds a node with a PCIe shim bearer (14.4); the IUT does not take a "
                   "`pcie:...,role=iop` bearer through the driver (the suite is the window's "
                   "host, interop/suite/shm.py)"),
    "secure": (_SEC, "binds a node that implements secured links (announces CAP_SECURE, 12.1, "
                     "12.7); the IUT does not"),
    "minet": (_MINET, "binds a node that runs MINET (announces CAP_MINET, 4.3); the IUT does not"),
    "ha_role": (_FTM, "binds a node acting in an HA role (FTM, heartbeat watcher, IOP manager, "
                      "checkpoint store, execution supervisor: 10.6-10.12); the driver has no "
                      "command that makes the IUT one (msgrd takes its roles from the [ha] "
                      "configuration: cases for them are still to be written)"),
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
