/*
 * classify.c: for each reported recipient, decide the reason (Sisimai's
 * names) and the class (hard, soft, complaint, delayed, autoreply,
 * delivered, unknown) from the response as a whole.  Called by ingest.c
 * after the detectors; policy.c acts on the class.
 *
 * The reason comes from, in this order: the detector (when its format
 * states it, e.g. SES bounceSubType); the rule table (rules.c) on the
 * remote server's response; the enhanced status code.  When the text and
 * the code disagree the more specific one wins (pick_reason()), and where
 * in the SMTP dialogue the server refused changes what the words mean
 * (address_words_reason()).  That is rcpt->command alone: the detectors
 * and detect_report()'s common pass read it from the format or from the
 * phrases MTAs use to name it (detectors/toolkit/command.c,
 * smtp_command_in()).
 *
 * The class of a failure does not follow the reply code blindly: a full
 * mailbox is soft even under 552, an unknown user is hard even under 450,
 * a 5xx that says "try again later" is soft (classify_failure()).
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "classify.h"
#include "rules.h"

static bool name_in(const char *name, const char *const *list)
{
    if (name == NULL)
        return false;
    for (; *list != NULL; list++)
        if (strcmp(name, *list) == 0)
            return true;
    return false;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Case-insensitive substring search (GNU strcasestr). */
static bool contains_ci(const char *hay, const char *needle)
{
    return strcasestr(hay, needle) != NULL;
}

/*
 * A lowercased copy of the first bufsize-1 bytes of text, with the
 * typographic apostrophe U+2019 turned into "'".  The phrases classify
 * looks for sit in a line or two of explanation: the first kilobyte is
 * plenty, and strstr() on the copy is much cheaper than case-insensitive
 * searching.
 */
