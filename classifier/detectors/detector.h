/*
 * detector.h: one detector per bounce format, behind one interface.
 *
 * A detector recognizes the bounces of one MTA or provider (Postfix, Exim,
 * qmail, Office 365, Gmail, Amazon SES...) and extracts every reported
 * recipient with its status, reply code and the remote server's response.
 * It does not decide the reason or the class unless its format states the
 * reason structurally: classify.c does that for all of them.
 *
 * detect_report() tries detectors cheaply first (match() looks at headers
 * only) and expensively after (parse()); the generic RFC 3464, ARF and
 * RFC 3834 paths come last (see detectors.c for the order).
 */
#ifndef DETECTOR_H
#define DETECTOR_H

#include <stdbool.h>
#include "bounce.h"

typedef struct detector {
    const char *name;
    /* Cheap: headers only (From, Subject, X-Mailer, Received...).  A true
     * answer means "worth calling parse()"; it does not have to be certain. */
    bool (*match)(const BOUNCE_MSG *msg);
    /* Append the recipients this format reports to *report, set
     * report->kind; return the number appended (0 = not this format after
     * all, the next detector is tried). */
    int (*parse)(const BOUNCE_MSG *msg, BOUNCE_REPORT *report);
} DETECTOR;

/* Run the detectors over msg; fills *report (kind REPORT_NONE if none
 * matched).  Returns report->count. */
int detect_report(const BOUNCE_MSG *msg, BOUNCE_REPORT *report);

/* The registered detectors, NULL-terminated, in the order they are tried. */
extern const DETECTOR *const detectors[];

#endif
