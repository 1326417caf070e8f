/*
 * sendmail.c: detector for bounces of Sendmail 8 ("Returned mail: see
 * transcript for details", "Warning: could not send message for past
 * 4 hours").
 *
 * Sendmail writes a DSN (RFC 3464), but its Diagnostic-Code holds only the
 * first line of a multi-line SMTP reply, and only the exit code when a
 * local mailer failed.  The human-readable part has the rest: the session
 * transcript ("... while talking to mx.example.org.:", ">>> DATA",
 * "<<< 550-5.7.1 ...") and sendmail's own lines ("<user@example.org>...
 * Deferred: ...", "554 5.3.0 unknown mailer error 255").  This detector
 * takes the recipients from the DSN (from plain text for bounces that lost
 * their MIME structure or were forwarded quoted) and completes each
 * diagnostic from the transcript.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "toolkit.h"
#include "detector.h"

/* One SMTP reply of the transcript, joined, with the host it came from. */
typedef struct sm_reply {
    char *first;            /* first line as received, without "<<< " */
    char *joined;           /* all its lines as one */
    const char *host;       /* "... while talking to HOST.:" (points into lines) */
    const char *command;    /* the SMTP command of the ">>>" line before it */
} SM_REPLY;

/* A line sendmail wrote about one address: "<who>... text". */
typedef struct sm_note {
    char *who;              /* the address or local name, without <> */
    char *text;             /* "Deferred: ..." or the whole "550 5.1.1 <who>... text" */
} SM_NOTE;

/* An entry of "----- The following addresses had permanent fatal errors -----". */
typedef struct sm_entry {
    char *who;
    char *reason;           /* "(reason: ...)" */
    char *expanded;         /* "(expanded from: <...>)" */
} SM_ENTRY;

typedef struct sm_transcript {
    SM_REPLY *replies;
    size_t nreplies;
    SM_NOTE *notes;
    size_t nnotes;
    SM_ENTRY *entries;
    size_t nentries;
    TEXT_BUF general;         /* sendmail's lines with a code but no address */
    TEXT_BUF mailer;          /* what a local mailer printed ("mail.local: unknown user") */
    TEXT_BUF timeout;         /* "Message could not be delivered for 5 days" ... */
} SM_TRANSCRIPT;

/* Sendmail 8's own subjects ("Returned mail: see transcript for details"). */
static bool v8_subject(const char *subject)
{
    static const char tail[] = "see transcript for details";
    size_t len;

    if (subject == NULL)
        return false;
    len = strlen(subject);
    while (len > 0 && isspace((unsigned char) subject[len - 1]))
        len--;
    if (len >= sizeof(tail) - 1
        && strncasecmp(subject + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1) == 0)
        return true;
    return after_prefix_nocase(skip_blank(subject), "Warning: could not send message for past");
}

static bool sendmail_match(const BOUNCE_MSG *msg)
{
    const char *subject = bmsg_header(msg, "Subject");

    /* AOL's relays write the same subject with another body (not ours). */
    if (subject == NULL || bmsg_header(msg, "X-AOL-IP") != NULL)
        return false;
    /* Sendmail 8.8 and older: "Returned mail: Service unavailable". */
    return v8_subject(subject) || after_prefix_nocase(skip_blank(subject), "Returned mail: ");
}

/* Room for one more element (transcripts are short: one at a time). */
static void *grow(void *array, size_t count, size_t size)
{
    return realloc(array, (count + 1) * size);
}

/* Strip the quoting of a bounce forwarded inline ("> " before each line). */
static void unquote(TEXT_LINES *lines)
{
    for (size_t i = 0; i < lines->count; i++) {
        char *line = lines->line[i];

        if (line[0] != '>')
            continue;
        memmove(line, line + 1 + (line[1] == ' '), strlen(line + 1 + (line[1] == ' ')) + 1);
    }
}

/*
 * "<who>... text" or "550 5.1.1 <who>... text": sendmail's line about one
 * address.  Fills *who and *text (new strings).
 */
