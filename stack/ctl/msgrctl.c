/*
 * msgrctl — the Messenger control utility, iproute2 style:
 *   msgrctl [-s SOCKET] [-j] node|bearer|link|name|path|stats|debug|capture|minet ...
 * The daemon executes the command and renders the answer (table or JSON with -j);
 * this tool only carries the words there and prints what comes back.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: msgrctl [-s SOCKET] [-j] OBJECT [COMMAND [ARGS]]\n"
            "  node [show]\n"
            "  bearer [list] | add SPEC | del ID | enable ID | disable ID\n"
            "  link [list] | sec | set tolerance MS [bearer ID]\n"
            "  name [list [PATTERN]]\n"
            "  path [list]\n"
            "  stats\n"
            "  debug [show] | level MODULE|all err|warn|info|debug\n"
            "  capture start FILE [bearer ID] | capture stop\n"
            "  minet [show] | minet stats        (msgrd with [minet]: MAC table, counters)\n"
            "  ha      HA services: FTM role, epoch, policy, registry, decisions, detection bound\n"
            "  proc    supervised processes: state, failures and their evidence, restarts\n"
            "  iop [list]   IOP manager: state of each IOP (RFC 10.7), evidence, counters;\n"
            "               IOPs and nodes known to the FTM\n"
            "  iop configure NAME [FILE] | boot NAME | reset NAME | extract NAME [--surprise]\n"
            "      | insert NAME | clear NAME      (msgrd with [iop NAME] sections)\n"
            "SOCKET defaults to $MSGR_SOCKET, else /run/msgr/msgrd.sock.\n");
}

int main(int argc, char **argv)
{
    const char *sock = getenv("MSGR_SOCKET");
    bool json = false;
    int o;
    while ((o = getopt(argc, argv, "+s:jh")) != -1) {
        switch (o) {
        case 's': sock = optarg; break;
        case 'j': json = true; break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (!sock)
        sock = "/run/msgr/msgrd.sock";
    int n = argc - optind;
    if (n < 1 || n > MIPC_MAX_ARGS) {
        usage();
        return 2;
    }
    static uint8_t buf[MIPC_MAX_MSG];
    mipc_w w;
    mipc_w_init(&w, buf, sizeof buf, MIPC_CTL, 1);
    mipc_put8(&w, json);
    mipc_put8(&w, (uint8_t)n);
    for (int i = optind; i < argc; i++)
        mipc_putstr(&w, argv[i], strlen(argv[i]));
    size_t len = mipc_w_end(&w);
    if (!len) {
        fprintf(stderr, "msgrctl: arguments too long\n");
        return 2;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(sock) >= sizeof sa.sun_path)
        return 2;
    strcpy(sa.sun_path, sock);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        perror("msgrctl: connect");
        return 1;
    }
    /* A bounded wait: a wedged daemon must not wedge scripts that poll it. */
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len) {
        perror("msgrctl: send");
        return 1;
    }
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0) {
            fprintf(stderr, "msgrctl: no answer from the daemon\n");
            return 1;
        }
        if (mipc_msg_op(buf, (size_t)r) != (MIPC_CTL | MIPC_RESP) || mipc_msg_id(buf, (size_t)r) != 1)
            continue; /* not ours (events are not subscribed, but be tolerant) */
        mipc_r rd;
        mipc_r_init(&rd, buf, (size_t)r);
        int32_t st = (int32_t)mipc_get32(&rd);
        if (rd.err)
            return 1;
        fwrite(buf + rd.off, 1, (size_t)r - rd.off, st < 0 ? stderr : stdout);
        if (st < 0) {
            fputc('\n', stderr);
            return 1;
        }
        return 0;
    }
}
