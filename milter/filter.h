/*
 * filter.h: the libmilter callbacks of milter-suppress: the RCPT TO check
 * against the suppression store, the removal at end of message of
 * suppressed recipients of mail not received over SMTP, and the
 * per-connection state they need (client address, envelope sender).
 * main.c registers filter_desc.
 */
#ifndef FILTER_H
#define FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <libmilter/mfapi.h>

extern struct smfiDesc filter_desc;

/*
 * True when a connect event with this client address is Postfix
 * cleanup(8)'s emulation for mail that did not come over SMTP
 * (127.0.0.1, client port 0), where a recipient cannot be refused.
 */
bool filter_connect_is_cleanup(const struct sockaddr *client);

/* The same, from the {client_addr} and {client_port} macros of RCPT
 * (either NULL: not cleanup). */
bool filter_macros_are_cleanup(const char *client_addr, const char *client_port);

/* The {client_addr} macro as records keep the client address: without
 * the "IPv6:" prefix; "unknown" when value is NULL or no address.  outlen
 * of INET6_ADDRSTRLEN holds every address. */
void filter_client_from_macro(const char *value, char *out, size_t outlen);

#endif