static bool parse_note(const char *line, char **who, char **text)
{
    const char *dots = strstr(line, "... ");
    const char *end;
    const char *start;
    char code[4];

    if (dots == NULL || dots == line || isspace((unsigned char) dots[-1]))
        return false;
    end = dots;
    start = end;
    while (start > line && !isspace((unsigned char) start[-1]))
        start--;
    /* Before the address only a reply code and an enhanced code may stand. */
    if (start > line) {
        const char *p = skip_blank(line);
        const char *status;
        size_t len;

        if (!text_leading_replycode(p, code))
            return false;
        p = skip_blank(p + 3);
        if ((len = text_find_status(p, &status)) > 0 && status == p)
            p = skip_blank(p + len);
        if (p != start)
            return false;
    }
    if (*start == '<' && end[-1] == '>') {
        start++;
        end--;
    }
    if (end <= start)
        return false;
    *who = strndup(start, (size_t) (end - start));
    *text = text_leading_replycode(line, code) ? strdup(skip_blank(line))
                                            : strdup(skip_blank(dots + 4));
    if (*who == NULL || *text == NULL) {
        free(*who);
        free(*text);
        return false;
    }
    squeeze_space(*text);
    return true;
}

static bool is_section(const char *line, const char *what)
{
    return strstr(line, "-----") != NULL && find_nocase(line, what) != NULL;
}

/* The end of the human-readable text when the bounce has no MIME structure. */
static bool is_text_end(const char *line)
{
    return after_prefix(line, "--") || after_prefix_nocase(line, "Content-Type:")
           || after_prefix_nocase(line, "Reporting-MTA:") || after_prefix_nocase(line, "Final-Recipient:");
}

static void read_entries(const TEXT_LINES *lines, size_t *i, SM_TRANSCRIPT *t)
{
    for (; *i < lines->count; (*i)++) {
        const char *line = lines->line[*i];
        const char *p = skip_blank(line);
        SM_ENTRY *e;

        if (is_section(line, "Transcript of session") || is_text_end(line))
            return;
        if (*p == '\0')
            continue;
        if (*p == '(' && t->nentries > 0) {
            char **field = NULL;
            const char *value = NULL;

            e = &t->entries[t->nentries - 1];
            if (after_prefix_nocase(p, "(reason:")) {
                field = &e->reason;
                value = p + 8;
            } else if (after_prefix_nocase(p, "(expanded from:")) {
                field = &e->expanded;
                value = p + 15;
            }
            if (field != NULL) {
                size_t len = strlen(value);

                /* Only the closing parenthesis of "(reason: ...)" itself. */
                while (len > 0 && isspace((unsigned char) value[len - 1]))
                    len--;
                if (len > 0 && value[len - 1] == ')')
                    len--;
                rcpt_setn(field, value, len);
            }
            continue;
        }
        /* An address at the start of the line opens an entry. */
        if (p != line || (e = grow(t->entries, t->nentries, sizeof(*e))) == NULL)
            continue;
        t->entries = e;
        e = &t->entries[t->nentries];
        if ((e->who = strdup(p)) == NULL)
            continue;
        e->reason = e->expanded = NULL;
        t->nentries++;
    }
}

/*
 * The transcript shows the last command sendmail sent before a reply
 * (">>> RCPT To:<x>"); none before the greeting.  With PIPELINING it sends
 * the RCPT TOs and DATA at once and shows only ">>> DATA": of the replies
 * that follow, the last answers DATA and the ones before it the RCPT TOs
 * ("<<< 550 5.1.1 <x>... User unknown", "<<< 503 5.0.0 Need RCPT").
 */
