/*
 * naming.h — one node's view of the cluster-wide name table (prefix mn_).
 *
 * Sans-I/O: no system calls, no clock, no threads, no global state.  Every byte of
 * memory comes from the caller's allocator and is counted against configured limits,
 * so a peer that floods publications gets MN_ELIMIT, never an unbounded table.
 *
 * What the table holds: one entry per publication (node_id, device_id, name) with its
 * dtype, nflags, rank, generation and properties, copied into storage the table owns.
 * Entries sharing a name form a *group* kept in conflict-rule order (highest rank, then
 * lowest node_id, then lowest device_id), so the winner is always the group's head and
 * a shadowed entry is promoted simply by the head going away (the basis of N+1).
 *
 * Frames in and out use the codec's mp_frame (mp/mp.h).  The core owns channels,
 * sequence numbers and links: frames this module builds have hdr.chan = MP_CHAN_NODE and
 * hdr.cseq = 0 for the core to fill; frames it consumes must already be decoded and
 * delivered in channel order (exactly once) by the core.
 *
 * Events are reported through a callback, synchronously, after the table is consistent.
 * The callback may read the table (lookups) but must not modify it.
 *
 * Single-threaded: one table per node, driven by the core's loop.
 */
#ifndef MN_NAMING_H
#define MN_NAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp/mp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Errors: 0 = OK, negative = failure; nothing was changed on failure ------------ */
enum mn_err {
    MN_OK = 0,
    MN_EINVAL = -1,   /* bad argument (NULL, undefined flag bits, zero node id...) */
    MN_ENOMEM = -2,   /* the allocator returned NULL */
    MN_ELIMIT = -3,   /* a configured limit (entries, per-node entries, bytes) is reached */
    MN_ENAME = -4,    /* invalid name */
    MN_EPROP = -5,    /* invalid or duplicate property */
    MN_ENOENT = -6,   /* no such entry */
    MN_EPEER = -7,    /* a remote frame claims to come from this node, or wrong type */
    MN_EPATTERN = -8, /* invalid pattern */
    MN_ECODEC = -9,   /* a NAME_SYNC record failed to decode */
    MN_ERANGE = -10,  /* MTU too small for a NAME_SYNC chunk, or too many records */
};
const char *mn_strerror(int err);

/* Allocator: all memory of the table.  free() gets the size that was allocated, so a
 * pool or a counting allocator needs no header.  alloc may return NULL at any time. */
typedef struct mn_allocator {
    void *(*alloc)(void *user, size_t size);
    void (*free)(void *user, void *ptr, size_t size);
    void *user;
} mn_allocator;

/* One publication.  Fields above the marker are public and read-only; the storage
 * (name, properties) belongs to the table and stays valid until the entry is replaced
 * or removed (a VANISHED event is the last time a pointer to it is valid). */
typedef struct mn_entry mn_entry;
struct mn_entry {
    uint32_t node_id;
    uint32_t device_id;
    uint16_t dtype;
    uint8_t nflags; /* MP_NFLAG_* */
    uint8_t rank;
    uint32_t generation;
    const uint8_t *name; /* name_len bytes, followed by a NUL for convenience */
    uint8_t name_len;
    uint8_t prop_count;
    /* ---- private ---- */
    const uint8_t *props_blob; /* wire form: key_len key val_len val, prop_count times */
    size_t props_len;
    size_t alloc_size;
    uint32_t sync_mark;
    struct mn_group *group;
    mn_entry *gprev, *gnext; /* in the group, conflict-rule order */
    mn_entry *nprev, *nnext; /* in the publishing node's list, publication order */
};

/* Fill an mp_name_rec view of `e` (views into the entry's storage). */
void mn_entry_rec(const mn_entry *e, mp_name_rec *out);

/* ---- Events ------------------------------------------------------------------------ */
enum mn_event_type {
    MN_EV_APPEARED = 1, /* a new entry (node, device, name) */
    MN_EV_UPDATED = 2,  /* republished with a newer generation (rank/props may differ) */
    MN_EV_VANISHED = 3, /* withdrawn, swept by a NAME_SYNC, or its node was purged */
    MN_EV_WINNER = 4,   /* an EXCLUSIVE name's winner changed: takeover or preemption */
};

typedef struct mn_event {
    enum mn_event_type type;
    /* APPEARED/UPDATED/VANISHED: the entry.  WINNER: the new winner. */
    const mn_entry *entry;
    /* WINNER only: the previous winner.  If it is being removed it has already had its
     * VANISHED event and is no longer in the table, but is still readable here. */
    const mn_entry *prev;
    bool exclusive; /* the name is EXCLUSIVE (some entry of the name has the flag) */
} mn_event;

typedef void (*mn_event_fn)(void *user, const mn_event *ev);

/* ---- Configuration, limits and counters -------------------------------------------- */
typedef struct mn_config {
    uint32_t local_node; /* this node's id: not 0, not 0xFFFFFFFF */
    mn_allocator alloc;
    mn_event_fn on_event; /* may be NULL */
    void *event_user;
    uint32_t max_entries;  /* 0 = default 65536 */
    uint32_t max_per_node; /* entries one node may hold; 0 = default 1024 */
    size_t max_bytes;      /* all memory of the table; 0 = default 16 MiB */
    uint32_t hash_seed;    /* from the core's RNG: makes bucket choice unpredictable */
} mn_config;