static void lowercase_prefix(const char *text, char *buf, size_t bufsize)
{
    size_t w = 0;

    for (const unsigned char *r = (const unsigned char *) text; *r && w + 1 < bufsize; r++) {
        unsigned char c = *r;
        if (c == 0xE2 && r[1] == 0x80 && r[2] == 0x99) {
            buf[w++] = '\'';
            r += 2;
            continue;
        }
        buf[w++] = (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : (char) c;
    }
    buf[w] = '\0';
}

/* Reasons that will go away by themselves: soft whatever the code. */
static const char *const temporary_reasons[] = {
    "mailboxfull", "exceedlimit", "systemfull", "toomanyconn", "speeding",
    "networkerror", "systemerror", "expired", "mesgtoobig", NULL
};

/* Reasons that say the address itself is bad: hard whatever the code. */
static const char *const address_reasons[] = {
    "userunknown", "hostunknown", "hasmoved", NULL
};

bool classify_reason_is_temporary(const char *reason)
{
    return name_in(reason, temporary_reasons);
}

/* ------------------------------------------------------------------ */
/* The codes of a response: the detector's fields, else found in the text
 * ("550 5.1.1 ..." reported with no Status: field). */

typedef struct codes {
    const char *status;     /* "5.1.1" or NULL */
    const char *replycode;  /* "550" or NULL */
    char status_buf[16];
    char reply_buf[4];
} CODES;

/* Does start[0..len) stand alone: not glued to letters, digits or dots? */
static bool token_bounded(const char *text, const char *start, size_t len)
{
    if (start > text) {
        char before = start[-1];
        if (is_digit(before) || before == '.' || (before >= 'a' && before <= 'z') ||
            (before >= 'A' && before <= 'Z'))
            return false;
    }
    char after = start[len];
    return !(is_digit(after) || (after == '.' && is_digit(start[len + 1])));
}

/* First enhanced status code "[245].d{1,3}.d{1,3}" in the text. */
static bool status_in_text(const char *text, char *out, size_t outsize)
{
    for (const char *p = text; *p; p++) {
        if (!(*p == '2' || *p == '4' || *p == '5') || p[1] != '.')
            continue;
        const char *q = p + 2;
        size_t d1 = 0, d2 = 0;
        while (is_digit(q[d1]) && d1 < 4)
            d1++;
        if (d1 == 0 || d1 > 3 || q[d1] != '.')
            continue;
        q += d1 + 1;
        while (is_digit(q[d2]) && d2 < 4)
            d2++;
        if (d2 == 0 || d2 > 3)
            continue;
        size_t len = (size_t) (q + d2 - p);
        if (!token_bounded(text, p, len) || len + 1 > outsize)
            continue;
        memcpy(out, p, len);
        out[len] = '\0';
        return true;
    }
    return false;
}

/* First SMTP reply code "[245]dd" standing as a word (followed by a
 * space, '-', ':' or the end), e.g. "said: 550 ..." or "550-5.7.1 ...". */
static bool replycode_in_text(const char *text, char *out)
{
    for (const char *p = text; *p; p++) {
        if (!(*p == '2' || *p == '4' || *p == '5') || !is_digit(p[1]) || !is_digit(p[2]))
            continue;
        if (p > text && !(p[-1] == ' ' || p[-1] == ':' || p[-1] == '\'' || p[-1] == '<' ||
                          p[-1] == '(' || p[-1] == '#'))
            continue;
        char after = p[3];
        if (!(after == ' ' || after == '-' || after == ':' || after == '\0'))
            continue;
        memcpy(out, p, 3);
        out[3] = '\0';
        return true;
    }
    return false;
}

static void codes_of(const BOUNCE_RCPT *rcpt, CODES *codes)
{
    codes->status = rcpt->status;
    codes->replycode = rcpt->replycode;
    if (rcpt->diagnostic == NULL)
        return;
    if (codes->status == NULL && status_in_text(rcpt->diagnostic, codes->status_buf,
                                                sizeof(codes->status_buf)))
        codes->status = codes->status_buf;
    if (codes->replycode == NULL && replycode_in_text(rcpt->diagnostic, codes->reply_buf))
        codes->replycode = codes->reply_buf;
}

/* First digit of the enhanced status or the reply code: '2', '4', '5' or 0. */
static char code_class(const CODES *codes)
{
    const char *s = codes->status;
    const char *r = codes->replycode;

    if (s != NULL && (s[0] == '2' || s[0] == '4' || s[0] == '5') && s[1] == '.')
        return s[0];
    if (r != NULL && (r[0] == '2' || r[0] == '4' || r[0] == '5'))
        return r[0];
    return 0;
}

/* ------------------------------------------------------------------ */
/* Where in the SMTP dialogue the server refused: the command it answered. */

enum smtp_phase {
    PHASE_UNKNOWN = 0,
    PHASE_CONNECT,      /* greeting, HELO/EHLO: about our host */
    PHASE_MAIL,         /* MAIL FROM: about our sender */
    PHASE_RCPT,         /* RCPT TO: about the recipient */
    PHASE_DATA,         /* after the content was seen */
};

/* The phase of the SMTP command a detector read from the format
 * (bounce.h: "CONN", "HELO", "MAIL", "RCPT", "DATA"; EHLO is HELO). */
static enum smtp_phase command_phase(const char *command)
{
    static const struct {
        const char *name;
        enum smtp_phase phase;
    } commands[] = {
        { "CONN", PHASE_CONNECT }, { "HELO", PHASE_CONNECT }, { "EHLO", PHASE_CONNECT },
        { "MAIL", PHASE_MAIL }, { "RCPT", PHASE_RCPT }, { "DATA", PHASE_DATA },
    };

    if (command == NULL)
        return PHASE_UNKNOWN;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcasecmp(command, commands[i].name) == 0)
            return commands[i].phase;
    return PHASE_UNKNOWN;
}

/* ------------------------------------------------------------------ */
/* The reason. */

/*
 * Status-derived reasons precise enough to beat a vague text reason, and
 * text-derived reasons vague enough to lose to them.  E.g. "554 5.2.2
 * Service currently unavailable": the code says mailbox full, the text
 * (systemerror) says nothing useful.
 */
static const char *const precise_status_reasons[] = {
    "mailboxfull", "mesgtoobig", "exceedlimit", "hasmoved", "hostunknown",
    "rejected", "notaccept", "suspend", "authfailure", "requireptr",
    "filtered", "userunknown", "toomanyconn", "delivered", NULL
};
static const char *const vague_text_reasons[] = {
    "securityerror", "systemerror", "expired", "syntaxerror", "policyviolation", NULL
};

