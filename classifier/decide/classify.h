/*
 * classify.h: decide, for each reported recipient, the reason and the class
 * (hard, soft, complaint, delayed, autoreply, delivered, unknown) from the
 * content of the response as a whole, not only its code: "552 mailbox full"
 * is soft, "450 user unknown" is hard, a 5xx that says "try again later" is
 * soft.
 */
#ifndef CLASSIFY_H
#define CLASSIFY_H

#include "bounce.h"

/* Fill rcpt->reason (if the detector left it NULL) and rcpt->cls. */
void classify_rcpt(BOUNCE_RCPT *rcpt, enum report_kind kind);
/* Classify every recipient of a report. */
void classify_report(BOUNCE_REPORT *report);
/* True for the reasons that are temporary whatever the code says
 * (mailboxfull, exceedlimit, systemfull, toomanyconn, speeding,
 * networkerror, systemerror, expired, mesgtoobig...). */
bool classify_reason_is_temporary(const char *reason);

#endif
