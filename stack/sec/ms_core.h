/*
 * ms_core.h — the core's crypto (mc_crypto, stack/core/mc.h) implemented over ms_.
 *
 * The protocol core links no crypto library: a node gets secured links by being given
 * this ops table in mc_config.crypto.  Each core link's `sl` is an ms_link.  The ms_ctx
 * (cluster key, policy, timers) belongs to the caller and must outlive every node that
 * uses it; one ctx may serve several nodes only if they share node_id (normally: one
 * ctx per node).
 */
#ifndef MS_CORE_H
#define MS_CORE_H

#include "mc.h"
#include "ms.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const mc_crypto_ops ms_core_ops;

/* Fill *out: ops = &ms_core_ops, user = ctx, policy = the ctx's policy. */
void ms_core_crypto(ms_ctx *ctx, mc_crypto *out);

#ifdef __cplusplus
}
#endif
#endif /* MS_CORE_H */