typedef struct mn_stats {
    uint32_t entries, groups, nodes;
    size_t bytes_used;
    uint64_t appeared, updated, vanished, winner_changes;
    uint64_t stale_ignored;    /* publish/withdraw older than what we hold */
    uint64_t dup_ignored;      /* publish with the generation we already hold */
    uint64_t unknown_withdraw; /* withdraw of an entry we do not hold */
    uint64_t limit_drops;      /* remote records refused by a limit or allocation */
    uint64_t sync_swept;       /* entries removed at the end of a NAME_SYNC */
    uint64_t rejected;         /* remote frames refused as invalid */
} mn_stats;

typedef struct mn_table mn_table;

/* Create a table.  Returns MN_OK and *out, or a negative error. */
int mn_create(const mn_config *cfg, mn_table **out);
/* Destroy the table and every entry, without events. */
void mn_destroy(mn_table *t);
void mn_get_stats(const mn_table *t, mn_stats *out);

/* ---- Local publications ------------------------------------------------------------
 * Publish (or republish) a local device's name.  rec->generation is ignored: the table
 * assigns a fresh, strictly increasing generation.  On success *out (if not NULL) is
 * the NAME_PUBLISH frame to send to every peer; its views point into the entry and stay
 * valid until that entry next changes.  Returns MN_OK or a negative error. */
int mn_publish(mn_table *t, const mp_name_rec *rec, mp_frame *out);

/* Withdraw a local publication.  On success *out is the NAME_WITHDRAW to send to every
 * peer; its name view is `name` (the caller's buffer).  MN_ENOENT if not published. */
int mn_withdraw(mn_table *t, uint32_t device_id, const uint8_t *name, size_t name_len,
                mp_frame *out);

/* ---- Remote records ----------------------------------------------------------------
 * Apply a decoded NAME_PUBLISH, NAME_WITHDRAW or NAME_SYNC received from `from_node`
 * on channel 0.  Generation rule: a publish with a newer generation than the one held
 * replaces it, an equal one is a duplicate, an older one is stale (both ignored and
 * counted); a withdraw removes the entry if its generation is not older than the one
 * held.  NAME_SYNC: FIRST starts a sync of from_node, LAST ends it and removes every
 * entry of from_node not confirmed since FIRST (names it no longer has).
 * Returns the number of entries changed (>= 0) or a negative error; for NAME_SYNC
 * every record is tried and the first error is returned. */
int mn_apply(mn_table *t, uint32_t from_node, const mp_frame *f);

/* Remove every entry of a lost (or restarted) node, raising VANISHED (and WINNER
 * takeover) events.  Returns the number of entries removed. */
int mn_purge_node(mn_table *t, uint32_t node_id);

/* ---- Lookup -------------------------------------------------------------------------- */
/* The winner for `name` per the conflict rule, or NULL. */
const mn_entry *mn_lookup(const mn_table *t, const uint8_t *name, size_t len);
/* Anycast: among the entries of `name` with the highest rank, the next in round-robin
 * order (deterministic given the sequence of calls).  For an EXCLUSIVE name, the winner. */
const mn_entry *mn_anycast(mn_table *t, const uint8_t *name, size_t len);
/* The entry published by (node_id, device_id) under `name`, or NULL. */
const mn_entry *mn_find(const mn_table *t, uint32_t node_id, uint32_t device_id,
                        const uint8_t *name, size_t len);

/* Visitor: return 0 to continue, non-zero to stop. */
typedef int (*mn_visit_fn)(void *user, const mn_entry *e);
/* Every entry of `name`, winner first (multicast order).  Returns entries visited. */
int mn_foreach_name(const mn_table *t, const uint8_t *name, size_t len, mn_visit_fn fn, void *user);
/* Every entry whose name matches `pat` (mp_pattern_match); groups in an unspecified but
 * deterministic order, each group winner first.  Returns entries visited or
 * MN_EPATTERN. */
int mn_match(const mn_table *t, const uint8_t *pat, size_t plen, mn_visit_fn fn, void *user);
/* Every entry published by node_id, in publication order.  Returns entries visited. */
int mn_foreach_node(const mn_table *t, uint32_t node_id, mn_visit_fn fn, void *user);

/* ---- NAME_SYNC --------------------------------------------------------------------
 * Build the NAME_SYNC chunks describing every local entry, each encoding to at most
 * `mtu` bytes (mp_encoded_len(frame) <= mtu), the first with MP_YFLAG_FIRST, the last
 * with MP_YFLAG_LAST (one chunk with both, and no records, if nothing is published).
 * A single record larger than the MTU goes alone in its chunk (the link fragments it).
 * scratch[0..nscratch) is caller storage for the mp_name_rec array a chunk points to;
 * emit() is called once per chunk and must encode or copy it before returning; a
 * non-zero return from emit stops and is returned.  Returns the number of chunks, or
 * MN_ERANGE if mtu < MP_NAME_SYNC_MIN_LEN or nscratch == 0. */
typedef int (*mn_sync_emit_fn)(void *user, const mp_frame *chunk);
int mn_sync_build(const mn_table *t, size_t mtu, mp_name_rec *scratch, size_t nscratch,
                  mn_sync_emit_fn emit, void *user);

/* Encoded size of one record inside a NAME_SYNC (rec_len(16) + record). */
size_t mn_sync_record_len(const mn_entry *e);

#ifdef __cplusplus
}
#endif
#endif /* MN_NAMING_H */
