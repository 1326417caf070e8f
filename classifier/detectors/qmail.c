/*
 * qmail.c: detector for qmail bounces (qmail-send's "failure notice").
 *
 * Offers detector_qmail to detectors.c.  After "Hi. This is the qmail-send
 * program at host." qmail lists each recipient as "<address>:" followed by
 * qmail-remote's account of what happened, and the remote server's
 * response after "Remote host said:":
 *
 *   <user@example.jp>:
 *   192.0.2.153 does not like recipient.
 *   Remote host said: 550 5.1.1 <user@example.jp>... User Unknown
 *   Giving up on 192.0.2.153.
 *
 * qmail's own sentences (qmail-remote.c, qmail-send.c, qmail-local.c) say
 * which stage failed, and for DNS and connection failures they are the
 * only explanation there is.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detector.h"
#include "toolkit.h"

typedef struct qm_entry {
    char *address;
    TEXT_BUF response;         /* "Remote host said:" and its continuation */
    TEXT_BUF explanation;      /* qmail's own sentences */
    char *host;
    const char *command;    /* the SMTP stage qmail-remote names */
    bool queue_expired;     /* "this message has been in the queue too long" */
} QM_ENTRY;

typedef struct qm_entries {
    QM_ENTRY *item;
    size_t count;
    char *reporting;        /* "qmail-send program at <host>." */
} QM_ENTRIES;

static const char qm_queue_too_long[] =
    "I'm not going to try again; this message has been in the queue too long.";

static bool qmail_match(const BOUNCE_MSG *msg)
{
    const char *subject = bmsg_header(msg, "Subject");

    if (subject != NULL && strcasecmp(subject, "failure notice") == 0)
        return true;
    return header_contains(msg, "Received", " invoked for bounce)")
        || (header_contains(msg, "Received", "(qmail ")
            && header_contains(msg, "Received", " invoked "));
}

static bool is_opening_line(const char *line)
{
    return after_prefix_nocase(line, "Hi. This is the qmail") != NULL
        || strstr(line, "This is the qmail-send program") != NULL;
}

/* "--- Below this line is a copy of the message." and its variants. */
static bool is_closing_line(const char *line)
{
    return strncmp(line, "--- ", 4) == 0
        && (strstr(line, "copy of the message") != NULL
            || strstr(line, "original bounce") != NULL);
}

/* "<user@example.jp>:" (some patches write "To: <...>:"). */
static const char *recipient_line(const char *line, size_t *len)
{
    const char *gt;
    const char *rest;

    if ((rest = after_prefix_nocase(line, "To:")) != NULL)
        line = rest;
    while (*line == ' ')
        line++;
    if (*line != '<' || (gt = strrchr(line, '>')) == NULL || gt[1] != ':'
        || !is_blank(gt + 2) || memchr(line, '@', (size_t) (gt - line)) == NULL)
        return NULL;
    *len = (size_t) (gt - line - 1);
    return line + 1;
}

/* The host name a qmail-remote sentence starts or ends with. */
static void take_host(QM_ENTRY *e, const char *start, size_t len)
{
    while (len > 0 && (start[len - 1] == '.' || start[len - 1] == ' '))
        len--;
    if (e->host == NULL && len > 0)
        e->host = strndup(start, len);
}

/* Recognize qmail-remote's sentences about a stage; false if none. */
static bool read_stage_sentence(QM_ENTRY *e, const char *line)
{
    static const char *const after_host[] = {
        " does not like recipient.", " failed on DATA command.",
        " failed after I sent the message.", NULL
    }, *const connected[] = {
        " but greeting failed.", " but my name was rejected.", " but sender was rejected.", NULL
    };
    const char *p;

    /* Newer patches prefix "From: <x> RCPT: <y> " to the sentence. */
    if (after_prefix_nocase(line, "From: ") != NULL && (p = strstr(line, " RCPT: ")) != NULL
        && (p = strchr(p + 7, ' ')) != NULL)
        line = p + 1;
    if ((p = after_prefix_nocase(line, "Error:")) != NULL)
        line = p;
    for (int i = 0; after_host[i] != NULL; i++)
        if ((p = strstr(line, after_host[i])) != NULL) {
            take_host(e, line, (size_t) (p - line));
            e->command = smtp_command_in(p);
            return true;
        }
    if ((p = after_prefix_nocase(line, "Connected to ")) != NULL)
        for (int i = 0; connected[i] != NULL; i++) {
            const char *q = strstr(p, connected[i]);

            if (q != NULL) {
                take_host(e, p, (size_t) (q - p));
                e->command = smtp_command_in(q);
                return true;
            }
        }
    return false;
}