static const char *pick_reason(const char *text_reason, const char *status_reason)
{
    if (text_reason == NULL)
        return status_reason;
    if (status_reason == NULL)
        return text_reason;
    /* x.1.7, x.1.8: the code says the SENDER's address is bad, so text
     * about a bad address is about the sender too. */
    if (strcmp(status_reason, "rejected") == 0 && name_in(text_reason, address_reasons))
        return status_reason;
    /* x.2.3: the per-mailbox limit, whatever words the server chose */
    if (strcmp(status_reason, "exceedlimit") == 0 && strcmp(text_reason, "mesgtoobig") == 0)
        return status_reason;
    if (name_in(status_reason, precise_status_reasons) && name_in(text_reason, vague_text_reasons))
        return status_reason;
    return text_reason;
}

/* Reply codes that say the command itself was wrong (501-507, 401-407). */
static bool replycode_says_syntax(const char *code)
{
    if (code == NULL || strlen(code) != 3)
        return false;
    return (code[0] == '5' || code[0] == '4') && code[1] == '0' && code[2] >= '1' && code[2] <= '7';
}

/* What classify reads from a response, worked out once. */
typedef struct response {
    const char *diag;           /* the remote server's response, or NULL */
    CODES codes;
    enum smtp_phase phase;
    const char *text_reason;    /* the rule table's reason for diag, or NULL */
} RESPONSE;

static void response_of(const BOUNCE_RCPT *rcpt, RESPONSE *resp)
{
    resp->diag = rcpt->diagnostic;
    codes_of(rcpt, &resp->codes);
    resp->phase = command_phase(rcpt->command);
    resp->text_reason = rules_reason_for_text(resp->diag);
}

/*
 * Words that are a directory's verdict whatever the command they answered:
 * providers' documented codes and their own wording for "no such address"
 * (Orange/La Poste "LPN007_416", Microsoft "RecipientNotFound" and its
 * edge's "Access denied", Google's and Yahoo's texts, au/KDDI naming the
 * address), and the local delivery agent finding no such mailbox.  Content
 * filters do not speak these words.
 */
static const char *const directory_verdicts[] = {
    "recipientnotfound",                        /* Microsoft RESOLVER.ADR. */
    "recipnotfound",
    "wasn't found at the destination domain",   /* Microsoft's NDR text */
    "recipient address rejected: access denied",    /* Microsoft's edge */
    "mail action aborted, mailbox not found",   /* Yahoo */
    "because the address couldn't be found",    /* Google's NDR text */
    "email account that you tried to reach does not exist",
    "delivery error: dd this user doesn't have a ",   /* Yahoo */
    ">: user unknown",                          /* "<addr>: User unknown" (au) */
    "mail.local: unknown user",                 /* the local delivery agent */
};

/* x.1.0, x.1.1, x.1.3 (4xx or 5xx): the destination mailbox address is
 * bad (RFC 3463). */
static bool status_says_bad_mailbox(const char *status)
{
    if (status == NULL || !(status[0] == '4' || status[0] == '5') || strncmp(status + 1, ".1.", 3) != 0)
        return false;
    return strcmp(status + 4, "0") == 0 || strcmp(status + 4, "1") == 0 || strcmp(status + 4, "3") == 0;
}

/* Orange / La Poste "OFR_416", "LPN007_418": invalid recipient. */
static bool orange_invalid_recipient(const char *lower)
{
    for (const char *p = strstr(lower, "_41"); p != NULL; p = strstr(p + 1, "_41")) {
        if (!(p[3] == '6' || p[3] == '8') || is_digit(p[4]))
            continue;
        const char *q = p;
        while (q > lower && is_digit(q[-1]))
            q--;
        if (q - lower >= 3 && (strncmp(q - 3, "ofr", 3) == 0 || strncmp(q - 3, "lpn", 3) == 0))
            return true;
    }
    return false;
}

