/*
 * bearer_impl.h — what bearer implementations share (not part of the public API).
 */
#ifndef MB_BEARER_IMPL_H
#define MB_BEARER_IMPL_H

#include "bearer.h"

struct mb_bearer {
    const struct mb_bearer_ops *ops;
    void *priv;               /* the implementation's state */
    mb_rx_fn rx;
    void *user;
    bool enabled;
    bool carrier;
    size_t mtu;
    struct mb_addr self;      /* our media address */
    struct mb_addr disc;      /* discovery (broadcast/multicast) address */
    struct mb_stats st;
    struct mb_capture *cap;   /* not owned */
    uint16_t cap_index;
};

/* Deliver one received frame upward: counts it (or drops it, counted, if the bearer is
 * disabled) and calls the rx callback.  Returns 1 if delivered, 0 if dropped. */
int mb__deliver(struct mb_bearer *b, const uint8_t *frame, size_t len, const struct mb_addr *src);
void mb__set_carrier(struct mb_bearer *b, bool up);

/* Capture hooks, called by implementations with the view their link type wants. */
void mb__cap(struct mb_bearer *b, const uint8_t *data, size_t len, bool tx, const uint8_t *fcs);
void mb__cap_udp4(struct mb_bearer *b, const uint8_t src[6], const uint8_t dst[6],
                  const uint8_t *payload, size_t len, bool tx);
int mb__capture_link(const struct mb_capture *c);

/* Config strings: "key=value,key=value".  Keys are [a-z_0-9]; values run to the next
 * comma.  A key may repeat (udp peer=). */
/* Copy the first value of `key` into out.  1 found, 0 absent, MB_EINVAL if too long. */
int mb__cfg_str(const char *cfg, const char *key, char *out, size_t cap);
/* Numeric value with default and inclusive bounds; MB_EINVAL if malformed/out of range. */
int mb__cfg_u32(const char *cfg, const char *key, uint32_t def, uint32_t min, uint32_t max,
                uint32_t *out);
/* Iterate: *pos starts at cfg; returns 1 with key/val filled, 0 at the end, MB_EINVAL. */
int mb__cfg_next(const char **pos, char *key, size_t kcap, char *val, size_t vcap);
/* MB_EINVAL (and a log line) if cfg has a key not in the NULL-terminated list. */
int mb__cfg_check(const char *who, const char *cfg, const char *const *known);

/* errno -> MB_E* */
int mb__errno(int e);
/* Log a line to stderr, prefixed with the bearer name; rate-limited per process. */
void mb__log(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse "a.b.c.d:port" / "[v6]:port" / "a.b.c.d" (port = defport) into an mb_addr. */
int mb__parse_inaddr(const char *s, uint16_t defport, struct mb_addr *out);
int mb__parse_mac(const char *s, struct mb_addr *out);

#endif /* MB_BEARER_IMPL_H */
