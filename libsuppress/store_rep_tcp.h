/*
 * store_rep_tcp.h: Nagle off on the replication manager's sockets
 * (store_rep_tcp.c); for store_rep.c only.
 */
#ifndef STORE_REP_TCP_H
#define STORE_REP_TCP_H

#include <stdbool.h>
#include <stddef.h>

/* TCP_NODELAY on every connected TCP socket of this process with local
 * port local_port or a peer port among peer_ports: how many there are,
 * or -1 when /proc/self/fd cannot be read. */
int store_rep_tcp_nodelay(unsigned local_port, const unsigned *peer_ports, size_t peer_count);

#endif
