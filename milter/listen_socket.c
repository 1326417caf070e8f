/*
 * listen_socket.c: parse milter.socket, open it with libmilter, and give a
 * unix socket its mode and group (see listen_socket.h).
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "listen_socket.h"
#include "log.h"

static int parse_port(const char *key, const char *spec, const char *text, unsigned *port,
                      SUP_ERR *err)
{
    char *end;
    unsigned long value;

    errno = 0;
    value = strtoul(text, &end, 10);
    if (end == text || errno != 0 || value == 0 || value > 65535
        || (*end != '\0' && *end != '@'))
        return sup_err_set(err, SUP_ERR_CONFIG,
                           "%s \"%s\": bad port (want inet:PORT@HOST, PORT 1-65535)",
                           key, spec);
    if (*end == '@' && end[1] == '\0')
        return sup_err_set(err, SUP_ERR_CONFIG, "%s \"%s\": empty host after @", key, spec);
    *port = (unsigned) value;
    return 0;
}

int listen_parse(const char *spec, struct listen_spec *out, SUP_ERR *err)
{
    return listen_parse_key("milter.socket", spec, out, err);
}

int listen_parse_key(const char *key, const char *spec, struct listen_spec *out, SUP_ERR *err)
{
    const char *rest;

    memset(out, 0, sizeof(*out));
    if (spec == NULL || *spec == '\0')
        return sup_err_set(err, SUP_ERR_CONFIG, "%s is empty", key);
    if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
        rest = strchr(spec, ':') + 1;
        out->family = LISTEN_UNIX;
        if (rest[0] != '/')
            return sup_err_set(err, SUP_ERR_CONFIG,
                               "%s \"%s\": the unix socket path must be absolute", key,
                               spec);
        if (strlen(rest) >= sizeof(out->path))
            return sup_err_set(err, SUP_ERR_CONFIG,
                               "%s \"%s\": path longer than %zu bytes", key, spec,
                               sizeof(out->path) - 1);
        strcpy(out->path, rest);
        return 0;
    }
    if (strncmp(spec, "inet:", 5) == 0) {
        out->family = LISTEN_INET;
        return parse_port(key, spec, spec + 5, &out->port, err);
    }
    if (strncmp(spec, "inet6:", 6) == 0) {
        out->family = LISTEN_INET6;
        return parse_port(key, spec, spec + 6, &out->port, err);
    }
    return sup_err_set(err, SUP_ERR_CONFIG,
                       "%s \"%s\": want unix:/path, inet:port@host or inet6:port@host",
                       key, spec);
}

/* sockaddr_un for path; false if the path does not fit. */
static bool fill_sockaddr_un(struct sockaddr_un *sun, const char *path)
{
    size_t len = strlen(path);

    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (len >= sizeof(sun->sun_path))
        return false;
    memcpy(sun->sun_path, path, len + 1);
    return true;
}

/*
 * TCP_NODELAY on libmilter's listening TCP socket, which Linux hands down
 * to every connection it accepts.  At end of message the milter answers
 * with two small writes (the new sender, then "continue"); with Nagle the
 * second waits for the MTA to acknowledge the first, and the MTA, which
 * has nothing to send, delays that ACK ~40 ms: a signed message over TCP
 * took 40 ms longer (tests/bench/postfix-bench.sh).  libmilter keeps its
 * descriptor to itself, so it is found among ours: every listening TCP
 * socket gets it (the policy service's too, which does no harm).  Best
 * effort: without it mail only goes slower.
 */
static void no_delay_on_listener(void)
{
    int one = 1;

    for (int fd = 3; fd < 1024; fd++) {
        int listening = 0, type = 0;
        socklen_t len = sizeof(int);
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);

        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening
            || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM
            || getsockname(fd, (struct sockaddr *) &ss, &sslen) < 0
            || (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
            continue;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
            log_debug("TCP_NODELAY on a listening socket: %s", strerror(errno));
    }
}

