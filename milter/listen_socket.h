/*
 * listen_socket.h: the milter's listening socket (milter.socket), opened
 * through libmilter before privileges are dropped, and the policy
 * service's (policy-service.socket), opened the same way without it.
 *
 * Forms: "unix:/path" (also "local:/path"), "inet:port@host",
 * "inet6:port@host" (host optional).  A unix socket gets socket-mode and
 * socket-group; a stale socket file is removed only when nothing answers
 * a connect() on it, so a second instance cannot steal a live socket.
 */
#ifndef LISTEN_SOCKET_H
#define LISTEN_SOCKET_H

#include <stdbool.h>
#include <sys/types.h>
#include "sup_err.h"

#define LISTEN_PATH_MAX 108     /* sizeof(sockaddr_un.sun_path) */

enum listen_family { LISTEN_UNIX, LISTEN_INET, LISTEN_INET6 };

struct listen_spec {
    enum listen_family family;
    char path[LISTEN_PATH_MAX];         /* LISTEN_UNIX only */
    unsigned port;                      /* LISTEN_INET* only */
};

/* Check the syntax of spec; 0 or -1 with err naming what is wrong. */
int listen_parse(const char *spec, struct listen_spec *out, SUP_ERR *err);
/* The same, the messages naming the config key (e.g. "policy-service.socket"). */
int listen_parse_key(const char *key, const char *spec, struct listen_spec *out, SUP_ERR *err);

/* Unix socket path that a live process answers on: true.  Removes a stale
 * socket file (nothing answers); -1 on error (not a socket, no access). */
int listen_claim_path(const char *path, SUP_ERR *err);

/* Register spec with libmilter and open it (smfi_register must have run);
 * for a unix socket also set mode and group (group NULL = leave). */
int listen_open(const char *spec, mode_t mode, const char *group, SUP_ERR *err);

/*
 * Open spec without libmilter (the policy service's socket): stale-socket
 * handling, mode and group as listen_open, key naming the config key in
 * errors.  *fd is a listening, blocking, close-on-exec socket.
 */
int listen_bind(const char *key, const char *spec, mode_t mode, const char *group, int *fd,
                SUP_ERR *err);

/* Connect once to spec and hang up: wakes libmilter's accept loop so that
 * smfi_stop() takes effect now instead of at its next poll timeout. */
void listen_poke(const char *spec);

/* Remove the unix socket file of spec at exit (nothing for inet). */
void listen_remove(const char *spec);

#endif
