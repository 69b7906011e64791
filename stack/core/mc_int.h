/*
 * mc_int.h — internals of the protocol core shared by node.c, link.c and chan.c.
 * Not a public header: only the core's own files include it.
 */
#ifndef MC_INT_H
#define MC_INT_H

#include <string.h>

#include "mc.h"
#include "naming.h"
#include "path.h"

#define MC_NS_PER_MS 1000000ull
#define MC_NS_PER_US 1000ull
#define MC_NEVER UINT64_MAX

/* Link timing constants from the design notes. */
#define MC_RESET_INTERVAL_NS (100ull * MC_NS_PER_MS) /* LINK_RESET while in RESET */
#define MC_RESET_SLOW_NS (1000ull * MC_NS_PER_MS)    /* after MC_RESET_FAST tries */
#define MC_RESET_FAST 10u
#define MC_DISC_FAST_NS (100ull * MC_NS_PER_MS)
#define MC_DISC_SLOW_NS (1000ull * MC_NS_PER_MS)
#define MC_DISC_FAST_COUNT 5u
#define MC_ACK_DELAY_NS (1ull * MC_NS_PER_MS)        /* LINK_STATE 1 ms after a receipt */
#define MC_ACK_EVERY 8u                              /* ... or every 8 frames */
#define MC_RTO_INIT_NS (50ull * MC_NS_PER_MS)
#define MC_RTO_MIN_NS (1ull * MC_NS_PER_MS)
#define MC_RTT_PROBE_NS (10ull * MC_NS_PER_MS) /* RTT probe piggybacked on acks */
#define MC_RTO_BURST 16u /* frames retransmitted per RTO expiry (tail of a burst lost) */

/* ---- Generic intrusive hash (chained, power-of-two buckets, grows at load 1) ------- */
typedef struct mc_hnode {
    struct mc_hnode *next;
    uint64_t key;
} mc_hnode;

typedef struct mc_hash {
    mc_hnode **b;
    uint32_t nb, n;
} mc_hash;

/* ---- Queued message unit: one message, or one fragment of one -------------------- */
typedef struct mc_chan mc_chan;
typedef struct mc_unit {
    struct mc_unit *next;
    mc_chan *ch;         /* sender channel state (for pinning and pending counts) */
    uint8_t type;        /* DATA, ..., or FRAGMENT */
    uint8_t inner_type;  /* FRAGMENT: the message's type */
    uint32_t chan, cseq;
    uint32_t total_len, offset; /* FRAGMENT */
    uint32_t len;        /* body bytes below */
    size_t asize;
    uint8_t body[];      /* encoded body (bytes after the sequenced header) */
} mc_unit;

/* One link sequence number in flight: a single unit, or several bundled. */
typedef struct mc_pkt {
    struct mc_pkt *next;
    mc_unit *units;      /* in order; more than one = BUNDLE */
    uint16_t seq;
    uint16_t nunits;
    uint16_t ntx;
    uint64_t first_tx, last_tx;
} mc_pkt;

/* A received frame held until the link gap before it fills. */
typedef struct mc_ooo {
    struct mc_ooo *next;
    uint16_t seq;
    uint32_t len;
    size_t asize;
    uint8_t bytes[];
} mc_ooo;

/* A channel message received ahead of its turn (cseq > expected). */
typedef struct mc_heldmsg {
    struct mc_heldmsg *next;
    uint32_t cseq;
    uint8_t type;
    uint32_t len;
    size_t asize;
    uint8_t body[];
} mc_heldmsg;

typedef struct mc_reasm {
    uint32_t cseq, total, got;
    uint8_t inner_type;
    bool discard;        /* too big or no memory: swallow the fragments, deliver nothing */
    uint8_t *buf;
    uint64_t touched;    /* when its last fragment arrived (reassembly timeout) */
} mc_reasm;

