/*
 * filter.h: the libmilter callbacks of milter-suppress: the RCPT TO check
 * against the suppression store, and the per-connection state it needs
 * (client address, envelope sender).  main.c registers filter_desc.
 */
#ifndef FILTER_H
#define FILTER_H

#include <libmilter/mfapi.h>

extern struct smfiDesc filter_desc;

#endif
