/*
 * store_rep_tcp.c: Nagle's algorithm off on this process's replication
 * connections, for store_rep.c and the environment's watchdog
 * (store_env.c).
 *
 * Why.  Berkeley DB 5.3's replication manager leaves TCP_NODELAY unset
 * on its sockets.  A replica's acknowledgement of a commit then waits in
 * its kernel for the master's delayed ACK of the segment before it, about
 * 40 ms on Linux, and with ack-policy one (or quorum, all) every commit
 * on the master waits that long: 22 writes/s from a subordinate process
 * of the master, 919 writes/s with Nagle off (tests/bench/rep-bench.sh,
 * loopback).  repmgr has no hook for its sockets, so this walks the
 * process's descriptors (/proc/self/fd) and sets TCP_NODELAY on every
 * connected TCP socket whose local port is this site's replication port
 * (the connections other sites made to it) or whose peer is one of the
 * configured peers' ports (the ones it made).  Other sockets of the
 * process are left alone.
 *
 * Cost: a readdir of /proc/self/fd and an fstat per descriptor, once a
 * second and when repmgr reports a new connection.
 */
#include "config.h"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "store_rep_tcp.h"

static unsigned port_of(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *) ss)->sin_port);
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *) ss)->sin6_port);
    return 0;
}

static bool is_replication(int fd, unsigned local_port, const unsigned *peer_ports,
                           size_t peer_count)
{
    struct sockaddr_storage here, there;
    socklen_t len = sizeof(here);
    int type = 0;
    socklen_t tlen = sizeof(type);

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_STREAM
        || getsockname(fd, (struct sockaddr *) &here, &len) < 0
        || (here.ss_family != AF_INET && here.ss_family != AF_INET6))
        return false;
    len = sizeof(there);
    if (getpeername(fd, (struct sockaddr *) &there, &len) < 0)
        return false;           /* a listening socket, or not connected yet */
    if (port_of(&here) == local_port)
        return true;
    for (size_t i = 0; i < peer_count; i++)
        if (port_of(&there) == peer_ports[i])
            return true;
    return false;
}

static void nodelay(int fd)
{
    int on = 0;
    socklen_t len = sizeof(on);

    if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 && on)
        return;
    on = 1;
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

int store_rep_tcp_nodelay(unsigned local_port, const unsigned *peer_ports, size_t peer_count)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    struct stat sb;
    int set = 0;

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(de->d_name, &end, 10);

        if (de->d_name[0] == '.' || *end != '\0' || fd == dirfd(d))
            continue;
        if (fstat((int) fd, &sb) < 0 || !S_ISSOCK(sb.st_mode))
            continue;
        if (is_replication((int) fd, local_port, peer_ports, peer_count)) {
            nodelay((int) fd);
            set++;
        }
    }
    closedir(d);
    return set;
}