typedef struct mc_peer mc_peer;
typedef struct mc_link mc_link;
typedef struct mc_bearer mc_bearer;

/* Per (peer, chan): both directions, because both die together when the peer goes. */
struct mc_chan {
    mc_hnode h;          /* key: peer_id << 32 | chan */
    mc_chan *pnext;      /* in peer->chans */
    mc_peer *peer;
    uint32_t chan;
    uint32_t tx_next;    /* next cseq to assign */
    mc_link *pin;        /* link carrying this channel now */
    uint32_t tx_pending; /* units of this channel not yet acknowledged */
    uint32_t rx_next;    /* next cseq to deliver */
    mc_heldmsg *held;    /* sorted by cseq */
    uint32_t n_held;
    mc_reasm *reasm;
};

struct mc_peer {
    mc_hnode h;          /* key: node id */
    uint32_t node_id;
    uint32_t incarnation;
    bool inc_known;
    bool up;
    /* Loss epochs (RFC 7.7): ours for this peer, sent in every LINK_RESET/ACTIVATE, and
     * the last one the peer sent us in its current incarnation. */
    uint32_t epoch_out, epoch_in;
    bool epoch_in_known;
    uint32_t max_message; /* its MAX_MESSAGE; 1 MiB until it announces more (MSG-FRAG-6) */
    uint32_t caps;        /* its CAPS from its last setup frame (RFC 4.3) */
    mc_link *links;      /* via link->pnext */
    mc_chan *chans;
    size_t queued_bytes; /* queued + in flight, for MC_EAGAIN */
    uint32_t nlinks;
};

struct mc_link {
    mc_hnode h;          /* key: hash(bearer, addr) */
    mc_link *pnext;      /* in peer->links */
    mc_link *dnext;      /* in node's dirty list */
    mc_peer *peer;
    mc_bearer *bearer;
    mc_addr addr;
    uint8_t state;
    bool dirty;
    bool peer_session_known;
    bool peer_standby;
    bool tx_started, rx_started; /* a sequenced frame was sent / accepted this session */
    bool session_told;   /* a setup frame of this session went out: the peer may know it */
    bool learned_stale;  /* the peer session we know predates a purge by PEER_EPOCH */
    /* A purge of the peer (last link lost) makes every peer session seen before it
     * stale: setup frames up to session_floor are dropped until we learn a later one. */
    bool floor_set, prev_known;
    uint16_t session_floor, prev_peer_session; /* prev: the one start_reset forgot */
    uint16_t session, peer_session;
    uint16_t tolerance_ms, peer_tolerance_ms, window, mtu;
    uint16_t peer_probe_ms;  /* the peer's PROBE_INTERVAL for this link; 0 = none */
    uint8_t priority;
    uint32_t resets_sent;
    uint64_t last_heard, last_probe, next_ctl; /* next_ctl: RESET/ACTIVATE resend */
    uint64_t state_since;
    /* send side */
    uint16_t snd_nxt, snd_una;
    mc_pkt *inf_head, *inf_tail;
    uint32_t n_inflight;
    mc_unit *bl_head, *bl_tail;
    uint32_t n_backlog;
    uint64_t srtt, rttvar, rto, rto_at;
    bool have_rtt;
    /* receive side */
    uint16_t rcv_nxt;
    uint16_t peer_next;  /* highest next_seq the peer has shown us: tail-loss detection */
    mc_ooo *ooo;
    uint32_t n_ooo;
    uint32_t unacked_rx;
    uint64_t ack_at, last_nack_tx;
    /* timer heap */
    uint32_t heap_idx;
    uint64_t deadline;
    mc_link_stats st;
    /* secured links (sec.c): the crypto adapter's state, NULL on a plain link */
    void *sec;
    bool secured;        /* frames other than DISCOVER/KEY_EXCHANGE only inside SECURED */
    bool sec_kicked;     /* a rekey was started because LINK_RESETs went unanswered */
    uint8_t peer_policy; /* MP_SEC_* from the peer's DISCOVER */
};

