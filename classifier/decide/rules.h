/*
 * rules.h: the rule table that maps a remote server's response text (and
 * enhanced status codes) to a reason.  The table in rules.c is data, one
 * row per rule, each with a unit test in tests/unit/check_rules.c.
 *
 * Reasons are Sisimai's names (userunknown, mailboxfull, ...), so results
 * can be compared with the most widely used bounce parser.
 */
#ifndef RULES_H
#define RULES_H

#include <stdbool.h>

/* Reason for a response text, or NULL if no rule matches. */
const char *rules_reason_for_text(const char *text);
/* Reason for an enhanced status code ("5.1.1" -> "userunknown"), or NULL
 * when the code alone says too little ("5.0.0", "4.0.0"). */
const char *rules_reason_for_status(const char *status);
/* True when text says the failure is temporary ("try again later") even under a 5xx. */
bool rules_text_says_temporary(const char *text);
/* True when text says the failure is permanent even under a 4xx. */
bool rules_text_says_permanent(const char *text);
/* True if name is one of the known reason names. */
bool rules_is_reason(const char *name);

#endif
