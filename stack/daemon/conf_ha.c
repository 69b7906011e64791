/*
 * conf_ha.c — the [ha] and [exec] sections of msgrd's configuration (README.md, "High
 * availability").  No I/O, no allocation: conf.c's parser calls in here, and so does the
 * fuzz target through it.
 *
 * Why the restart ladder is in [ha] and not per [exec]: back-off, escalation and the
 * restart budget are decisions of the FTM, the one place that counts failures across the
 * cluster (RFC 10.10); a budget kept per process would not stop a correlated failure from
 * restarting everything at once.  What a process chooses is its policy per failure class.
 */
#include <stddef.h>
#include <string.h>

#include "conf.h"

/* "restart" | "stop" | "failover" | "default" -> enum mha_pol (1, 2, 3, 0). */
static int ha_pol(const char *v, unsigned char *out)
{
    static const char *const names[] = {"default", "restart", "stop", "failover"};
    for (unsigned i = 0; i < 4; i++)
        if (!strcmp(v, names[i])) {
            *out = (unsigned char)i;
            return 0;
        }
    return -1;
}

/* ftm_candidates = 2,3: 1..4 distinct node ids, the order in which the FTM's monitor
 * tries them (the first one that is not the lost FTM's node is promoted). */
static int ha_cands(msgrd_conf_ha *h, const char *v)
{
    unsigned long c[4];
    int k = 0;
    const char *p = v;
    for (;;) {
        char t[16];
        size_t n = strcspn(p, ",");
        while (n && *p == ' ')
            p++, n--;
        while (n && p[n - 1] == ' ')
            n--;
        if (k >= 4 || n == 0 || n >= sizeof t)
            return -1; /* empty entry ("2,,3", "2,"), more than 4, or too long */
        memcpy(t, p, n);
        t[n] = 0;
        if (msgrd_conf_num(t, 1, 0xFFFFFFFEul, &c[k]) < 0)
            return -1;
        for (int i = 0; i < k; i++)
            if (c[i] == c[k])
                return -1; /* a node listed twice */
        k++;
        p += strcspn(p, ",");
        if (!*p)
            break;
        p++;
    }
    memcpy(h->ftm_cand, c, sizeof c[0] * (size_t)k);
    h->nftm_cand = k;
    return 0;
}

const char *msgrd_conf_ha_expect(const char *k)
{
    if (!strcmp(k, "ftm"))
        return "active, standby or off";
    if (!strcmp(k, "watch_ftm"))
        return "yes or no";
    if (!strcmp(k, "ftm_candidates"))
        return "1 to 4 distinct node ids, comma-separated";
    return "";
}

int msgrd_conf_ha_key(msgrd_conf_ha *h, const char *k, const char *v)
{
    if (!strcmp(k, "watch_ftm"))
        return msgrd_conf_bool(v, &h->watch_ftm);
    if (!strcmp(k, "ftm_candidates"))
        return ha_cands(h, v);
    if (!strcmp(k, "ftm")) {
        if (!strcmp(v, "active"))
            h->ftm = MSGRD_FTM_ACTIVE;
        else if (!strcmp(v, "standby"))
            h->ftm = MSGRD_FTM_STANDBY;
        else if (!strcmp(v, "off"))
            h->ftm = MSGRD_FTM_OFF;
        else
            return -1;
        return 0;
    }
    static const struct {
        const char *key;
        size_t off;
        unsigned long min, max;
    } keys[] = {
        {"ftm_node", offsetof(msgrd_conf_ha, ftm_node), 0, 0xFFFFFFFEul},
        {"epoch", offsetof(msgrd_conf_ha, epoch), 1, 0xFFFFFFFFul},
        {"rank", offsetof(msgrd_conf_ha, rank), 0, 255},
        {"hb_period_ms", offsetof(msgrd_conf_ha, hb_period_ms), 10, 60000},
        {"hb_threshold", offsetof(msgrd_conf_ha, hb_threshold), 1, 100},
        {"start_grace_ms", offsetof(msgrd_conf_ha, start_grace_ms), 1, 600000},
        {"max_restarts", offsetof(msgrd_conf_ha, max_restarts), 1, 1000},
        {"restart_window_ms", offsetof(msgrd_conf_ha, restart_window_ms), 1, 86400000ul},
        {"max_failovers", offsetof(msgrd_conf_ha, max_failovers), 1, 4},
        {"backoff_base_ms", offsetof(msgrd_conf_ha, backoff_base_ms), 1, 3600000ul},
        {"backoff_cap_ms", offsetof(msgrd_conf_ha, backoff_cap_ms), 1, 3600000ul},
        {"budget", offsetof(msgrd_conf_ha, budget), 1, 64},
        {"budget_window_ms", offsetof(msgrd_conf_ha, budget_window_ms), 1, 86400000ul},
        {"recover_timeout_ms", offsetof(msgrd_conf_ha, recover_timeout_ms), 1, 3600000ul},
        {"restart_clean_exit", offsetof(msgrd_conf_ha, restart_clean_exit), 0, 1},
        {"ckpt_replica", offsetof(msgrd_conf_ha, ckpt_replica), 0, 0xFFFFFFFEul},
        {"ckpt_node", offsetof(msgrd_conf_ha, ckpt_node), 0, 0xFFFFFFFEul},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(k, keys[i].key))
            return msgrd_conf_num(v, keys[i].min, keys[i].max,
                          (unsigned long *)((char *)h + keys[i].off));
    return -1;
}

