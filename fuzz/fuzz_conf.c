/*
 * fuzz_conf.c — msgrd's configuration file parser (msgrd_conf_parse, stack/daemon/conf.c).
 * Input: the file's bytes.
 *
 * Oracles: no sanitizer report; parsing is deterministic (the same bytes twice give the
 * same result and the same conf); a rejected file says why ("LINE: reason" with a line
 * number inside the input); an accepted file leaves every value in its documented range
 * (node_id <= 0xFFFFFFFE, tolerance <= 30000, socket_mode <= 0777, security one of the
 * three policies), every string NUL-terminated inside its field, at most
 * MSGRD_CONF_MAX_BEARERS bearer specs, each shorter than a line, non-empty and free of
 * newlines; and every bearer spec built from a [bearer] "type" is "type:k=v,...";
 * the [minet] section's values in their ranges (MTU 576..65000, domain <= 0xFFFF, a
 * unicast non-zero MAC, at most MSGRD_CONF_MAX_MINET_ADDRS addresses, a TAP name without
 * '/' or blanks), whether or not the file was accepted; likewise [ha] and [exec]
 * (conf_ha.c) in their ranges, and in an accepted file every [exec] has a name and a
 * command and no two share a name.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fz.h"

static bool terminated(const char *s, size_t cap) { return memchr(s, 0, cap) != NULL; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    msgrd_conf a, b;
    char ea[256] = "", eb[256] = "";
    msgrd_conf_init(&a);
    msgrd_conf_init(&b);
    int ra = msgrd_conf_parse(&a, (const char *)data, size, ea, sizeof ea);
    int rb = msgrd_conf_parse(&b, (const char *)data, size, eb, sizeof eb);
    FZ_CHECK(ra == rb && (ra == 0 || ra == -1));
    FZ_CHECK(strcmp(ea, eb) == 0);
    if (ra < 0) {
        /* "N: reason", N a line of the input (lines = newlines + 1 at most) */
        char *e;
        unsigned long lno = strtoul(ea, &e, 10);
        size_t lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += data[i] == '\n';
        FZ_CHECK(e != ea && e[0] == ':' && e[1] == ' ' && e[2] != 0);
        FZ_CHECK(lno >= 1 && lno <= lines);
    }
    FZ_CHECK(a.nbearers == b.nbearers && a.nbearers >= 0 && a.nbearers <= MSGRD_CONF_MAX_BEARERS);
    for (int i = 0; i < a.nbearers; i++) {
        FZ_CHECK(a.bearers[i] && strcmp(a.bearers[i], b.bearers[i]) == 0);
        size_t l = strlen(a.bearers[i]);
        FZ_CHECK(l > 0 && l < MSGRD_CONF_MAX_LINE && !strchr(a.bearers[i], '\n'));
    }
    FZ_CHECK(terminated(a.socket, sizeof a.socket) && terminated(a.pidfile, sizeof a.pidfile) &&
             terminated(a.owner, sizeof a.owner) && terminated(a.group, sizeof a.group) &&
             terminated(a.log, sizeof a.log) && terminated(a.security, sizeof a.security) &&
             terminated(a.keyfile, sizeof a.keyfile) && terminated(a.user, sizeof a.user) &&
             terminated(a.run_group, sizeof a.run_group) &&
             terminated(a.keep_caps, sizeof a.keep_caps));
    /* [minet] (conf_minet.c): a value is stored only once checked, so the ranges hold
     * even in a rejected file. */
    const msgrd_conf_minet *m = &a.minet;
    FZ_CHECK(memcmp(m, &b.minet, sizeof *m) == 0);
    FZ_CHECK((m->enabled == 0 || m->enabled == 1) && (m->offload == 0 || m->offload == 1));
    FZ_CHECK(terminated(m->tap, sizeof m->tap) && !strchr(m->tap, '/') && !strchr(m->tap, ' '));
    FZ_CHECK(!m->mtu || (m->mtu >= 576 && m->mtu <= 65000));
    FZ_CHECK(m->domain <= 0xFFFF && m->ageing <= 86400 && m->max_entries <= 1048576);
    FZ_CHECK(!m->max_entries || m->max_entries >= 16);
    FZ_CHECK(!m->mac_set || (!(m->mac[0] & 1) && (m->mac[0] | m->mac[1] | m->mac[2] | m->mac[3] |
                                                     m->mac[4] | m->mac[5])));
    FZ_CHECK(m->naddrs >= 0 && m->naddrs <= MSGRD_CONF_MAX_MINET_ADDRS);
    for (int i = 0; i < m->naddrs; i++)
        FZ_CHECK(m->addr[i][0] && terminated(m->addr[i], sizeof m->addr[i]));
    /* [ha] and [exec] (conf_ha.c): a value is stored only once checked, so the ranges
     * hold even in a rejected file; an accepted one has complete, distinct [exec]s. */
    const msgrd_conf_ha *ha = &a.ha;
    FZ_CHECK(memcmp(ha, &b.ha, sizeof *ha) == 0);
    FZ_CHECK(ha->ftm >= MSGRD_FTM_UNSET && ha->ftm <= MSGRD_FTM_ACTIVE);
    FZ_CHECK(ha->nexec >= 0 && ha->nexec <= MSGRD_CONF_MAX_EXEC);
    FZ_CHECK(!ha->hb_period_ms || (ha->hb_period_ms >= 10 && ha->hb_period_ms <= 60000));
    FZ_CHECK(ha->hb_threshold <= 100 && ha->rank <= 255 && ha->budget <= 64);
    FZ_CHECK(ha->max_failovers <= 4 && ha->restart_clean_exit <= 1 && ha->ftm_node <= 0xFFFFFFFEul);
    for (int i = 0; i < ha->nexec; i++) {
        const msgrd_conf_exec *x = &ha->exec[i];
        FZ_CHECK(terminated(x->name, sizeof x->name) && terminated(x->command, sizeof x->command) &&
                 terminated(x->devices, sizeof x->devices));
        FZ_CHECK(x->on_exit <= 3 && x->on_crash <= 3 && x->on_hang <= 3 && x->no_heartbeat <= 1);
        FZ_CHECK(!x->entity || (x->entity >= 0x100 && x->entity <= 0xFFFFFFFEul));
        if (ra == 0) {
            FZ_CHECK(x->name[0] && x->command[0]);
            for (int j = 0; j < i; j++)
                FZ_CHECK(strcmp(x->name, ha->exec[j].name) != 0);
        }
    }
    if (ra == 0) {
        FZ_CHECK(a.node_id <= 0xFFFFFFFEul && a.tolerance <= 30000 && a.mode <= 0777);
        FZ_CHECK(a.domain <= 0xFFFFFFFFul && a.socket[0]);
        FZ_CHECK(!a.security[0] || !strcmp(a.security, "plain") ||
                 !strcmp(a.security, "transition") || !strcmp(a.security, "required"));
        FZ_CHECK(memcmp(&a, &b, offsetof(msgrd_conf, bearers)) == 0);
        FZ_CHECK(strcmp(a.log, b.log) == 0 && strcmp(a.keyfile, b.keyfile) == 0);
        /* keep_caps: only the names priv.c knows (a typo fails at start-up) */
        FZ_CHECK(strspn(a.keep_caps, "abcdefghijklmnopqrstuvwxyz_,") == strlen(a.keep_caps));
        FZ_CHECK(strcmp(a.user, b.user) == 0 && strcmp(a.keep_caps, b.keep_caps) == 0);
    }
    msgrd_conf_free(&a);
    msgrd_conf_free(&b);
    return 0;
}