static bool directory_verdict(const char *diag)
{
    char buf[1024];

    if (diag == NULL)
        return false;
    lowercase_prefix(diag, buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(directory_verdicts) / sizeof(directory_verdicts[0]); i++)
        if (strstr(buf, directory_verdicts[i]) != NULL)
            return true;
    return orange_invalid_recipient(buf);
}

/*
 * The response says the address does not exist.  Whether that is the
 * address or a filter speaking depends on when it was said (Sisimai's
 * convention, so our reasons compare with it):
 *   - a directory's own verdict, or an enhanced code that says the
 *     destination mailbox address is bad (x.1.0, x.1.1, x.1.3): the address;
 *   - in reply to RCPT TO: the address (that is when directories answer);
 *   - after DATA, or when nobody said when: the recipient's side refused
 *     the message (filtered): some carriers' content filters answer "user
 *     unknown" to mail they do not want, and such a refusal without a
 *     command cannot be told from one.
 * (At MAIL FROM or connection time it is about our sender or host:
 * reason_from_response() turns it into rejected or blocked.)  The class
 * does not depend on this: words that say the address does not exist are
 * hard either way (text_says_address_bad()).
 */
static const char *address_words_reason(const RESPONSE *resp)
{
    if (status_says_bad_mailbox(resp->codes.status) || resp->phase == PHASE_RCPT ||
        directory_verdict(resp->diag))
        return "userunknown";
    return "filtered";
}

/* Reasons about the recipient's address or mailbox. */
static bool reason_is_about_recipient(const char *reason)
{
    return reason != NULL && (name_in(reason, address_reasons) || strcmp(reason, "filtered") == 0);
}

/* x.5.y: the command or its arguments were wrong (RFC 3463 subject 5). */
static bool status_about_command(const char *status)
{
    return status != NULL && (status[0] == '4' || status[0] == '5') && strncmp(status + 1, ".5.", 3) == 0;
}

/*
 * A refusal at connection or HELO time is about our host (blocked), unless
 * the response says more.  What does not count as more: no reason at all
 * (a bare 50x reply included); words about an address or mailbox (none
 * was named yet); and a code that only says the command or its argument
 * was wrong (x.5.y) with no words to explain it, since HELO's only argument
 * is our host's name ("501 5.5.4 Invalid HELO name").  Another code (x.7.y
 * security, x.3.2 not accepting) or words that name the cause ("too many
 * connections", "no PTR record") stay.
 */
static bool refusal_of_our_host(const RESPONSE *resp, const char *reason)
{
    if (resp->phase != PHASE_CONNECT)
        return false;
    if (reason == NULL || reason_is_about_recipient(reason))
        return true;
    return resp->text_reason == NULL && status_about_command(resp->codes.status);
}

static const char *reason_from_response(const BOUNCE_RCPT *rcpt, const RESPONSE *resp)
{
    const char *diag = resp->diag;
    const CODES *codes = &resp->codes;
    const char *text_reason = resp->text_reason;
    const char *status_reason = rules_reason_for_status(codes->status);

    /* x.1.7, x.1.8: the code says the SENDER's address is bad, so text
     * about a bad address is about the sender too (pick_reason()). */
    if (text_reason != NULL && strcmp(text_reason, "userunknown") == 0 &&
        !(status_reason != NULL && strcmp(status_reason, "rejected") == 0))
        text_reason = address_words_reason(resp);
    const char *reason = pick_reason(text_reason, status_reason);

    /* A refusal at MAIL FROM is about our sender, never about the
     * recipient's address. */
    if (resp->phase == PHASE_MAIL && reason_is_about_recipient(reason))
        return "rejected";
    /* Also for a delay warning: a message that waits because our host
     * was refused keeps that cause, as one waiting on a full mailbox does
     * (expired is for a warning that names no cause). */
    if (refusal_of_our_host(resp, reason))
        return "blocked";
    if (reason != NULL)
        return reason;

    if (replycode_says_syntax(codes->replycode))
        return "syntaxerror";
    /* A warning that names no cause: the message is waiting. */
    if (rcpt->action != NULL && strcmp(rcpt->action, "delayed") == 0)
        return "expired";
    /* Sisimai's convention: a response nobody understood is "onhold",
     * no response at all is "undefined". */
    return diag != NULL && *diag != '\0' ? "onhold" : "undefined";
}