/* Take one line of an entry. `in_response` continues a multi-line reply. */
static void entry_add_line(QM_ENTRY *e, const char *line, bool *in_response)
{
    const char *rest;
    const char *q;
    char code[4];

    if ((rest = after_prefix_nocase(line, "Remote host said:")) != NULL) {
        buf_join_str(&e->response, rest);
        *in_response = true;
        return;
    }
    if (*in_response && text_leading_replycode(line, code)) {
        buf_join_str(&e->response, line);
        return;
    }
    *in_response = false;
    if ((rest = after_prefix_nocase(line, "Giving up on ")) != NULL) {
        take_host(e, rest, strlen(rest));
        return;
    }
    if (read_stage_sentence(e, line))
        return;
    /* "...(#4.4.3)I'm not going to try again; this message has been in
     * the queue too long." is qmail-send's, wrapped anywhere. */
    buf_join_str(&e->explanation, line);
    if ((q = strstr(buf_str(&e->explanation), "I'm not going to try again;")) != NULL) {
        e->queue_expired = true;
        if (strstr(q, "too long.") != NULL) {
            e->explanation.len = (size_t) (q - e->explanation.data);
            while (e->explanation.len > 0 && e->explanation.data[e->explanation.len - 1] == ' ')
                e->explanation.len--;
            e->explanation.data[e->explanation.len] = '\0';
        }
    }
}

static void entries_free(QM_ENTRIES *entries)
{
    for (size_t i = 0; i < entries->count; i++) {
        free(entries->item[i].address);
        free(entries->item[i].host);
        buf_free(&entries->item[i].response);
        buf_free(&entries->item[i].explanation);
    }
    free(entries->item);
    free(entries->reporting);
    memset(entries, 0, sizeof(*entries));
}

static void entries_read(const char *text, QM_ENTRIES *entries)
{
    TEXT_LINES lines;
    bool opened = false;
    bool in_response = false;
    QM_ENTRY *cur = NULL;

    memset(entries, 0, sizeof(*entries));
    if (lines_split(text, &lines) < 0)
        return;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];
        const char *addr;
        size_t len;

        if (!opened) {
            if ((opened = is_opening_line(line)))
                entries->reporting = host_after(line, " program at ");
            continue;
        }
        if (is_closing_line(line))
            break;
        if ((addr = recipient_line(line, &len)) != NULL) {
            QM_ENTRY *more = realloc(entries->item, (entries->count + 1) * sizeof(*more));

            if (more == NULL)
                break;
            entries->item = more;
            cur = &entries->item[entries->count++];
            memset(cur, 0, sizeof(*cur));
            cur->address = strndup(addr, len);
            in_response = false;
        } else if (cur != NULL && !is_blank(line)) {
            entry_add_line(cur, line, &in_response);
        } else {
            in_response = false;
        }
    }
    lines_free(&lines);
}

/*
 * qmail-remote-fallback: "Sorry, no SMTP connection got far enough; most
 * progress was RCPT TO response; remote host X said: 550 ... (#5.5.0)".
 * The server's words are after "said:", before qmail's code and the list
 * of other MXes.
 */
static char *words_in_explanation(const char *text)
{
    const char *said = strstr(text, " said: ");
    const char *end;

    if (said == NULL || strstr(text, "remote host ") == NULL)
        return NULL;
    said += 7;
    if ((end = strstr(said, " (#")) == NULL && (end = strstr(said, "(Other MXes")) == NULL)
        end = said + strlen(said);
    while (end > said && (end[-1] == ' ' || end[-1] == '.'))
        end--;
    return strndup(said, (size_t) (end - said));
}