static void read_session(const TEXT_LINES *lines, size_t *i, SM_TRANSCRIPT *t)
{
    const char *host = NULL;
    const char *command = NULL;
    SM_REPLY *after_data = NULL;    /* the last reply after ">>> DATA" */

    while (*i < lines->count) {
        const char *line = lines->line[*i];
        char *who;
        char *text;
        char code[4];
        size_t used;

        if (is_text_end(line) || is_section(line, "Original message follows")
            || is_section(line, "Message header follows"))
            return;
        if (after_prefix_nocase(line, "... while talking to ")) {
            size_t len;

            host = line + 21;
            /* A reply before any command answered the connection. */
            command = "CONN";
            after_data = NULL;
            len = strlen(host);
            /* "mx.example.org.:" */
            while (len > 0 && (host[len - 1] == ':' || host[len - 1] == '.'))
                len--;
            lines->line[*i][21 + len] = '\0';
        } else if (after_prefix(line, "<<< ")) {
            char *joined = reply_join_lines(lines->line, lines->count, *i, "<<< ", &used);
            SM_REPLY *r = joined ? grow(t->replies, t->nreplies, sizeof(*r)) : NULL;

            if (r != NULL) {
                size_t pipelined = after_data != NULL ? (size_t) (after_data - t->replies) : 0;

                t->replies = r;
                if (after_data != NULL)
                    t->replies[pipelined].command = "RCPT";
                r = &t->replies[t->nreplies++];
                r->first = response_clean(line + 4);    /* NULL is skipped */
                r->joined = joined;
                r->host = host;
                r->command = command;
                after_data = command != NULL && strcmp(command, "DATA") == 0 ? r : NULL;
                *i += used;
                continue;
            }
            free(joined);
        } else if (after_prefix(line, ">>> ")) {
            /* The command; the reply that follows says what went wrong. */
            command = smtp_command_in(line);
            after_data = NULL;
        } else if (parse_note(line, &who, &text)) {
            SM_NOTE *notes = grow(t->notes, t->nnotes, sizeof(*notes));

            if (notes != NULL) {
                t->notes = notes;
                t->notes[t->nnotes].who = who;
                t->notes[t->nnotes++].text = text;
            } else {
                free(who);
                free(text);
            }
        } else if (text_leading_replycode(line, code)) {
            /* "554 5.0.0 Service unavailable" only says the session failed. */
            if (strcmp(squeeze_space(lines->line[*i]), "554 5.0.0 Service unavailable") != 0)
                buf_join_str(&t->general, line);
        } else if (after_prefix(line, "Message could not be delivered")
                   || after_prefix(line, "Warning: message still undelivered")) {
            buf_join_str(&t->timeout, line);
        } else if (!after_prefix(line, "Message will be deleted from queue")
                   && !after_prefix(line, "Will keep trying until") && !after_prefix(line, "**")) {
            buf_join_str(&t->mailer, line);
        }
        (*i)++;
    }
}

static void read_transcript(const TEXT_LINES *lines, SM_TRANSCRIPT *t)
{
    size_t i = 0;

    while (i < lines->count) {
        const char *line = lines->line[i];

        if (is_section(line, "following addresses had")) {
            i++;
            read_entries(lines, &i, t);
        } else if (is_section(line, "Transcript of session follows")) {
            i++;
            read_session(lines, &i, t);
        } else {
            i++;
        }
    }
}

static void transcript_free(SM_TRANSCRIPT *t)
{
    for (size_t i = 0; i < t->nreplies; i++) {
        free(t->replies[i].first);
        free(t->replies[i].joined);
    }
    for (size_t i = 0; i < t->nnotes; i++) {
        free(t->notes[i].who);
        free(t->notes[i].text);
    }
    for (size_t i = 0; i < t->nentries; i++) {
        free(t->entries[i].who);
        free(t->entries[i].reason);
        free(t->entries[i].expanded);
    }
    free(t->replies);
    free(t->notes);
    free(t->entries);
    buf_free(&t->general);
    buf_free(&t->mailer);
    buf_free(&t->timeout);
}

/* True if `who` (as sendmail wrote it) names the recipient addr. */
static bool names_recipient(const char *who, const char *addr)
{
    char *norm = NULL;
    bool same;
    const char *at = strchr(addr, '@');

    if (who == NULL || addr == NULL)
        return false;
    rcpt_set_address(&norm, who);
    same = norm != NULL && strcmp(norm, addr) == 0;
    free(norm);
    /* A local delivery names the user only: "kijitora... Deferred". */
    if (!same && at != NULL && strchr(who, '@') == NULL)
        same = strlen(who) == (size_t) (at - addr)
               && strncasecmp(who, addr, (size_t) (at - addr)) == 0;
    return same;
}