/* Does a process accept connections on the unix socket at path? */
static int socket_answers(const char *path, SUP_ERR *err)
{
    struct sockaddr_un sun;
    int fd, rc, saved;

    if (!fill_sockaddr_un(&sun, path))
        return sup_err_set(err, SUP_ERR_CONFIG, "socket path %s is too long", path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return sup_err_set(err, SUP_ERR_IO, "socket(): %s", strerror(errno));
    rc = connect(fd, (struct sockaddr *) &sun, sizeof(sun));
    saved = errno;
    close(fd);
    if (rc == 0)
        return 1;
    if (saved == ECONNREFUSED)
        return 0;
    return sup_err_set(err, saved == EACCES ? SUP_ERR_NOPERM : SUP_ERR_IO,
                       "checking socket %s: connect: %s", path, strerror(saved));
}

int listen_claim_path(const char *path, SUP_ERR *err)
{
    struct stat sb;
    int answers;

    if (lstat(path, &sb) < 0) {
        if (errno == ENOENT)
            return 0;
        return sup_err_set(err, SUP_ERR_IO, "socket %s: %s", path, strerror(errno));
    }
    if (!S_ISSOCK(sb.st_mode))
        return sup_err_set(err, SUP_ERR_CONFIG,
                           "socket %s: the path exists and is not a socket; not removing it", path);
    if ((answers = socket_answers(path, err)) < 0)
        return -1;
    if (answers)
        return sup_err_set(err, SUP_ERR_TEMP,
                           "socket %s: another process is listening on it "
                           "(is milter-suppress already running?); refusing to start", path);
    if (unlink(path) < 0)
        return sup_err_set(err, SUP_ERR_IO, "removing stale socket %s: %s", path, strerror(errno));
    log_info("removed stale socket %s (nothing was listening)", path);
    return 0;
}

static int fix_unix_socket(const char *key, const char *path, mode_t mode, const char *group,
                           SUP_ERR *err)
{
    if (chmod(path, mode) < 0)
        return sup_err_set(err, SUP_ERR_IO, "chmod %04o %s: %s", (unsigned) mode, path,
                           strerror(errno));
    if (group != NULL && *group != '\0') {
        struct group *gr = getgrnam(group);

        if (gr == NULL)
            return sup_err_set(err, SUP_ERR_CONFIG, "%s-group \"%s\": no such group",
                               key, group);
        if (chown(path, (uid_t) -1, gr->gr_gid) < 0)
            return sup_err_set(err, SUP_ERR_IO, "chgrp %s %s: %s", group, path, strerror(errno));
    }
    return 0;
}

int listen_open(const char *spec, mode_t mode, const char *group, SUP_ERR *err)
{
    /* libmilter keeps the pointer it is given; keep the copy for good. */
    static char *conn;
    struct listen_spec ls;
    mode_t old_umask;
    int rc;

    if (listen_parse(spec, &ls, err) < 0)
        return -1;
    if (ls.family == LISTEN_UNIX && listen_claim_path(ls.path, err) < 0)
        return -1;
    free(conn);
    if ((conn = strdup(spec)) == NULL)
        return sup_err_set(err, SUP_ERR_IO, "out of memory");
    if (smfi_setconn(conn) != MI_SUCCESS)
        return sup_err_set(err, SUP_ERR_CONFIG, "milter.socket \"%s\": rejected by libmilter",
                           spec);
    /* Create the socket private, then open it up to exactly `mode`. */
    old_umask = umask(0177);
    rc = smfi_opensocket(false);
    umask(old_umask);
    if (rc != MI_SUCCESS)
        return sup_err_set(err, SUP_ERR_IO,
                           "cannot listen on %s (address in use, or no permission?)", spec);
    if (ls.family == LISTEN_UNIX)
        return fix_unix_socket("milter.socket", ls.path, mode, group, err);
    no_delay_on_listener();
    return 0;
}

/* Bind and listen on a unix socket created private (then opened up to
 * mode by the caller); fd or -1 + err. */
static int bind_unix(const char *key, const struct listen_spec *ls, SUP_ERR *err)
{
    struct sockaddr_un sun;
    mode_t old_umask;
    int fd, rc;

    if (!fill_sockaddr_un(&sun, ls->path))
        return sup_err_set(err, SUP_ERR_CONFIG, "%s: path %s is too long", key, ls->path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return sup_err_set(err, SUP_ERR_IO, "socket(): %s", strerror(errno));
    old_umask = umask(0177);
    rc = bind(fd, (struct sockaddr *) &sun, sizeof(sun));
    umask(old_umask);
    if (rc < 0) {
        sup_err_set(err, SUP_ERR_IO, "%s: cannot bind %s: %s", key, ls->path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int bind_inet(const char *key, const char *spec, const struct listen_spec *ls,
                     SUP_ERR *err)
{
    struct addrinfo hints, *res = NULL, *ai;
    const char *at = strchr(spec, '@');
    char port[16];
    int fd = -1, one = 1, rc, saved = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = ls->family == LISTEN_INET6 ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(port, sizeof(port), "%u", ls->port);
    if ((rc = getaddrinfo(at != NULL ? at + 1 : NULL, port, &hints, &res)) != 0)
        return sup_err_set(err, SUP_ERR_CONFIG, "%s \"%s\": %s", key, spec, gai_strerror(rc));
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return sup_err_set(err, SUP_ERR_IO, "%s: cannot bind %s: %s", key, spec,
                           strerror(saved));
    return fd;
}

int listen_bind(const char *key, const char *spec, mode_t mode, const char *group, int *fd,
                SUP_ERR *err)
{
    struct listen_spec ls;
    int s;

    *fd = -1;
    if (listen_parse_key(key, spec, &ls, err) < 0)
        return -1;
    if (ls.family == LISTEN_UNIX && listen_claim_path(ls.path, err) < 0)
        return -1;
    s = ls.family == LISTEN_UNIX ? bind_unix(key, &ls, err) : bind_inet(key, spec, &ls, err);
    if (s < 0)
        return -1;
    if (listen(s, SOMAXCONN) < 0) {
        sup_err_set(err, SUP_ERR_IO, "%s: listen on %s: %s", key, spec, strerror(errno));
        close(s);
        listen_remove(spec);
        return -1;
    }
    if (ls.family == LISTEN_UNIX && fix_unix_socket(key, ls.path, mode, group, err) < 0) {
        close(s);
        listen_remove(spec);
        return -1;
    }
    *fd = s;
    return 0;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sun;
    int fd;

    if (!fill_sockaddr_un(&sun, path)
        || (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A listener bound to the wildcard address is reached on loopback. */
static const char *reachable_host(const char *host, enum listen_family family)
{
    if (host == NULL || *host == '\0' || strcmp(host, "0.0.0.0") == 0
        || strcmp(host, "::") == 0 || strcmp(host, "*") == 0)
        return family == LISTEN_INET6 ? "::1" : "127.0.0.1";
    return host;
}

static int connect_inet(const char *spec, const struct listen_spec *ls)
{
    struct addrinfo hints, *res = NULL, *ai;
    const char *at = strchr(spec, '@');
    char port[16];
    int fd = -1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = ls->family == LISTEN_INET6 ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%u", ls->port);
    if (getaddrinfo(reachable_host(at != NULL ? at + 1 : NULL, ls->family), port, &hints,
                    &res) != 0)
        return -1;
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

void listen_poke(const char *spec)
{
    struct listen_spec ls;
    int fd;

    if (listen_parse(spec, &ls, NULL) < 0)
        return;
    fd = ls.family == LISTEN_UNIX ? connect_unix(ls.path) : connect_inet(spec, &ls);
    if (fd >= 0)
        close(fd);
}

void listen_remove(const char *spec)
{
    struct listen_spec ls;
    struct stat sb;

    if (listen_parse(spec, &ls, NULL) < 0 || ls.family != LISTEN_UNIX)
        return;
    if (lstat(ls.path, &sb) == 0 && S_ISSOCK(sb.st_mode) && unlink(ls.path) < 0)
        log_debug("removing socket %s: %s", ls.path, strerror(errno));
}