struct mc_bearer {
    bool used;
    int id;
    mc_bearer_cfg cfg;
    uint32_t disc_sent;
    uint64_t disc_at;
};

#define MC_MAX_BEARERS 8

struct mc_node {
    mc_config cfg;
    uint32_t incarnation;
    uint32_t loss_epoch; /* advances each time this node declares a peer lost (RFC 7.7) */
    uint32_t caps_extra; /* announced beyond BUNDLE | FRAGMENT | MGMT (mc_set_caps) */
    mc_bearer bearers[MC_MAX_BEARERS];
    mc_hash links;       /* by (bearer, addr) */
    mc_hash peers;       /* by node id */
    uint64_t reasm_check_at; /* earliest reassembly timeout while n_reasm > 0 */
    mc_hash chans;       /* by (peer, chan) */
    mc_link **heap;      /* links by deadline */
    uint32_t heap_n, heap_cap;
    mc_link *dirty;      /* links with something to transmit */
    uint64_t now;        /* latest time seen; for the "flush now" deadline */
    uint8_t *txbuf;      /* one encoded frame */
    uint8_t *bbuf;       /* bundle members under construction */
    size_t txcap;
    mn_table *names;
    mpa_ctx *paths;
    /* Path frames the core could not queue (no memory): the path layer has numbered
     * them already, so the peer would wait for that cseq for ever.  Recorded by the
     * action callback, repaired once the path layer has returned (mc__paths_repair). */
    struct mc_path_hole {
        uint32_t path, node, chan, cseq;
    } path_holes[8];
    uint8_t n_path_holes;
    mp_name_rec *sync_scratch;
    mc_peer *sync_peer;  /* target of the NAME_SYNC being emitted */
    int sync_err;
    uint16_t min_mtu;    /* smallest attached bearer MTU: fragment size */
    uint32_t n_links, n_peers_up, n_reasm, n_held;
    /* Set while a sequenced frame is delivered if some message in it could not be taken
     * (no memory, no room to hold or reassemble).  The link then does not acknowledge
     * the frame: the peer sends it again, and channel numbers discard what was taken. */
    bool rx_refused;
    bool announce_loss; /* set around mc__peer_lost when the loss is our own decision */
    /* secured links (sec.c): where frames are sealed and opened, grown on demand */
    uint8_t *sec_tx, *sec_rx;
    size_t sec_txcap, sec_rxcap;
    mc_stats st;
};

/* ---- node.c ------------------------------------------------------------------------ */
void *mc__alloc(mc_node *n, size_t size);
void mc__free(mc_node *n, void *p, size_t size);
uint32_t mc__rand(mc_node *n);
void mc__drop(mc_node *n, int reason);
void mc__emit(mc_node *n, mc_event *ev);
void mc__heap_update(mc_node *n, mc_link *l);
void mc__mark_dirty(mc_node *n, mc_link *l);
void mc__tx(mc_node *n, mc_link *l, const uint8_t *frame, size_t len);

mc_peer *mc__peer_find(const mc_node *n, uint32_t id);

mc_hnode *mc__hash_find(const mc_hash *h, uint64_t key);
int mc__hash_add(mc_node *n, mc_hash *h, mc_hnode *e);
void mc__hash_del(mc_hash *h, mc_hnode *e);

mc_link *mc__link_find(const mc_node *n, int bearer, const mc_addr *a);
/* Dispatch a frame that came out of a SECURED envelope (sec.c): as if it arrived alone. */
int mc__input_inner(mc_node *n, mc_bearer *b, const mc_addr *src, const uint8_t *buf,
                    size_t len, uint64_t now);