/* qmail's "(#5.1.1)" code: its length, start in *code. */
static size_t qmail_code(const char *text, const char **code)
{
    const char *p = text ? strstr(text, "(#") : NULL;
    size_t len = p != NULL ? text_find_status(p + 2, code) : 0;

    return len > 0 && *code == p + 2 ? len : 0;
}

/* qmail's own sentences that name the reason (qmail-remote, qmail-local,
 * qmail-ldap). */
static const PHRASE_REASON qm_phrases[] = {
    { "Sorry, I couldn't find any host named", "hostunknown" },
    { "Sorry, I couldn't find any host by that name", "hostunknown" },
    { "Sorry, I couldn't find a mail exchanger or IP address", "notaccept" },
    { "Sorry, I wasn't able to establish an SMTP connection", "networkerror" },
    { "Sorry. Although I'm listed as a best-preference MX or A for that host", "networkerror" },
    { "Sorry, no mailbox here by that name", "userunknown" },
    { "Mailaddress is administratively disabled", "suspend" },
    { "Mailaddress is administrativly disabled", "suspend" },
    { "The message exeeded the maximum size the user accepts", "exceedlimit" },
    { "Unable to contact LDAP server", "systemerror" },
    { "Unable to login into LDAP server", "systemerror" },
    { "Temporary failure in LDAP lookup", "systemerror" },
    { "Timeout while performing search on LDAP server", "systemerror" },
    { "Too many results returned but needs to be unique", "systemerror" },
    { "LDAP attribute is not given but mandatory", "systemerror" },
    { "Illegal value in LDAP attribute", "systemerror" },
    { "Automatic homedir creator crashed", "systemerror" },
    { "Temporary error in automatic homedir creation", "systemerror" },
    { "error while executing qmail-forward", "systemerror" },
    { NULL, NULL }
};

static void rcpt_set_reason(BOUNCE_RCPT *rcpt, const QM_ENTRY *e)
{
    const char *reason = phrase_reason(qm_phrases, buf_str(&e->explanation));

    /* A server refused at a stage qmail-remote names: classify.c reads
     * the stage, qmail's summary of the queue says less. */
    if (rcpt->command != NULL)
        return;
    if (reason != NULL)
        rcpt_reason_unless_rules(rcpt, reason);
    else if (e->queue_expired)
        rcpt_reason_unless_rules(rcpt, "expired");
}

static void rcpt_fill(BOUNCE_RCPT *rcpt, const QM_ENTRY *e)
{
    const char *expl = buf_str(&e->explanation);
    char *words = NULL;
    const char *code;
    size_t len;

    rcpt_set_address(&rcpt->recipient, e->address);
    rcpt_set(&rcpt->action, "failed");
    if (e->host != NULL)
        rcpt_set(&rcpt->remote_mta, e->host);
    if (e->response.len > 0)
        rcpt_set_response(rcpt, buf_str(&e->response));
    else if ((words = words_in_explanation(expl)) != NULL)
        rcpt_set_response(rcpt, words);
    else if (expl[0] != '\0')
        rcpt_set_response(rcpt, expl);
    else if (e->queue_expired)
        rcpt_set_response(rcpt, qm_queue_too_long);
    free(words);
    if (rcpt->status == NULL && (len = qmail_code(expl, &code)) > 0)
        rcpt_setn(&rcpt->status, code, len);
    if (e->command != NULL)
        rcpt_set(&rcpt->command, e->command);
    rcpt_set_command(rcpt, expl);
    rcpt_set_reason(rcpt, e);
}

static int qmail_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    QM_ENTRIES entries;
    int added = 0;

    entries_read(msg->text, &entries);
    for (size_t i = 0; i < entries.count; i++) {
        BOUNCE_RCPT *rcpt = report_add(report);

        if (rcpt == NULL)
            break;
        added++;
        rcpt_fill(rcpt, &entries.item[i]);
        if (entries.reporting != NULL)
            rcpt_set(&rcpt->reporting_mta, entries.reporting);
    }
    entries_free(&entries);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_qmail = { "qmail", qmail_match, qmail_parse };