/* True for an empty diagnostic or a bare mailer exit code ("X-Unix; 255",
 * "(reason: 255)"). */
static bool says_nothing(const char *diagnostic)
{
    if (diagnostic == NULL)
        return true;
    diagnostic = dsn_value(diagnostic);
    for (const char *p = diagnostic; *p; p++)
        if (!isdigit((unsigned char) *p) && !isspace((unsigned char) *p))
            return false;
    return true;
}

/* The reply whose first line the DSN's Diagnostic-Code quotes. */
static const SM_REPLY *reply_quoted_by(const SM_TRANSCRIPT *t, const char *diagnostic)
{
    size_t len = strlen(diagnostic);

    for (size_t i = 0; i < t->nreplies; i++)
        if (t->replies[i].first != NULL
            && strncasecmp(t->replies[i].first, diagnostic, len) == 0)
            return &t->replies[i];
    return NULL;
}

/* Sendmail's own words about a recipient whose DSN has no diagnostic:
 * the reply or line about it, after what a local mailer printed and
 * before a note of how long it tried.  Its reply code goes to *code. */
static char *explain(const SM_TRANSCRIPT *t, const BOUNCE_RCPT *rcpt, size_t nrcpts,
                     char code[4])
{
    TEXT_BUF cause = { NULL, 0, 0, false };
    TEXT_BUF text = { NULL, 0, 0, false };
    const char *addr = rcpt->recipient;

    for (size_t i = 0; i < t->nreplies && cause.len == 0; i++)
        if (addr != NULL && find_nocase(t->replies[i].joined, addr) != NULL)
            buf_join_str(&cause, t->replies[i].joined);
    for (size_t i = 0; i < t->nnotes && cause.len == 0; i++)
        if (names_recipient(t->notes[i].who, addr) || (nrcpts == 1 && t->nnotes == 1))
            buf_join_str(&cause, t->notes[i].text);
    for (size_t i = 0; i < t->nentries && cause.len == 0; i++)
        if ((names_recipient(t->entries[i].who, addr)
             || names_recipient(t->entries[i].expanded, addr)
             || nrcpts == 1) && !says_nothing(t->entries[i].reason))
            buf_join_str(&cause, t->entries[i].reason);
    if (cause.len == 0)
        buf_join_str(&cause, t->general.data);
    if (!text_leading_replycode(cause.data, code))
        code[0] = '\0';
    /* A local mailer's own complaint comes first: it is the cause. */
    buf_join_str(&text, t->mailer.data);
    buf_join_str(&text, cause.data);
    buf_join_str(&text, t->timeout.data);
    buf_free(&cause);
    return text.data;
}

/* Complete one recipient's diagnostic from the transcript. */
static void complete(BOUNCE_RCPT *rcpt, const SM_TRANSCRIPT *t, size_t nrcpts,
                     bool mailer_failed)
{
    const SM_REPLY *reply = NULL;

    if (!says_nothing(rcpt->diagnostic))
        reply = reply_quoted_by(t, rcpt->diagnostic);
    if (reply != NULL) {
        if (strlen(reply->joined) > strlen(rcpt->diagnostic))
            rcpt_set(&rcpt->diagnostic, reply->joined);
        if (rcpt->remote_mta == NULL && reply->host != NULL)
            rcpt_set(&rcpt->remote_mta, reply->host);
        if (rcpt->command == NULL && reply->command != NULL)
            rcpt_set(&rcpt->command, reply->command);
    } else if (says_nothing(rcpt->diagnostic)) {
        char code[4];
        char *text = explain(t, rcpt, nrcpts, code);

        if (text != NULL) {
            free(rcpt->diagnostic);
            rcpt->diagnostic = text;
        }
        if (code[0] == '\0' && t->nreplies > 0)
            text_leading_replycode(t->replies[t->nreplies - 1].joined, code);
        if (rcpt->replycode == NULL && code[0] != '\0')
            rcpt_set(&rcpt->replycode, code);
    }
    /* "Diagnostic-Code: X-Unix; 255": a local delivery program failed. */
    if (mailer_failed)
        rcpt->reason = "mailererror";
}

