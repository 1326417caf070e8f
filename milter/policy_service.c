/*
 * policy_service.c: Postfix's policy delegation protocol on
 * policy-service.socket (see policy_service.h), for sites that prefer
 * "check_policy_service" in smtpd_recipient_restrictions to a milter.
 *
 * Why one event-loop thread: smtpd keeps a policy connection open across
 * SMTP sessions and mostly leaves it idle, so a thread per connection
 * would be hundreds of threads blocked in read().  Instead one thread
 * poll()s the listening socket and every connection (all non-blocking,
 * each with its own input and output buffer) and answers each complete
 * request at once.  That never stalls the others: the only work per
 * request is verdict_check(), one B-tree read that does not wait on locks
 * (store_lookup reads uncommitted) plus an atomic add, and the rare
 * rejection only queues a record for the stats writer.  Connections are
 * bounded (POLICY_CONN_MAX); one over the bound is accepted, logged and
 * closed, so smtpd gets a clear error instead of a hanging connect.
 *
 * Two clocks bound what a connection can hold.  One waiting between
 * requests longer than policy-service.idle-timeout is closed (smtpd
 * closes its own after smtpd_policy_service_max_idle, 300 s, so the
 * default of 10 minutes only catches clients that went away without a
 * word).  One that starts a request and does not finish it within
 * policy-service.request-timeout is closed too (smtpd writes a request in
 * one go), so a slow trickle of bytes cannot keep a connection, and one
 * of the POLICY_CONN_MAX places, forever.  poll() sleeps until the
 * nearest deadline.
 *
 * The configuration is taken per request (live_conf), so a SIGHUP applies
 * to connections already open; the socket itself needs a restart.
 * Malformed input (policy_proto.h) is logged with what was wrong and its
 * connection closed: smtpd then answers per its default_action.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "listen_socket.h"
#include "live_conf.h"
#include "tenant.h"
#include "log.h"
#include "policy_service.h"
#include "verdict.h"

/* Replies waiting for a slow reader; no request is parsed beyond this. */
#define OUT_BUF_SIZE (8 * POLICY_REPLY_MAX)
/* Input: one request at most, plus a byte to see it is too long. */
#define IN_BUF_MAX (POLICY_REQUEST_MAX + 1)
#define IN_BUF_START 4096

struct conn {
    int fd;
    unsigned long serial;       /* names the connection in the log */
    long long last_io_ms;       /* monotonic: the last byte read or written */
    long long request_ms;       /* monotonic: first byte of the unfinished request */
    char *in;
    size_t in_len, in_cap;
    char out[OUT_BUF_SIZE];
    size_t out_len;
};

static int listen_fd = -1;
static char *listen_spec;
static int wake_pipe[2] = { -1, -1 };
static pthread_t loop_thread;
static bool loop_running;
static struct conn *conns[POLICY_CONN_MAX];
static size_t conn_count;
static unsigned long conn_serial;

size_t policy_service_answer(const struct policy_request *req, char *out, size_t outlen)
{
    char addr[ADDR_MAX + 1];
    char sender[STORE_ACTOR_MAX];
    char visible[REPLY_TEXT_MAX + 1];
    char tenant[STORE_TENANT_MAX];
    struct verdict_request vreq;
    struct verdict v;
    struct live_conf *ref;
    SUP_ERR err;
    size_t n;

    /* Only RCPT names a recipient to refuse; anything else is not ours. */
    if (strcasecmp(req->protocol_state, "RCPT") != 0)
        return policy_format_action(NULL, NULL, NULL, out, outlen);
    memset(&vreq, 0, sizeof(vreq));
    sup_err_clear(&err);
    if (addr_normalize(req->recipient, addr, sizeof(addr), &err) == 0) {
        vreq.addr = addr;
    } else {
        log_debug("policy: recipient not checked: %s", err.text);
    }
    verdict_sender(req->sender, sender, sizeof(sender), NULL, 0);
    vreq.sender = sender;
    vreq.client = req->client_address[0] != '\0' ? req->client_address : "unknown";
    vreq.via = STORE_VIA_POLICY;
    ref = live_conf_acquire();
    /* The policy protocol has no milter macros: with tenant = macro:NAME
     * this door knows no tenant and looks up the global scope only. */
    if (tenant_of(&live_conf_get(ref)->tenant, sender, req->sasl_username, NULL, tenant))
        vreq.tenant = tenant;
    verdict_check(&live_conf_get(ref)->milter, &vreq, time(NULL), &v);
    if (v.action == VERDICT_REJECT || v.action == VERDICT_TEMPFAIL) {
        reply_visible(v.text, visible, sizeof(visible));
        n = policy_format_action(v.code, v.xcode, visible, out, outlen);
    } else {
        n = policy_format_action(NULL, NULL, NULL, out, outlen);
    }
    live_conf_release(ref);         /* v.code and v.xcode may point into it */
    return n;
}

/* ------------------------------------------------------------ connections */

/* Milliseconds on a clock that does not jump with the date. */
static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timeouts {
    long long idle_ms;          /* policy-service.idle-timeout */
    long long request_ms;       /* policy-service.request-timeout */
};