int msgrd_conf_exec_begin(msgrd_conf_ha *h)
{
    if (h->nexec >= MSGRD_CONF_MAX_EXEC)
        return -1;
    memset(&h->exec[h->nexec], 0, sizeof h->exec[0]);
    h->nexec++;
    return 0;
}

int msgrd_conf_exec_key(msgrd_conf_ha *h, const char *k, const char *v)
{
    if (h->nexec <= 0)
        return -1;
    msgrd_conf_exec *x = &h->exec[h->nexec - 1];
    if (!strcmp(k, "name"))
        return msgrd_conf_str(x->name, sizeof x->name, v, 1);
    if (!strcmp(k, "command"))
        return msgrd_conf_str(x->command, sizeof x->command, v, 1);
    if (!strcmp(k, "devices"))
        return msgrd_conf_str(x->devices, sizeof x->devices, v, 0);
    if (!strcmp(k, "entity"))
        return msgrd_conf_num(v, 0x100, 0xFFFFFFFEul, &x->entity);
    if (!strcmp(k, "home"))
        return msgrd_conf_num(v, 0, 0xFFFFFFFEul, &x->home);
    if (!strcmp(k, "standby"))
        return msgrd_conf_num(v, 0, 0xFFFFFFFEul, &x->standby);
    if (!strcmp(k, "heartbeat")) {
        if (strcmp(v, "on") && strcmp(v, "off"))
            return -1;
        x->no_heartbeat = !strcmp(v, "off");
        return 0;
    }
    if (!strcmp(k, "on_exit") || !strcmp(k, "on-exit"))
        return ha_pol(v, &x->on_exit);
    if (!strcmp(k, "on_crash") || !strcmp(k, "on-crash"))
        return ha_pol(v, &x->on_crash);
    if (!strcmp(k, "on_hang") || !strcmp(k, "on-hang"))
        return ha_pol(v, &x->on_hang);
    return -1;
}

int msgrd_conf_exec_end(const msgrd_conf_ha *h)
{
    if (h->nexec <= 0)
        return 0;
    const msgrd_conf_exec *x = &h->exec[h->nexec - 1];
    if (!x->name[0] || !x->command[0])
        return -1;
    /* Two processes with one name or one entity id could not be told apart. */
    unsigned long id = x->entity ? x->entity : 0x100ul + (unsigned long)(h->nexec - 1);
    for (int i = 0; i < h->nexec - 1; i++) {
        const msgrd_conf_exec *y = &h->exec[i];
        unsigned long yid = y->entity ? y->entity : 0x100ul + (unsigned long)i;
        if (!strcmp(y->name, x->name) || yid == id)
            return -1;
    }
    return 0;
}