/* ------------------------------------------------------------------ */
/* The class of a failure. */

/* The response names an address that does not exist (whatever reason
 * the label got): hard, unless the refusal was about our sender or host. */
static bool text_says_address_bad(const RESPONSE *resp)
{
    if (!name_in(resp->text_reason, address_reasons))
        return false;
    return resp->phase != PHASE_MAIL && resp->phase != PHASE_CONNECT;
}

static bool says_null_mx(const char *diag)
{
    return diag != NULL && (contains_ci(diag, "null mx") || contains_ci(diag, "nullmx"));
}

/*
 * In this order: a reason that passes by itself (full mailbox, too big,
 * expired...) is soft; a bad address is hard; a null MX is hard; then the
 * words ("try again later" soft, "permanent" hard); then the code (5 hard,
 * 4 soft).  Everything else -- onhold or undefined with no code, i.e. a
 * failure nobody explained -- is unknown: policy.c records it and
 * suppresses nothing, rather than block a customer on a guess.
 */
static enum bounce_class classify_failure(const RESPONSE *resp, const char *reason)
{
    const char *diag = resp->diag;
    char cls = code_class(&resp->codes);

    if (classify_reason_is_temporary(reason))
        return CLASS_SOFT;
    if (name_in(reason, address_reasons) || text_says_address_bad(resp))
        return CLASS_HARD;
    /* The detector named another reason, but the response itself says
     * "over quota", "try later": it will go away by itself. */
    if (classify_reason_is_temporary(resp->text_reason))
        return CLASS_SOFT;
    if (strcmp(reason, "notaccept") == 0) {
        /* Null MX is final; "not accepting mail right now" (4xx) is not. */
        if (cls == '4' && !rules_text_says_permanent(diag) && !says_null_mx(diag))
            return CLASS_SOFT;
        return CLASS_HARD;
    }
    if (rules_text_says_temporary(diag))
        return CLASS_SOFT;
    if (rules_text_says_permanent(diag))
        return CLASS_HARD;
    if (cls == '5')
        return CLASS_HARD;
    if (cls == '4')
        return CLASS_SOFT;
    return CLASS_UNKNOWN;
}

/* ------------------------------------------------------------------ */

static bool action_is(const BOUNCE_RCPT *rcpt, const char *action)
{
    return rcpt->action != NULL && strcmp(rcpt->action, action) == 0;
}

/* A detector's reason is kept unless it is one of the "I don't know"s. */
static bool detector_reason_usable(const char *reason)
{
    return reason != NULL && rules_is_reason(reason) &&
           strcmp(reason, "onhold") != 0 && strcmp(reason, "undefined") != 0;
}

void classify_rcpt(BOUNCE_RCPT *rcpt, enum report_kind kind)
{
    RESPONSE resp;

    if (kind == REPORT_COMPLAINT) {
        rcpt->reason = "feedback";
        rcpt->cls = CLASS_COMPLAINT;
        return;
    }
    if (kind == REPORT_AUTOREPLY) {
        rcpt->reason = "vacation";
        rcpt->cls = CLASS_AUTOREPLY;
        return;
    }
    if (action_is(rcpt, "delivered") || action_is(rcpt, "relayed") || action_is(rcpt, "expanded") ||
        (rcpt->status != NULL && rcpt->status[0] == '2' && rcpt->status[1] == '.')) {
        rcpt->reason = "delivered";
        rcpt->cls = CLASS_DELIVERED;
        return;
    }
    response_of(rcpt, &resp);
    if (!detector_reason_usable(rcpt->reason))
        rcpt->reason = reason_from_response(rcpt, &resp);
    if (action_is(rcpt, "delayed")) {
        rcpt->cls = CLASS_DELAYED;
        return;
    }
    rcpt->cls = classify_failure(&resp, rcpt->reason);
}

void classify_report(BOUNCE_REPORT *report)
{
    for (size_t i = 0; i < report->count; i++)
        classify_rcpt(&report->rcpts[i], report->kind);
}