/* The timeouts now (a SIGHUP changes them for open connections too). */
static struct timeouts current_timeouts(void)
{
    struct live_conf *ref = live_conf_acquire();
    const struct policy_service_config *ps = &live_conf_get(ref)->policy_service;
    struct timeouts t = { ps->idle_timeout * 1000LL, ps->request_timeout * 1000LL };

    live_conf_release(ref);
    return t;
}

/* When c is to be closed unless it makes progress first. */
static long long conn_deadline(const struct conn *c, const struct timeouts *t)
{
    if (c->in_len > 0)
        return c->request_ms + t->request_ms;
    return c->last_io_ms + t->idle_ms;
}

static void conn_close(struct conn *c)
{
    close(c->fd);
    c->fd = -1;
    free(c->in);
    c->in = NULL;
}

static void accept_clients(void)
{
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct conn *c;

        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
                && errno != ECONNABORTED)
                log_error("policy service: accept: %s", strerror(errno));
            return;
        }
        if (conn_count >= POLICY_CONN_MAX) {
            log_error("policy service: %d connections open already; closing a new one",
                      POLICY_CONN_MAX);
            close(fd);
            continue;
        }
        if ((c = calloc(1, sizeof(*c))) == NULL) {
            log_error("policy service: out of memory for a connection; closing it");
            close(fd);
            continue;
        }
        c->fd = fd;
        c->serial = ++conn_serial;
        c->last_io_ms = now_ms();
        conns[conn_count++] = c;
        log_debug("policy service: connection #%lu opened", c->serial);
    }
}

/* Make room to read; false when the buffer is at its bound. */
static bool in_room(struct conn *c)
{
    size_t cap;
    char *grown;

    if (c->in_len < c->in_cap)
        return true;
    if (c->in_cap >= IN_BUF_MAX)
        return false;
    cap = c->in_cap == 0 ? IN_BUF_START : c->in_cap * 2;
    if (cap > IN_BUF_MAX)
        cap = IN_BUF_MAX;
    if ((grown = realloc(c->in, cap)) == NULL)
        return false;
    c->in = grown;
    c->in_cap = cap;
    return true;
}

/* Answer every complete request there is room for; false = close. */
static bool answer_requests(struct conn *c)
{
    struct policy_request req;
    size_t used;
    SUP_ERR err;

    while (c->in_len > 0 && c->out_len + POLICY_REPLY_MAX <= sizeof(c->out)) {
        sup_err_clear(&err);
        switch (policy_parse(c->in, c->in_len, &req, &used, &err)) {
        case POLICY_PARSE_MORE:
            return true;
        case POLICY_PARSE_ERROR:
            log_error("policy service: connection #%lu: malformed request: %s; "
                      "closing the connection", c->serial, err.text);
            return false;
        case POLICY_PARSE_DONE:
        default:
            c->out_len += policy_service_answer(&req, c->out + c->out_len,
                                                sizeof(c->out) - c->out_len);
            memmove(c->in, c->in + used, c->in_len - used);
            c->in_len -= used;
            c->request_ms = 0;  /* what is left is a new request */
            break;
        }
    }
    return true;
}

/* Write what is waiting; false = close. */
static bool flush_replies(struct conn *c)
{
    while (c->out_len > 0) {
        ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_debug("policy service: connection #%lu: write: %s", c->serial,
                      n < 0 ? strerror(errno) : "nothing written");
            return false;
        }
        memmove(c->out, c->out + n, c->out_len - (size_t) n);
        c->out_len -= (size_t) n;
        c->last_io_ms = now_ms();
    }
    return true;
}

/* Read once (fairness between connections); false = close. */
static bool read_requests(struct conn *c)
{
    ssize_t n;

    if (!in_room(c))
        return true;            /* full: answer_requests says what is wrong */
    n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (n == 0) {
        if (c->in_len > 0)
            log_error("policy service: connection #%lu: malformed request: the client "
                      "hung up %zu bytes into a request (no empty line before EOF)",
                      c->serial, c->in_len);
        else
            log_debug("policy service: connection #%lu closed by the client", c->serial);
        return false;
    }
    c->in_len += (size_t) n;
    c->last_io_ms = now_ms();
    return true;
}

/* One poll result for c; false = close. */
static bool serve(struct conn *c, short revents)
{
    if ((revents & (POLLIN | POLLHUP | POLLERR)) && !read_requests(c))
        return false;
    /* Answer, write, and again while writing made room for more answers. */
    for (;;) {
        size_t before = c->out_len;

        if (!answer_requests(c) || !flush_replies(c))
            return false;
        if (c->out_len >= before || c->in_len == 0)
            break;
    }
    /* The request clock starts at the first byte of a request. */
    if (c->in_len > 0 && c->request_ms == 0)
        c->request_ms = c->last_io_ms;
    return true;
}

