/*
 * policy_service.h: the second door of milter-suppress, Postfix's policy
 * delegation protocol (check_policy_service) on policy-service.socket,
 * giving the same RCPT verdict as the milter (verdict.h).  main.c opens it
 * as root, starts its thread next to libmilter's and stops it at SIGTERM.
 */
#ifndef POLICY_SERVICE_H
#define POLICY_SERVICE_H

#include <stdbool.h>
#include <sys/types.h>
#include "policy_proto.h"
#include "sup_err.h"

/* Connections served at once; more are accepted, logged and closed. */
#define POLICY_CONN_MAX 1000

/* Open the listening socket (before privileges are dropped); 0 or -1 + err. */
int policy_service_open(const char *spec, mode_t mode, const char *group, SUP_ERR *err);
/* Start the event-loop thread (signals blocked by the caller); 0 or -1 + err. */
int policy_service_start(SUP_ERR *err);
/* Stop the thread, close every connection and the socket, remove a unix
 * socket file; nothing when it was never opened. */
void policy_service_stop(void);

/*
 * The reply to one parsed request, "action=...\n\n" into out
 * (POLICY_REPLY_MAX bytes): DUNNO outside protocol_state RCPT, else the
 * verdict on the recipient (counted, logged and recorded as via=policy).
 */
size_t policy_service_answer(const struct policy_request *req, char *out, size_t outlen);

#endif
