/*
 * conf_iop.c — the [iop NAME] sections of msgrd's configuration: the IOPs that this
 * host's IOP manager (entity 3, ha_iop.c) configures, boots, resets and hot-swaps
 * (README.md, "IOP manager").  No I/O, no allocation: conf.c's parser calls in here, and
 * the fuzz target through it.
 *
 * Why a section per IOP and not keys of [ha]: an IOP is a board in a slot with its own
 * node id, configuration and standby, and the operator names it (`msgrctl iop boot
 * NAME`), so the name is the section's.
 */
#include <string.h>

#include "conf.h"

/* A name goes into msgrctl words, file names and shim names: keep it to a safe set, and
 * not one that reads as an option or a hidden file. */
static int iop_name_ok(const char *v, size_t cap)
{
    return msgrd_conf_word(v, cap) && v[0] != '-' && v[0] != '.';
}

int msgrd_conf_iop_begin(msgrd_conf_ha *h, const char *name, int line)
{
    if (h->niop >= MSGRD_CONF_MAX_IOP || !iop_name_ok(name, sizeof h->iop[0].name))
        return -1;
    for (int i = 0; i < h->niop; i++)
        if (!strcmp(h->iop[i].name, name))
            return -1;
    msgrd_conf_iop *x = &h->iop[h->niop];
    memset(x, 0, sizeof *x);
    memcpy(x->name, name, strlen(name) + 1);
    x->slot = (unsigned long)-1; /* required: "unset" is outside 0..255 */
    x->line = line;
    h->niop++;
    return 0;
}

int msgrd_conf_iop_key(msgrd_conf_ha *h, const char *k, const char *v)
{
    if (h->niop <= 0)
        return -1;
    msgrd_conf_iop *x = &h->iop[h->niop - 1];
    if (!strcmp(k, "node"))
        return msgrd_conf_num(v, 1, 0xFFFFFFFEul, &x->node);
    if (!strcmp(k, "slot"))
        return msgrd_conf_num(v, 0, 255, &x->slot);
    if (!strcmp(k, "config"))
        return msgrd_conf_str(x->config, sizeof x->config, v, 1);
    if (!strcmp(k, "msgrd"))
        return msgrd_conf_str(x->msgrd, sizeof x->msgrd, v, 1);
    if (!strcmp(k, "socket"))
        return msgrd_conf_str(x->socket, sizeof x->socket, v, 1);
    if (!strcmp(k, "shim"))
        return iop_name_ok(v, sizeof x->shim) ? msgrd_conf_str(x->shim, sizeof x->shim, v, 1) : -1;
    if (!strcmp(k, "shim_sock"))
        return msgrd_conf_str(x->shim_sock, sizeof x->shim_sock, v, 1);
    if (!strcmp(k, "standby"))
        return iop_name_ok(v, sizeof x->standby) ? msgrd_conf_str(x->standby, sizeof x->standby, v, 1)
                                                 : -1;
    if (!strcmp(k, "drain_ms"))
        return msgrd_conf_num(v, 10, 600000, &x->drain_ms);
    if (!strcmp(k, "boot_ms"))
        return msgrd_conf_num(v, 100, 600000, &x->boot_ms);
    if (!strcmp(k, "autoboot"))
        return msgrd_conf_bool(v, &x->autoboot);
    return -1;
}

int msgrd_conf_iop_end(const msgrd_conf_ha *h)
{
    if (h->niop <= 0)
        return 0;
    const msgrd_conf_iop *x = &h->iop[h->niop - 1];
    if (!x->node || x->slot > 255)
        return -1;
    /* Two IOPs in one slot, or with one node id, could not be told apart. */
    for (int i = 0; i < h->niop - 1; i++)
        if (h->iop[i].node == x->node || h->iop[i].slot == x->slot)
            return -1;
    return 0;
}

int msgrd_conf_iop_check(const msgrd_conf_ha *h)
{
    for (int i = 0; i < h->niop; i++) {
        const msgrd_conf_iop *x = &h->iop[i];
        if (!x->standby[0])
            continue;
        int found = -1;
        for (int j = 0; j < h->niop; j++)
            if (!strcmp(h->iop[j].name, x->standby))
                found = j;
        if (found < 0 || found == i)
            return x->line > 0 ? x->line : 1;
    }
    return 0;
}