/* Close c if its deadline has passed, saying why; true = closed. */
static bool expire(struct conn *c, const struct timeouts *t, long long now)
{
    if (now < conn_deadline(c, t))
        return false;
    if (c->in_len > 0)
        log_warn("policy service: connection #%lu: request not finished %lld s after it "
                 "began (%zu bytes; policy-service.request-timeout); closing the connection",
                 c->serial, t->request_ms / 1000, c->in_len);
    else if (c->out_len > 0)
        log_info("policy service: connection #%lu: replies not read for %lld s "
                 "(policy-service.idle-timeout); closing the connection",
                 c->serial, t->idle_ms / 1000);
    else
        log_info("policy service: connection #%lu: idle for %lld s "
                 "(policy-service.idle-timeout); closing the connection",
                 c->serial, t->idle_ms / 1000);
    conn_close(c);
    return true;
}

/* Close what is past its deadline; the poll() timeout until the next one
 * (-1 = none: no connection). */
static int expire_connections(void)
{
    struct timeouts t = current_timeouts();
    long long now = now_ms(), next = -1, wait;
    size_t i;

    for (i = 0; i < conn_count; i++) {
        long long deadline;

        if (conns[i]->fd < 0)
            continue;           /* closed in the last round: compact() frees it */
        if (expire(conns[i], &t, now))
            continue;
        deadline = conn_deadline(conns[i], &t);
        if (next < 0 || deadline < next)
            next = deadline;
    }
    if (next < 0)
        return -1;
    wait = next - now + 1;      /* +1: wake after the deadline, not just before */
    return wait > 60000 ? 60000 : (int) wait;
}

static short wanted_events(const struct conn *c)
{
    short ev = 0;

    if (c->out_len + POLICY_REPLY_MAX <= sizeof(c->out))
        ev |= POLLIN;
    if (c->out_len > 0)
        ev |= POLLOUT;
    return ev;
}

/* Drop the closed connections, keeping the others in order. */
static void compact(void)
{
    size_t i, o = 0;

    for (i = 0; i < conn_count; i++) {
        if (conns[i]->fd < 0)
            free(conns[i]);
        else
            conns[o++] = conns[i];
    }
    conn_count = o;
}

static void *loop_main(void *arg)
{
    static struct pollfd pfd[POLICY_CONN_MAX + 2];

    (void) arg;
    for (;;) {
        int timeout = expire_connections();
        size_t i, n;

        compact();
        n = conn_count;
        pfd[0].fd = wake_pipe[0];
        pfd[0].events = POLLIN;
        pfd[1].fd = listen_fd;
        pfd[1].events = POLLIN;
        for (i = 0; i < n; i++) {
            pfd[i + 2].fd = conns[i]->fd;
            pfd[i + 2].events = wanted_events(conns[i]);
            pfd[i + 2].revents = 0;
        }
        if (poll(pfd, n + 2, timeout) < 0) {
            if (errno == EINTR)
                continue;
            log_error("policy service: poll: %s; stopping it", strerror(errno));
            break;
        }
        if (pfd[0].revents != 0)
            break;              /* policy_service_stop */
        for (i = 0; i < n; i++)
            if (pfd[i + 2].revents != 0 && !serve(conns[i], pfd[i + 2].revents))
                conn_close(conns[i]);
        compact();
        if (pfd[1].revents & POLLIN)
            accept_clients();
    }
    return NULL;
}

/* ------------------------------------------------------------ lifecycle */

int policy_service_open(const char *spec, mode_t mode, const char *group, SUP_ERR *err)
{
    int fd;

    if (listen_bind("policy-service.socket", spec, mode, group, &fd, err) < 0)
        return -1;
    if ((listen_spec = strdup(spec)) == NULL) {
        close(fd);
        listen_remove(spec);
        return sup_err_set(err, SUP_ERR_SOFTWARE, "out of memory");
    }
    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 || pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        sup_err_set(err, SUP_ERR_IO, "policy-service.socket %s: %s", spec, strerror(errno));
        close(fd);
        listen_remove(spec);
        free(listen_spec);
        listen_spec = NULL;
        return -1;
    }
    listen_fd = fd;
    return 0;
}

int policy_service_start(SUP_ERR *err)
{
    int rc;

    if (listen_fd < 0)
        return 0;
    if ((rc = pthread_create(&loop_thread, NULL, loop_main, NULL)) != 0)
        return sup_err_set(err, SUP_ERR_IO, "starting the policy service thread: %s",
                           strerror(rc));
    loop_running = true;
    return 0;
}

void policy_service_stop(void)
{
    unsigned char byte = 0;
    size_t i;

    if (listen_fd < 0)
        return;
    if (loop_running) {
        if (write(wake_pipe[1], &byte, 1) < 0)
            log_error("policy service: cannot wake its thread: %s", strerror(errno));
        pthread_join(loop_thread, NULL);
        loop_running = false;
    }
    for (i = 0; i < conn_count; i++) {
        conn_close(conns[i]);
        free(conns[i]);
    }
    conn_count = 0;
    close(listen_fd);
    listen_fd = -1;
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    wake_pipe[0] = wake_pipe[1] = -1;
    listen_remove(listen_spec);
    free(listen_spec);
    listen_spec = NULL;
}