/* ---- sec.c (secured links; all no-ops without mc_config.crypto.ops) ------------------ */
uint8_t mc__sec_peer_policy(const mp_discover *d);
bool mc__sec_admit(mc_node *n, uint8_t peer_policy);
int mc__sec_link_attach(mc_node *n, mc_link *l, uint8_t peer_policy, uint64_t now);
void mc__sec_link_free(mc_node *n, mc_link *l);
void mc__sec_peer_restarted(mc_node *n, mc_peer *p, uint8_t peer_policy, uint64_t now);
void mc__sec_rediscover(mc_node *n, mc_link *l, uint64_t now);
bool mc__sec_plain_ok(mc_node *n, int bearer, const mc_addr *src, uint8_t type);
int mc__sec_input(mc_node *n, mc_bearer *b, const mc_addr *src, const uint8_t *buf,
                  size_t len, const mp_hdr *h, uint64_t now);
bool mc__sec_wrap(mc_node *n, mc_link *l, const uint8_t **frame, size_t *len);
uint64_t mc__sec_deadline(const mc_node *n, const mc_link *l);
void mc__sec_timer(mc_node *n, mc_link *l, uint64_t now);
/* Our CAPS word: BUNDLE | FRAGMENT | MGMT, SECURE with a secured policy, and mc_set_caps. */
uint32_t mc__caps(const mc_node *n);
void mc__sec_discover_opts(const mc_node *n, mp_discover *d, uint8_t caps[4], uint8_t *pol);
void mc__sec_ctl_opts(const mc_node *n, const mc_link *l, mp_opts *o, uint8_t *pol);
uint16_t mc__sec_inner_mtu(const mc_link *l);
void mc__sec_node_free(mc_node *n);

/* ---- link.c ------------------------------------------------------------------------ */
mc_link *mc__link_new(mc_node *n, mc_bearer *b, const mc_addr *addr, mc_peer *p);
void mc__link_free(mc_node *n, mc_link *l);
void mc__link_start_reset(mc_node *n, mc_link *l, uint64_t now);
void mc__link_down(mc_node *n, mc_link *l, int reason, bool failover, uint64_t now);
void mc__link_on_ctl(mc_node *n, mc_link *l, const mp_frame *f, uint64_t now);
void mc__link_on_state(mc_node *n, mc_link *l, const mp_frame *f, uint64_t now);
void mc__link_on_seq(mc_node *n, mc_link *l, const uint8_t *buf, size_t len,
                     const mp_hdr *h, uint64_t now);
void mc__link_timer(mc_node *n, mc_link *l, uint64_t now);
void mc__link_push(mc_node *n, mc_link *l, uint64_t now);
void mc__link_rearm(mc_node *n, mc_link *l);
uint64_t mc__link_probe_ns(const mc_link *l);
size_t mc__unit_size(uint32_t len);

/* ---- chan.c ------------------------------------------------------------------------ */
mc_chan *mc__chan_get(mc_node *n, mc_peer *p, uint32_t chan, bool create);
void mc__chan_purge_peer(mc_node *n, mc_peer *p);
mc_link *mc__select_link(mc_node *n, mc_peer *p, uint32_t chan, const mc_link *exclude);
void mc__failover(mc_node *n, mc_link *l, mc_unit *units, uint32_t count, uint64_t now);
void mc__unit_free(mc_node *n, mc_unit *u, bool acked);
void mc__deliver_frame(mc_node *n, mc_link *l, const uint8_t *buf, size_t len, uint64_t now);
void mc__peer_link_up(mc_node *n, mc_peer *p, mc_link *l, uint64_t now);
void mc__peer_link_down(mc_node *n, mc_peer *p, int link_reason, uint64_t now);
void mc__peer_lost(mc_node *n, mc_peer *p, int reason, uint64_t now);
/* Reassembly timeout (MSG-FRAG-15): declares lost every peer with a stale reassembly. */
void mc__reasm_expire(mc_node *n, uint64_t now);
int mc__paths_init(mc_node *n);
void mc__paths_repair(mc_node *n);

#endif /* MC_INT_H */
