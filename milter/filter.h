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
#include <sys/socket.h>
#include <libmilter/mfapi.h>

extern struct smfiDesc filter_desc;

/*
 * True when a connect event with this client address is Postfix
 * cleanup(8)'s emulation for mail that did not come over SMTP
 * (127.0.0.1, client port 0), where a recipient cannot be refused.
 */
bool filter_connect_is_cleanup(const struct sockaddr *client);

#endif