/* Recipients from the transcript alone (no DSN at all). */
static void rcpts_from_transcript(const SM_TRANSCRIPT *t, BOUNCE_REPORT *report)
{
    for (size_t i = 0; i < t->nentries; i++) {
        const SM_ENTRY *e = &t->entries[i];
        const char *who = strchr(e->who, '@') ? e->who : e->expanded;
        BOUNCE_RCPT *rcpt;

        if (who == NULL || strchr(who, '@') == NULL || (rcpt = report_add(report)) == NULL)
            continue;
        rcpt_set_address(&rcpt->recipient, who);
        rcpt_set(&rcpt->diagnostic, e->reason);
    }
    for (size_t i = 0; report->count == 0 && i < t->nnotes; i++) {
        BOUNCE_RCPT *rcpt;

        if (strchr(t->notes[i].who, '@') == NULL || (rcpt = report_add(report)) == NULL)
            continue;
        rcpt_set_address(&rcpt->recipient, t->notes[i].who);
    }
}

static bool mailer_type(const BOUNCE_FIELDS *group)
{
    const char *code = fields_get(group, "Diagnostic-Code");

    return code != NULL && after_prefix_nocase(skip_blank(code), "x-unix");
}

/*
 * "Final-Recipient: RFC822; @mx.example.org": sendmail lost the local
 * part; the address it wrote in the text is the recipient.
 */
static void repair_recipient(BOUNCE_RCPT *rcpt, const SM_TRANSCRIPT *t, size_t nrcpts)
{
    const char *start;
    size_t len;
    char *addr;

    if (rcpt->recipient[0] != '@' && strchr(rcpt->recipient, '@') != NULL)
        return;
    if (nrcpts == 1 && t->nentries == 1 && strchr(t->entries[0].who, '@') != NULL) {
        rcpt_set_address(&rcpt->recipient, t->entries[0].who);
        return;
    }
    if (rcpt->diagnostic != NULL && find_angle_address(rcpt->diagnostic, &start, &len)
        && (addr = strndup(start, len)) != NULL) {
        rcpt_set_address(&rcpt->recipient, addr);
        free(addr);
    }
}

static int sendmail_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    SM_TRANSCRIPT t;
    DSN_GROUPS dsn;
    size_t first = report->count;
    bool marked = false;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count && !marked; i++) {
        const char *line = lines.line[i];

        /* Under another subject only Sendmail 8's list of addresses tells
         * it from Sendmail 5, whose transcript looks the same. */
        if ((is_section(line, "Transcript of session follows")
             && v8_subject(bmsg_header(msg, "Subject")))
            || is_section(line, "following addresses had")) {
            marked = true;
            /* A bounce forwarded inline, quoted with "> ". */
            if (line[0] == '>')
                unquote(&lines);
        }
    }
    if (!marked && (msg->dsn_rcpt_count == 0 || !v8_subject(bmsg_header(msg, "Subject")))) {
        lines_free(&lines);
        return 0;
    }
    memset(&t, 0, sizeof(t));
    read_transcript(&lines, &t);

    dsn_groups_of(msg, &lines, &dsn);
    for (size_t g = 0; g < dsn.count; g++) {
        BOUNCE_RCPT *rcpt = report_add(report);

        if (rcpt == NULL)
            break;
        rcpt_from_dsn(rcpt, &dsn.rcpt[g], dsn.per_message);
        if (rcpt->recipient == NULL) {
            report_truncate(report, report->count - 1);
            continue;
        }
        complete(rcpt, &t, dsn.count, mailer_type(&dsn.rcpt[g]));
        repair_recipient(rcpt, &t, dsn.count);
    }
    if (report->count == first)
        rcpts_from_transcript(&t, report);
    report_default_action(report, first, "failed");
    dsn_groups_free(&dsn);
    transcript_free(&t);
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_sendmail = { "sendmail", sendmail_match, sendmail_parse };
