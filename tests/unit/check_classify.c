/*
 * check_classify.c: unit tests of classify.c: the reason and the class of
 * each reported recipient, from the response as a whole.
 *
 * The examples of /work/shared/reference (SMTP2GO's articles on hard and
 * soft bounces) come out as the articles say; then the cases where the
 * content overrides the code ("552 mailbox full" is soft, "450 user
 * unknown" is hard, a 5xx saying "try again later" is soft), the report
 * kinds, actions, and the SMTP phase.
 *
 * classify.c and rules.c are compiled into this test (#includes below):
 * the real code, with its static helpers reachable.
 */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "decide/classify.c"
#include "decide/rules.c"

/* A recipient as a detector would report it (strings not owned: the
 * classifier only reads them). */
static BOUNCE_RCPT make_rcpt(const char *action, const char *status, const char *code,
                             const char *diag)
{
    BOUNCE_RCPT r;

    memset(&r, 0, sizeof(r));
    r.recipient = (char *) "bob@example.org";
    r.action = (char *) action;
    r.status = (char *) status;
    r.replycode = (char *) code;
    r.diagnostic = (char *) diag;
    return r;
}

typedef struct example {
    const char *command;        /* the SMTP command the detector read, or NULL */
    const char *status;         /* enhanced status, or NULL */
    const char *code;           /* reply code, or NULL */
    const char *diag;           /* the remote server's response */
    enum bounce_class cls;
    const char *reason;
} EXAMPLE;

static void check_example(const EXAMPLE *e)
{
    BOUNCE_RCPT r = make_rcpt("failed", e->status, e->code, e->diag);

    r.command = (char *) e->command;
    classify_rcpt(&r, REPORT_BOUNCE);
    ck_assert_msg(r.cls == e->cls, "%s \"%s\": class %s, expected %s",
                  e->command ? e->command : "-", e->diag,
                  bounce_class_name(r.cls), bounce_class_name(e->cls));
    ck_assert_msg(r.reason != NULL && strcmp(r.reason, e->reason) == 0,
                  "%s \"%s\": reason %s, expected %s", e->command ? e->command : "-", e->diag,
                  r.reason ? r.reason : "(null)", e->reason);
}

/* bounce_class_name() lives in report.c (the ingest core); this test
 * needs only the names, so it carries its own copy of the list. */
const char *bounce_class_name(enum bounce_class cls)
{
    static const char *const names[] = {
        "unknown", "hard", "soft", "complaint", "delayed", "autoreply", "delivered",
    };
    return (size_t) cls < sizeof(names) / sizeof(names[0]) ? names[cls] : "?";
}

/* ---- SMTP2GO, "How to fix Hard Bounces": hard bounce examples ------ */
/* A sending service reads these refusals in reply to RCPT TO, where a
 * remote server refuses a recipient; that is how they come here. */
