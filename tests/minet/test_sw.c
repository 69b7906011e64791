/*
 * test_sw.c — the MINET switch (sans-I/O): learning, moves, ageing, purge on peer down,
 * flooding, domain filter, table limit, default MAC, the table dump.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mnet.h"

static int fails;
#define CHECK(c)                                                                           \
    do {                                                                                   \
        if (!(c)) {                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);          \
            fails++;                                                                       \
        }                                                                                  \
    } while (0)

#define S 1000000000ull

static void frame(uint8_t *f, const uint8_t *dst, const uint8_t *src)
{
    memset(f, 0, 64);
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = 0x08;
}

int main(void)
{
    uint8_t m1[6], m2[6], m3[6], me[6], f[64], nodes[8 * 4];
    uint32_t out[MNET_MAX_PEERS];
    bool fl;
    (void)nodes;
    mnet_default_mac(1, m1);
    mnet_default_mac(2, m2);
    mnet_default_mac(0x01020304, m3);
    mnet_default_mac(9, me);
    CHECK(m1[0] == 0x02 && m1[1] == 0x4d && m1[5] == 1);
    CHECK(m3[2] == 1 && m3[3] == 2 && m3[4] == 3 && m3[5] == 4);
    uint8_t p[6];
    CHECK(mnet_mac_parse("02:4d:00:00:00:02", p) == 0 && memcmp(p, m2, 6) == 0);
    CHECK(mnet_mac_parse("02:4d:00:00:00", p) < 0);
    CHECK(mnet_mac_parse("02:4d:00:00:00:02x", p) < 0);

    mnet_sw_cfg cfg;
    mnet_sw_config_default(&cfg);
    cfg.self = 9;
    cfg.ageing_ns = 10 * S;
    cfg.max_entries = 4;
    mnet_sw *sw;
    CHECK(mnet_sw_create(&cfg, &sw) == 0);

    /* No peer: a broadcast goes nowhere. */
    static const uint8_t bc[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t mc[6] = {0x33, 0x33, 0, 0, 0, 1};
    frame(f, bc, me);
    CHECK(mnet_sw_tx(sw, f, 64, 1 * S, out, MNET_MAX_PEERS, &fl) == 0 && fl);
    CHECK(mnet_sw_peer_up(sw, 9) < 0); /* self */
    CHECK(mnet_sw_peer_up(sw, 3) == 0);
    CHECK(mnet_sw_peer_up(sw, 1) == 0);
    CHECK(mnet_sw_peer_up(sw, 2) == 0);
    CHECK(mnet_sw_peer_up(sw, 2) == 0); /* idempotent */
    mnet_sw_stats st;
    mnet_sw_get_stats(sw, &st);
    CHECK(st.peers_up == 3);

    /* Broadcast and multicast flood to every peer up, sorted. */
    int n = mnet_sw_tx(sw, f, 64, 1 * S, out, MNET_MAX_PEERS, &fl);
    CHECK(n == 3 && fl && out[0] == 1 && out[1] == 2 && out[2] == 3);
    frame(f, mc, me);
    CHECK(mnet_sw_tx(sw, f, 64, 1 * S, out, MNET_MAX_PEERS, &fl) == 3 && fl);
    /* Unknown unicast floods. */
    frame(f, m2, me);
    CHECK(mnet_sw_tx(sw, f, 64, 1 * S, out, MNET_MAX_PEERS, &fl) == 3 && fl);
    /* Learn m2 behind node 2: known unicast goes to 2 alone, without FLOOD. */
    frame(f, me, m2);
    CHECK(mnet_sw_rx(sw, 2, 0, 0, f, 64, 2 * S) == 1);
    frame(f, m2, me);
    n = mnet_sw_tx(sw, f, 64, 3 * S, out, MNET_MAX_PEERS, &fl);
    CHECK(n == 1 && !fl && out[0] == 2);
    mnet_sw_entry e;
    CHECK(mnet_sw_lookup(sw, m2, 3 * S, &e) == 0 && e.node == 2 && e.hits == 1);
    /* Our own source MAC was learned as local; a frame to it is not sent. */
    CHECK(mnet_sw_lookup(sw, me, 3 * S, &e) == 0 && e.node == MNET_LOCAL_NODE);
    frame(f, me, me);
    CHECK(mnet_sw_tx(sw, f, 64, 3 * S, out, MNET_MAX_PEERS, &fl) == 0);

    /* Move: m2 now seen behind node 3 (a service address taken over). */
    frame(f, bc, m2);
    CHECK(mnet_sw_rx(sw, 3, 0, 0x02, f, 64, 4 * S) == 1);
    frame(f, m2, me);
    n = mnet_sw_tx(sw, f, 64, 4 * S, out, MNET_MAX_PEERS, &fl);
    CHECK(n == 1 && out[0] == 3);
    mnet_sw_get_stats(sw, &st);
    CHECK(st.moves == 1 && st.rx_flood == 1);
    /* The entry counts its own move (msgrctl minet shows it per MAC). */
    CHECK(mnet_sw_lookup(sw, m2, 4 * S, &e) == 0 && e.node == 3 && e.moves == 1);
    {
        uint32_t up[2];
        CHECK(mnet_sw_peers(sw, up, 2) == 3 && up[0] == 1 && up[1] == 2); /* 3 up, 2 fit */
        CHECK(mnet_sw_peers(sw, NULL, 0) == 3);
    }

    /* Wrong domain: dropped, not learned. */
    frame(f, me, m1);
    CHECK(mnet_sw_rx(sw, 1, 7, 0, f, 64, 4 * S) == 0);
    CHECK(mnet_sw_lookup(sw, m1, 4 * S, &e) < 0);
    /* Short frame, multicast source. */
    CHECK(mnet_sw_rx(sw, 1, 0, 0, f, 10, 4 * S) == 0);
    frame(f, me, mc);
    CHECK(mnet_sw_rx(sw, 1, 0, 0, f, 64, 4 * S) == 1);
    CHECK(mnet_sw_lookup(sw, mc, 4 * S, &e) < 0);
    mnet_sw_get_stats(sw, &st);
    CHECK(st.rx_wrong_domain == 1 && st.rx_short == 1 && st.rx_bad_src == 1);

    /* m1 behind node 1; node 1 goes down: its entries go at once, floods skip it. */
    frame(f, me, m1);
    CHECK(mnet_sw_rx(sw, 1, 0, 0, f, 64, 5 * S) == 1);
    CHECK(mnet_sw_lookup(sw, m1, 5 * S, &e) == 0 && e.node == 1);
    mnet_sw_peer_down(sw, 1);
    CHECK(mnet_sw_lookup(sw, m1, 5 * S, &e) < 0);
    CHECK(!mnet_sw_peer_is_up(sw, 1));
    frame(f, bc, me);
    n = mnet_sw_tx(sw, f, 64, 5 * S, out, MNET_MAX_PEERS, &fl);
    CHECK(n == 2 && out[0] == 2 && out[1] == 3);

    /* Ageing: m2 last seen at 4 s, ageing 10 s: stale after 14 s. */
    CHECK(mnet_sw_lookup(sw, m2, 14 * S, &e) == 0);
    CHECK(mnet_sw_lookup(sw, m2, 15 * S, &e) < 0);
    frame(f, m2, me);
    n = mnet_sw_tx(sw, f, 64, 15 * S, out, MNET_MAX_PEERS, &fl);
    CHECK(n == 2 && fl); /* stale = unknown: flood */
    int aged = mnet_sw_expire(sw, 15 * S);
    CHECK(aged == 1); /* m2 (me was refreshed at 15 s) */

    /* Table limit 4: fill, then a fifth MAC is refused but the frame still delivered. */
    for (uint32_t i = 100; i < 110; i++) {
        uint8_t m[6];
        mnet_default_mac(i, m);
        frame(f, me, m);
        CHECK(mnet_sw_rx(sw, 2, 0, 0, f, 64, 16 * S) == 1);
    }
    mnet_sw_get_stats(sw, &st);
    CHECK(st.entries == 4 && st.table_full > 0);

    char buf[4096];
    int k = mnet_sw_format(sw, 16 * S, buf, sizeof buf);
    CHECK(k > 0 && (size_t)k < sizeof buf);
    CHECK(strstr(buf, "02:4d:00:00:00:64") != NULL);
    CHECK(strstr(buf, "local") != NULL);
    char tiny[8];
    CHECK(mnet_sw_format(sw, 16 * S, tiny, sizeof tiny) == k); /* snprintf semantics */
    fputs(buf, stdout);
    mnet_sw_destroy(sw);
    if (fails) {
        fprintf(stderr, "%d check(s) failed\n", fails);
        return 1;
    }
    printf("test_minet_sw: OK\n");
    return 0;
}
