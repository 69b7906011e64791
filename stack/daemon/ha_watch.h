/*
 * ha_watch.h — msgrd's heartbeat monitor of the FTM (entity 2, `msgr/heartbeat`, RFC
 * 10.7) and the explanation of FTM leadership for msgrctl (prefix mhd_watch_, mhd_lead_).
 *
 * With `[ha] watch_ftm = yes` msgrd hosts entity 2: its own microkernel with one mha_hb
 * element in TAKEOVER mode.  It sends HEARTBEAT to entity 1 on the FTM's node; when the
 * FTM stays silent for hb_period_ms x hb_threshold it sends TAKEOVER("msgr/ftm") to the
 * first of `ftm_candidates` that is not the lost FTM's node, and it follows ELECT to the
 * new FTM (MSG-MGMT-18, 30).  The decision is the element's; this module only owns the
 * kernel, starts the watch (when the link to the FTM's node is up, or after the start
 * grace: an FTM that cannot be reached yet is not a lost one), and keeps the evidence of
 * each TAKEOVER for operators.
 *
 * ha.c owns the routing: it feeds the kernel what is addressed to entity 2 (or to every
 * entity), drains its outbox, ticks it at its deadline, and folds its epoch into the
 * node's.
 */
#ifndef MSGRD_HA_WATCH_H
#define MSGRD_HA_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "mha.h"

typedef struct mhd_watch mhd_watch;

/* Builds entity 2's kernel from cfg (watch_ftm, ftm_node, ftm_candidates, hb_period_ms,
 * hb_threshold, start_grace_ms).  The watched FTM is entity 1 on ftm_node, which must be
 * another node (a monitor beside the FTM dies with it).  0, or a negative MC_E/MK_E code
 * (the reason is logged). */
int mhd_watch_create(const msgrd_conf_ha *cfg, uint32_t node_id, uint64_t now, mhd_watch **out);
void mhd_watch_destroy(mhd_watch *w);
/* The kernel of entity 2 (NULL for a NULL watch): input, outbox, epoch. */
mk_kernel *mhd_watch_kernel(const mhd_watch *w);
/* The earliest time it wants mhd_watch_tick (UINT64_MAX: never). */
uint64_t mhd_watch_deadline(const mhd_watch *w);
void mhd_watch_tick(mhd_watch *w, uint64_t now);
/* A link to `peer` is up: if it is the FTM's node and the watch waits for it, it starts. */
void mhd_watch_peer_up(mhd_watch *w, uint32_t peer, uint64_t now);
/* A message entity 2 emitted, before ha.c routes it: a TAKEOVER is kept as evidence. */
void mhd_watch_note(mhd_watch *w, const mk_msg *m, uint64_t now);

/* msgrctl ha: `"ftm_watch":{...}|null,"leadership":{...}|null,` (JSON, to be followed by
 * more members) or a few text lines: what the monitor watches, its bound, its
 * declarations and TAKEOVERs; and, for an FTM on this node, its role and epoch, who
 * promoted it and when, what fenced it, and its self-checkpoint and restore. */
void mhd_watch_ctl(const mhd_watch *w, const mha_ftm *f, int json, uint64_t now, char *b,
                   size_t cap, size_t *len);

#endif