START_TEST(test_reference_hard_bounces)
{
    static const EXAMPLE examples[] = {
        { "RCPT", "5.5.0", "550", "550 5.5.0 Requested action not taken: mailbox unavailable", CLASS_HARD, "userunknown" },
        { "RCPT", "5.4.1", "550", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", CLASS_HARD, "userunknown" },
        { "RCPT", NULL, "550", "550 No Such User Here", CLASS_HARD, "userunknown" },
        { "RCPT", NULL, "552", "552 1 Requested mail action aborted, mailbox not found", CLASS_HARD, "userunknown" },
        { "RCPT", "5.7.1", "550", "550 5.7.1 Message rejected due to SPF policy", CLASS_HARD, "authfailure" },
        { "RCPT", "5.7.1", "550", "550 5.7.1 Sender ID (PRA) Not Permitted", CLASS_HARD, "authfailure" },
    };
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
        check_example(&examples[i]);
}
END_TEST

/* The same texts as detectors often report them: the code only inside
 * the text, and no command.  The class must not change; the reason of
 * the bare "no such user" words becomes "filtered" (address_words_reason():
 * a refusal nobody placed in the dialogue may be a filter's), while the
 * providers' own directory wording stays "userunknown". */
START_TEST(test_reference_hard_bounces_text_only)
{
    static const EXAMPLE examples[] = {
        { NULL, NULL, NULL, "550 5.5.0 Requested action not taken: mailbox unavailable", CLASS_HARD, "filtered" },
        { NULL, NULL, NULL, "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", CLASS_HARD, "userunknown" },
        { NULL, NULL, NULL, "550 No Such User Here", CLASS_HARD, "filtered" },
        { NULL, NULL, NULL, "552 1 Requested mail action aborted, mailbox not found", CLASS_HARD, "userunknown" },
    };
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
        check_example(&examples[i]);
}
END_TEST

/* ---- "Hard bounce vs soft bounce": hard examples ------------------- */
START_TEST(test_reference_hard_messages)
{
    static const EXAMPLE examples[] = {
        { NULL, NULL, NULL, "The email account that you tried to reach does not exist", CLASS_HARD, "userunknown" },
        { "RCPT", NULL, NULL, "User unknown", CLASS_HARD, "userunknown" },
        { NULL, NULL, NULL, "User unknown", CLASS_HARD, "filtered" },
        { "RCPT", NULL, NULL, "This user doesn't have a yahoo.com account", CLASS_HARD, "userunknown" },
        { NULL, "5.1.1", "550", "550 5.1.1 Recipient address rejected", CLASS_HARD, "userunknown" },
        /* the same with the code only in the text */
        { NULL, NULL, NULL, "550 5.1.1 Recipient address rejected", CLASS_HARD, "userunknown" },
    };
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
        check_example(&examples[i]);
}
END_TEST

/* ---- "Hard bounce vs soft bounce": soft examples ------------------- */
START_TEST(test_reference_soft_messages)
{
    static const EXAMPLE examples[] = {
        { NULL, NULL, NULL, "Recipient address rejected: Mailbox full", CLASS_SOFT, "mailboxfull" },
        { NULL, "5.2.2", "552", "552 5.2.2 <bob@example.org>: Recipient address rejected: Mailbox full", CLASS_SOFT, "mailboxfull" },
        { NULL, NULL, NULL, "The email account that you tried to reach is over quota", CLASS_SOFT, "mailboxfull" },
        { NULL, "4.7.0", "421", "421 4.7.0 Try again later", CLASS_SOFT, "onhold" },
        { NULL, NULL, "452", "452 Insufficient system storage", CLASS_SOFT, "systemfull" },
    };
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
        check_example(&examples[i]);
}
END_TEST

/* ---- the content overrides the code ------------------------------- */
START_TEST(test_content_over_code)
{
    static const EXAMPLE examples[] = {
        /* 5xx but temporary by nature */
        { NULL, NULL, "552", "552 mailbox full", CLASS_SOFT, "mailboxfull" },
        { NULL, "5.3.4", "552", "552 5.3.4 Message size exceeds fixed maximum message size", CLASS_SOFT, "mesgtoobig" },
        { NULL, "5.4.7", "554", "554 5.4.7 Delivery expired (message too old)", CLASS_SOFT, "expired" },
        /* 4xx but the address is bad */
        { "RCPT", NULL, "450", "450 user unknown", CLASS_HARD, "userunknown" },
        { NULL, NULL, "450", "450 user unknown", CLASS_HARD, "filtered" },
        { NULL, "4.1.1", "450", "450 4.1.1 <bob@example.org>: Recipient address rejected: User unknown in local recipient table", CLASS_HARD, "userunknown" },
        { NULL, "4.1.2", "450", "450 4.1.2 <bob@example.org>: Recipient address rejected: Domain not found", CLASS_HARD, "hostunknown" },
        /* a 5xx that says try again later */
        { NULL, "5.7.1", "550", "550 5.7.1 Service refused, please try again later", CLASS_SOFT, "securityerror" },
        { NULL, "5.7.1", "550", "550 5.7.1 <bob@example.org>: Recipient address rejected: User bob@example.org temporary locked. Please try again later!", CLASS_SOFT, "suspend" },
        /* a 4xx that says it will never work */
        { NULL, NULL, "451", "451 this is a permanent error, do not retry", CLASS_HARD, "onhold" },
        /* policy refusals under 5xx stay hard (SMTP2GO: SPF failures are hard) */
        { NULL, "5.7.1", "554", "554 5.7.1 <bob@example.org>: Relay access denied", CLASS_HARD, "norelaying" },
        { NULL, "5.7.1", "550", "550 5.7.1 Message content rejected, UBE, id=00000-22-225", CLASS_HARD, "spamdetected" },
        /* null MX is final even without a code; "not accepting now" is not */
        { NULL, "4.0.0", NULL, "DNS type 'mx' lookup of example.org responded with code NOERROR The domain example.org doesn't receive email according to the administrator: returned Null MX", CLASS_HARD, "notaccept" },
        { NULL, "4.3.2", "453", "453 4.3.2 System not accepting network messages", CLASS_SOFT, "notaccept" },
    };
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
        check_example(&examples[i]);
}
END_TEST

/* ---- text and status code combined ------------------------------- */
START_TEST(test_text_and_status)
{
    static const EXAMPLE examples[] = {
        /* the code names the reason, the text is generic */
        { NULL, "5.1.1", "550", "550 5.1.1 Requested action not taken", CLASS_HARD, "userunknown" },
        { NULL, "5.2.2", "552", "552 5.2.2 Requested action aborted", CLASS_SOFT, "mailboxfull" },
        { NULL, "5.1.6", "550", "550 5.1.6 Requested action not taken", CLASS_HARD, "hasmoved" },
        /* a precise code beats vague text */
        { NULL, "5.2.2", "554", "554 5.2.2 Service currently unavailable", CLASS_SOFT, "mailboxfull" },
        /* precise text beats the generic x.7.1 */
        { NULL, "5.7.1", "550", "550 5.7.1 IP address blacklisted by recipient", CLASS_HARD, "blocked" },
        /* x.2.1 (mailbox disabled) with "user unknown" at RCPT TO: the
         * text is precise; with no command, x.2.1 is a filter's code */
        { "RCPT", "5.2.1", "550", "550 5.2.1 <bob@example.org>... User Unknown", CLASS_HARD, "userunknown" },
        { NULL, "5.2.1", "550", "550 5.2.1 <bob@example.org>... User Unknown", CLASS_HARD, "filtered" },
        /* x.2.3 is the per-mailbox size limit */
        { NULL, "5.2.3", "552", "552 5.2.3 Message length exceeds administrative limit", CLASS_SOFT, "exceedlimit" },
        { NULL, "5.3.4", "552", "552 5.3.4 Message length exceeds administrative limit", CLASS_SOFT, "mesgtoobig" },
        /* x.1.8: a bad SENDER address, even if the text says "not found" */
        { NULL, "5.1.8", "501", "The address couldn't be found. The response was: 501 5.1.8 Sender address rejected", CLASS_HARD, "rejected" },
        /* a status code alone */
        { NULL, "5.1.2", NULL, NULL, CLASS_HARD, "hostunknown" },
        { NULL, "4.4.7", NULL, NULL, CLASS_SOFT, "expired" },
        { NULL, "5.6.0", NULL, NULL, CLASS_HARD, "contenterror" },
    };
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
        check_example(&examples[i]);
}
END_TEST

/* ---- where in the SMTP dialogue ---------------------------------- */
/* The command comes from the detector or from the phrase the MTA wrote
 * (detectors/toolkit/command.c, smtp_command_in(): tested in check_detectors_a);
 * here the responses of those examples, with the command so found. */
START_TEST(test_smtp_phase)
{
    static const EXAMPLE examples[] = {
        /* after DATA an "unknown user" is a content filter speaking */
        { "DATA", NULL, "550", "host mx.example.org[192.0.2.1] said: 550 Unknown user bob@example.org (in reply to end of DATA command)", CLASS_HARD, "filtered" },
        /* at MAIL FROM it is about our sender */
        { "MAIL", "5.1.7", "550", "SMTP error from remote mail server after MAIL FROM:<a@example.net>: 550 5.1.7 No such domain example.net", CLASS_HARD, "rejected" },
        { "MAIL", "5.1.0", "553", "SMTP error from remote mail server after MAIL FROM:<a@example.net>: 553 5.1.0 example.net does not exist", CLASS_HARD, "rejected" },
        /* at connection time about our host */
        { "HELO", "5.0.0", "501", "Connected to 192.0.2.1 but my name was rejected. Remote host said: 501 5.0.0 Invalid domain name", CLASS_HARD, "blocked" },
        { "CONN", NULL, NULL, "host mx.example.org[192.0.2.1] refused to talk to me: 554 mx.example.org", CLASS_HARD, "blocked" },
        { "CONN", NULL, NULL, "host mx.example.org[192.0.2.1] refused to talk to me: 421 busy", CLASS_SOFT, "blocked" },
        /* at RCPT the user is unknown, also under x.2.1 */
        { "RCPT", "5.2.1", "550", "SMTP error from remote mail server after RCPT TO:<bob@example.org>: 550 5.2.1 <bob@example.org>... User Unknown", CLASS_HARD, "userunknown" },
    };
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
        check_example(&examples[i]);
}
END_TEST

/* ---- refused at connection or HELO time --------------------------- */
/* Before MAIL FROM the server has heard of our host alone: a refusal is
 * "blocked" unless the response says more. */
START_TEST(test_refused_at_helo)
{
    static const EXAMPLE examples[] = {
        /* a code that only complains about the argument: at HELO that is
         * our host's name */
        { "HELO", "5.5.4", "501", "501 5.5.4 Invalid HELO name", CLASS_HARD, "blocked" },
        { "HELO", NULL, "501", "501 Invalid HELO name", CLASS_HARD, "blocked" },
        { "CONN", "4.0.0", "421", "421 4.0.0 mx.example.org closing connection", CLASS_SOFT, "blocked" },
        /* the same complaints after RCPT TO are no refusal of our host */
        { "RCPT", "5.5.4", "501", "501 5.5.4 Invalid argument", CLASS_SOFT, "systemerror" },
        { "RCPT", NULL, "501", "501 Invalid argument", CLASS_HARD, "syntaxerror" },
        /* words or a code that name the cause say more */
        { "CONN", NULL, "421", "421 Too many connections from your host", CLASS_SOFT, "toomanyconn" },
        { "CONN", NULL, "550", "550 No PTR record found for 192.0.2.1", CLASS_HARD, "requireptr" },
        { "HELO", "5.7.1", "550", "550 5.7.1 <a@example.net>... Access denied", CLASS_HARD, "securityerror" },
        { "CONN", "4.3.2", "421", "421 4.3.2 System not accepting network messages", CLASS_SOFT, "notaccept" },
        { "CONN", "4.3.5", "421", "421 4.3.5 mx.example.org", CLASS_SOFT, "systemerror" },
    };
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
        check_example(&examples[i]);
}
END_TEST

/* A delay warning keeps the cause it names; "expired" is for one that
 * names none (test_delayed). */
START_TEST(test_delayed_after_helo_refusal)
{
    BOUNCE_RCPT r = make_rcpt("delayed", "4.7.0", "421", "421 4.7.0 out.example.org is not welcome here");

    r.command = (char *) "HELO";
    classify_rcpt(&r, REPORT_BOUNCE);
    ck_assert_int_eq(r.cls, CLASS_DELAYED);
    ck_assert_str_eq(r.reason, "blocked");

    /* with no command the same words name no cause */
    r = make_rcpt("delayed", "4.7.0", "421", "421 4.7.0 out.example.org is not welcome here");
    classify_rcpt(&r, REPORT_BOUNCE);
    ck_assert_int_eq(r.cls, CLASS_DELAYED);
    ck_assert_str_eq(r.reason, "expired");
}
END_TEST

/* ---- codes found in the text when the fields are empty ----------- */
START_TEST(test_codes_in_text)
{
    BOUNCE_RCPT r = make_rcpt("failed", NULL, NULL,
                              "host mx.example.org[192.0.2.1] said: 550-5.7.1 <bob@example.org> denied (#5.7.1)");
    CODES c;

    codes_of(&r, &c);
    ck_assert_str_eq(c.status, "5.7.1");
    ck_assert_str_eq(c.replycode, "550");
    /* IP addresses and version numbers are not codes */
    r = make_rcpt("failed", NULL, NULL, "connect to 203.0.113.2 (4.16.55.1) failed, v2.4.10");
    codes_of(&r, &c);
    ck_assert_ptr_null(c.status);
    ck_assert_ptr_null(c.replycode);
    /* the detector's own fields win */
    r = make_rcpt("failed", "5.1.1", "550", "451 4.3.0 something else");
    codes_of(&r, &c);
    ck_assert_str_eq(c.status, "5.1.1");
    ck_assert_str_eq(c.replycode, "550");
    /* only the text: Gmail's "said: 550-5.1.1" */
    r = make_rcpt("failed", NULL, NULL, "said: 550-5.1.1 The email account that you tried to reach does not exist.");
    classify_rcpt(&r, REPORT_BOUNCE);
    ck_assert_int_eq(r.cls, CLASS_HARD);
    ck_assert_str_eq(r.reason, "userunknown");
}
END_TEST

/* ---- the SMTP command a detector read from the format ------------- */
START_TEST(test_smtp_command)
{
    static const EXAMPLE examples[] = {
        /* the same words, told apart by the command they answered */
        { "RCPT", NULL, "550", "550 Unknown user bob@example.org", CLASS_HARD, "userunknown" },
        { "DATA", NULL, "550", "550 Unknown user bob@example.org", CLASS_HARD, "filtered" },
        { NULL, NULL, "550", "550 Unknown user bob@example.org", CLASS_HARD, "filtered" },
        { "MAIL", NULL, "550", "550 Unknown user bob@example.org", CLASS_HARD, "rejected" },
        { "HELO", NULL, "550", "550 Unknown user bob@example.org", CLASS_HARD, "blocked" },
        { "EHLO", NULL, "550", "550 Unknown user bob@example.org", CLASS_HARD, "blocked" },
        { "CONN", NULL, "554", "554 Unknown user bob@example.org", CLASS_HARD, "blocked" },
        /* names compare without case; an unlisted one says nothing */
        { "rcpt", NULL, "550", "550 Unknown user bob@example.org", CLASS_HARD, "userunknown" },
        { "AUTH", NULL, "550", "550 Unknown user bob@example.org", CLASS_HARD, "filtered" },
        /* the format's command wins over a phase the text suggests */
        { "DATA", NULL, "550", "SMTP error from remote mail server after RCPT TO:<bob@example.org>: 550 Unknown user", CLASS_HARD, "filtered" },
        { "RCPT", NULL, "550", "550 Unknown user bob@example.org (in reply to end of DATA command)", CLASS_HARD, "userunknown" },
        /* an address status code settles it whatever the command ... */
        { "DATA", "5.1.1", "550", "550 5.1.1 <bob@example.org>... User unknown", CLASS_HARD, "userunknown" },
        { NULL, NULL, NULL, "550 5.1.1 <bob@example.org>... User unknown", CLASS_HARD, "userunknown" },
        /* ... but at MAIL FROM it is about our sender */
        { "MAIL", "5.1.1", "550", "550 5.1.1 <a@example.net>... User unknown", CLASS_HARD, "rejected" },
        /* x.2.0 (a filter's code) after DATA */
        { "DATA", "5.2.0", "550", "550 Unknown user bob@example.org", CLASS_HARD, "filtered" },
        /* other reasons do not depend on the command */
        { "DATA", "5.2.2", "552", "552 5.2.2 Mailbox full", CLASS_SOFT, "mailboxfull" },
        { "RCPT", NULL, "550", "550 5.7.1 Relay access denied", CLASS_HARD, "norelaying" },
        { "MAIL", "5.1.8", "553", "553 5.1.8 Domain of sender address a@example.net does not exist", CLASS_HARD, "rejected" },
    };
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
        check_example(&examples[i]);
}
END_TEST

/* A directory's own words need no command to be believed. */
START_TEST(test_directory_verdicts)
{
    static const EXAMPLE examples[] = {
        { NULL, "5.1.10", "550", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", CLASS_HARD, "userunknown" },
        { NULL, NULL, NULL, "The email address wasn\xe2\x80\x99t found at the destination domain. It might be misspelled or it might not exist any longer.", CLASS_HARD, "userunknown" },
        { NULL, "5.4.1", "550", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", CLASS_HARD, "userunknown" },
        { NULL, NULL, NULL, "Your message wasn't delivered to bob@example.org because the address couldn't be found. Check for typos or unnecessary spaces and try again.", CLASS_HARD, "userunknown" },
        { "DATA", NULL, "554", "554 delivery error: dd This user doesn't have a yahoo.com account (bob@yahoo.com) [0] - mta1061.mail.ne1.yahoo.com", CLASS_HARD, "userunknown" },
        { NULL, NULL, "552", "552 1 Requested mail action aborted, mailbox not found", CLASS_HARD, "userunknown" },
        { NULL, NULL, "550", "550 <bob@example.org>: User unknown", CLASS_HARD, "userunknown" },
        { NULL, "5.5.0", NULL, "mail.local: unknown user: bob 554 <bob@example.org>... Service unavailable", CLASS_HARD, "userunknown" },
        /* Orange / La Poste's documented codes, even after DATA */
        { "DATA", "5.5.0", "550", "550 5.5.0 Adresse destinataire invalide. Invalid recipient. LPN007_416", CLASS_HARD, "userunknown" },
        { NULL, NULL, "550", "550 5.5.0 Invalid recipient. OFR_416", CLASS_HARD, "userunknown" },
        /* not their codes: the same words decide as any others */
        { NULL, NULL, "550", "550 5.5.0 Invalid recipient. XYZ_416", CLASS_HARD, "filtered" },
        { NULL, NULL, "550", "550 5.5.0 Invalid recipient. LPN007_4160", CLASS_HARD, "filtered" },
        /* au (KDDI)'s filter names no address: filtered, even at RCPT */
        { "RCPT", NULL, "550", "550 : User unknown", CLASS_HARD, "filtered" },
        { NULL, "5.1.351", "550", "550 5.1.351 Remote server returned unknown recipient or mailbox unavailable -> 550 : User unknown", CLASS_HARD, "filtered" },
    };
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
        check_example(&examples[i]);
}
END_TEST

/* ---- nothing to go on --------------------------------------------- */
START_TEST(test_no_information)
{
    static const EXAMPLE examples[] = {
        { NULL, NULL, NULL, NULL, CLASS_UNKNOWN, "undefined" },
        { NULL, "5.0.0", NULL, NULL, CLASS_HARD, "undefined" },
        { NULL, "4.0.0", NULL, "", CLASS_SOFT, "undefined" },
        { NULL, NULL, NULL, "Something went wrong", CLASS_UNKNOWN, "onhold" },
        { NULL, NULL, "550", "550 Rejected", CLASS_HARD, "onhold" },
        { NULL, NULL, "451", "451 Rejected", CLASS_SOFT, "onhold" },
        { NULL, NULL, "503", "503 Improper sequence of commands", CLASS_HARD, "syntaxerror" },
        { NULL, NULL, "504", "504 bad things", CLASS_HARD, "syntaxerror" },
    };
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++)
        check_example(&examples[i]);
}
END_TEST

/* ---- kinds and actions -------------------------------------------- */
START_TEST(test_complaint)
{
    BOUNCE_RCPT r = make_rcpt(NULL, NULL, NULL, "This is an email abuse report");

    r.feedback_type = (char *) "abuse";
    classify_rcpt(&r, REPORT_COMPLAINT);
    ck_assert_int_eq(r.cls, CLASS_COMPLAINT);
    ck_assert_str_eq(r.reason, "feedback");
}
END_TEST

START_TEST(test_autoreply)
{
    BOUNCE_RCPT r = make_rcpt(NULL, NULL, NULL, "I'm out of the office until Monday.");

    classify_rcpt(&r, REPORT_AUTOREPLY);
    ck_assert_int_eq(r.cls, CLASS_AUTOREPLY);
    ck_assert_str_eq(r.reason, "vacation");
}
END_TEST

START_TEST(test_delivered)
{
    static const char *const actions[] = { "delivered", "relayed", "expanded" };

    for (size_t i = 0; i < 3; i++) {
        BOUNCE_RCPT r = make_rcpt(actions[i], "2.0.0", "250", "250 2.0.0 Ok");
        classify_rcpt(&r, REPORT_BOUNCE);
        ck_assert_int_eq(r.cls, CLASS_DELIVERED);
        ck_assert_str_eq(r.reason, "delivered");
    }
    /* a 2.x.x status under a missing action is a success too */
    BOUNCE_RCPT r = make_rcpt(NULL, "2.1.5", "250", "250 2.1.5 Ok");
    classify_rcpt(&r, REPORT_BOUNCE);
    ck_assert_int_eq(r.cls, CLASS_DELIVERED);
}
END_TEST

START_TEST(test_delayed)
{
    /* a warning keeps the reason of its cause */
    BOUNCE_RCPT r = make_rcpt("delayed", "4.2.2", "452", "452 4.2.2 Mailbox full");
    classify_rcpt(&r, REPORT_BOUNCE);
    ck_assert_int_eq(r.cls, CLASS_DELAYED);
    ck_assert_str_eq(r.reason, "mailboxfull");

    /* and is "expired" when the cause is unknown */
    r = make_rcpt("delayed", "4.0.0", NULL, "Delivery to the following recipient has been delayed, will retry");
    classify_rcpt(&r, REPORT_BOUNCE);
    ck_assert_int_eq(r.cls, CLASS_DELAYED);
    ck_assert_str_eq(r.reason, "expired");

    r = make_rcpt("delayed", NULL, NULL, NULL);
    classify_rcpt(&r, REPORT_BOUNCE);
    ck_assert_int_eq(r.cls, CLASS_DELAYED);
    ck_assert_str_eq(r.reason, "expired");
}
END_TEST

START_TEST(test_detector_reason)
{
    /* a reason the format states (SES bounceSubType) is kept ... */
    BOUNCE_RCPT r = make_rcpt("failed", "5.0.0", "550", "550 Rejected");
    r.reason = "suspend";
    classify_rcpt(&r, REPORT_BOUNCE);
    ck_assert_str_eq(r.reason, "suspend");
    ck_assert_int_eq(r.cls, CLASS_HARD);

    r = make_rcpt("failed", NULL, NULL, NULL);
    r.reason = "userunknown";
    classify_rcpt(&r, REPORT_BOUNCE);
    ck_assert_str_eq(r.reason, "userunknown");
    ck_assert_int_eq(r.cls, CLASS_HARD);

    /* ... but "I don't know" answers are worked out again */
    r = make_rcpt("failed", "5.1.1", "550", "550 5.1.1 Mailbox does not exist");
    r.reason = "onhold";
    classify_rcpt(&r, REPORT_BOUNCE);
    ck_assert_str_eq(r.reason, "userunknown");

    r = make_rcpt("failed", NULL, "550", "550 mailbox full");
    r.reason = "undefined";
    classify_rcpt(&r, REPORT_BOUNCE);
    ck_assert_str_eq(r.reason, "mailboxfull");
    ck_assert_int_eq(r.cls, CLASS_SOFT);
}
END_TEST

START_TEST(test_classify_report)
{
    BOUNCE_RCPT rcpts[3];
    BOUNCE_REPORT report;

    rcpts[0] = make_rcpt("failed", "5.1.1", "550", "550 5.1.1 User unknown");
    rcpts[1] = make_rcpt("failed", "4.2.2", "452", "452 4.2.2 Mailbox full");
    rcpts[2] = make_rcpt("delayed", NULL, NULL, "connect to mx.example.org[192.0.2.1]:25: Connection timed out");
    memset(&report, 0, sizeof(report));
    report.kind = REPORT_BOUNCE;
    report.rcpts = rcpts;
    report.count = 3;
    report.alloc = 3;
    classify_report(&report);
    ck_assert_int_eq(rcpts[0].cls, CLASS_HARD);
    ck_assert_int_eq(rcpts[1].cls, CLASS_SOFT);
    ck_assert_int_eq(rcpts[2].cls, CLASS_DELAYED);
    ck_assert_str_eq(rcpts[2].reason, "expired");
}
END_TEST

START_TEST(test_temporary_reasons)
{
    static const char *const temporary[] = {
        "mailboxfull", "exceedlimit", "systemfull", "toomanyconn", "speeding",
        "networkerror", "systemerror", "expired", "mesgtoobig",
    };
    static const char *const others[] = {
        "userunknown", "hostunknown", "hasmoved", "notaccept", "blocked",
        "rejected", "filtered", "suspend", "onhold", "undefined", "feedback", NULL,
    };
    for (size_t i = 0; i < sizeof(temporary) / sizeof(temporary[0]); i++) {
        ck_assert_msg(classify_reason_is_temporary(temporary[i]), "%s", temporary[i]);
        /* and soft under any code */
        BOUNCE_RCPT r = make_rcpt("failed", "5.0.0", "550", "550 Rejected");
        r.reason = temporary[i];
        classify_rcpt(&r, REPORT_BOUNCE);
        ck_assert_msg(r.cls == CLASS_SOFT, "%s under 550 is %s", temporary[i], bounce_class_name(r.cls));
    }
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        ck_assert_msg(!classify_reason_is_temporary(others[i]), "%s", others[i] ? others[i] : "NULL");
}
END_TEST

static Suite *classify_suite(void)
{
    Suite *s = suite_create("classify");
    TCase *tc = tcase_create("reference");

    tcase_add_test(tc, test_reference_hard_bounces);
    tcase_add_test(tc, test_reference_hard_bounces_text_only);
    tcase_add_test(tc, test_reference_hard_messages);
    tcase_add_test(tc, test_reference_soft_messages);
    suite_add_tcase(s, tc);

    tc = tcase_create("content");
    tcase_add_test(tc, test_content_over_code);
    tcase_add_test(tc, test_text_and_status);
    tcase_add_test(tc, test_smtp_phase);
    tcase_add_test(tc, test_smtp_command);
    tcase_add_test(tc, test_refused_at_helo);
    tcase_add_test(tc, test_directory_verdicts);
    tcase_add_test(tc, test_no_information);
    tcase_add_test(tc, test_codes_in_text);
    suite_add_tcase(s, tc);

    tc = tcase_create("kinds");
    tcase_add_test(tc, test_complaint);
    tcase_add_test(tc, test_autoreply);
    tcase_add_test(tc, test_delivered);
    tcase_add_test(tc, test_delayed);
    tcase_add_test(tc, test_delayed_after_helo_refusal);
    tcase_add_test(tc, test_detector_reason);
    tcase_add_test(tc, test_classify_report);
    tcase_add_test(tc, test_temporary_reasons);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(classify_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
