/*
 * postfix.c: detector for Postfix bounces (the bounce(5) templates).
 *
 * Offers detector_postfix to detectors.c.  A Postfix bounce is a
 * multipart/report whose first part says, after "The mail system", one
 * paragraph per recipient:
 *
 *   <user@example.com>: host mx.example.com[192.0.2.1] said: 550 5.1.1
 *       <user@example.com>... User Unknown (in reply to RCPT TO command)
 *
 * and whose message/delivery-status part repeats it in fields.  The DSN
 * fields are the reference (Final-Recipient is the address that failed,
 * after aliases); the paragraphs fill in what the fields lack.  Older or
 * forwarded bounces carry the same text without a MIME structure, and the
 * "errors from" notice to the postmaster carries an SMTP transcript.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detector.h"
#include "toolkit.h"

/* One "<rcpt> (expanded from <orig>): text" paragraph. */
typedef struct pf_para {
    char *rcpt;
    char *orig;
    char *text;
} PF_PARA;

typedef struct pf_paras {
    PF_PARA *item;
    size_t count;
    bool report_unavailable;    /* "--- Delivery report unavailable ---" */
    char *reporting;            /* "This is the mail system at host <host>." */
} PF_PARAS;

/* What Postfix wrapped around the remote server's words. */
typedef struct pf_response {
    char *text;                 /* the response (or Postfix's explanation) */
    char *host;                 /* "host mx.example.com[...]" */
} PF_RESPONSE;

static const char *const pf_subjects[] = {
    "Undelivered Mail Returned to Sender",
    "Delayed Mail (still being retried)",
    "Successful Mail Delivery Report",
    "Mail Delivery Status Report",
    "Postfix SMTP server: errors from",
    NULL
};

static bool postfix_match(const BOUNCE_MSG *msg)
{
    const char *subject = bmsg_header(msg, "Subject");
    const char *from = bmsg_header(msg, "From");

    for (int i = 0; subject != NULL && pf_subjects[i] != NULL; i++)
        if (after_prefix_nocase(subject, pf_subjects[i]) != NULL)
            return true;
    /* Custom templates change the subject, rarely the sender's comment. */
    return from != NULL && find_nocase(from, "(Mail Delivery System)") != NULL
        && header_contains(msg, "Received", "(Postfix");
}

/*
 * The line that opens the recipients' paragraphs: "The mail system",
 * "The Postfix program", "This is the mail system at host x", or a
 * customized "The <name> program".
 */
static bool is_opening_line(const char *line)
{
    const char *rest;

    while (isspace((unsigned char) *line))
        line++;
    if ((rest = after_prefix_nocase(line, "This is the ")) == NULL
        && (rest = after_prefix_nocase(line, "The ")) == NULL)
        return false;
    if (after_prefix_nocase(rest, "mail system") != NULL)
        return true;
    /* "<name> program" or "<name> Postfix program", maybe "at host x.";
     * <name> is $mail_name, which distributions lengthened ("The Postfix
     * on SuSE Linux 6.4 (i386) program", flufl.bounce's postfix_03). */
    for (int words = 0; words < 8 && *rest; words++) {
        size_t len = strcspn(rest, " ");

        if (len == 7 && strncasecmp(rest, "program", 7) == 0)
            return true;
        rest += len;
        while (*rest == ' ')
            rest++;
    }
    return false;
}

/* A paragraph starts with "<address>" (Postfix may indent it by one space). */
static bool starts_paragraph(const char *line)
{
    const char *gt;

    if (line[0] == ' ')
        line++;
    if (line[0] != '<' || (gt = strchr(line, '>')) == NULL)
        return false;
    return memchr(line, '@', (size_t) (gt - line)) != NULL;
}

/* Lines after which the human-readable part is over. */
static bool ends_paragraphs(const char *line)
{
    return after_prefix_nocase(line, "Content-Type:") != NULL
        || after_prefix_nocase(line, "Final-Recipient:") != NULL
        || after_prefix_nocase(line, "Reporting-MTA:") != NULL
        || (line[0] == '-' && line[1] == '-' && line[2] != '-' && line[2] != ' '
            && line[2] != '\0');
}

static void paras_free(PF_PARAS *paras)
{
    for (size_t i = 0; i < paras->count; i++) {
        free(paras->item[i].rcpt);
        free(paras->item[i].orig);
        free(paras->item[i].text);
    }
    free(paras->item);
    free(paras->reporting);
    memset(paras, 0, sizeof(*paras));
}

/* Copy the address between '<' at p and its '>'; returns the end or NULL. */
static const char *take_bracketed(const char *p, char **out)
{
    const char *gt;

    if (*p != '<' || (gt = strchr(p, '>')) == NULL)
        return NULL;
    *out = strndup(p + 1, (size_t) (gt - p - 1));
    return gt + 1;
}

/* Split "<rcpt> (expanded from <orig>): text" into a paragraph entry. */
static void paras_add(PF_PARAS *paras, const char *joined)
{
    PF_PARA para = { NULL, NULL, NULL };
    PF_PARA *more;
    const char *p = joined;
    const char *rest;

    if ((p = take_bracketed(p, &para.rcpt)) == NULL)
        return;
    while (*p == ' ')
        p++;
    if ((rest = after_prefix_nocase(p, "(expanded from ")) != NULL
        && (rest = take_bracketed(rest, &para.orig)) != NULL) {
        p = rest;
        if (*p == ')')
            p++;
    }
    while (*p == ' ' || *p == ':')
        p++;
    para.text = strdup(p);
    more = realloc(paras->item, (paras->count + 1) * sizeof(*more));
    if (more != NULL)
        paras->item = more;
    if (more == NULL || para.rcpt == NULL || para.text == NULL) {
        free(para.rcpt);
        free(para.orig);
        free(para.text);
        return;
    }
    paras->item[paras->count++] = para;
}

/* Read the recipients' paragraphs of the human-readable part. */
static void paras_read(const char *text, PF_PARAS *paras)
{
    TEXT_LINES lines;
    TEXT_BUF cur = { NULL, 0, 0, false };
    bool opened = false;

    memset(paras, 0, sizeof(*paras));
    if (lines_split(text, &lines) < 0)
        return;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];

        if (!opened) {
            if ((opened = is_opening_line(line)))
                paras->reporting = host_after(line, " at host ");
            continue;
        }
        if (find_nocase(line, "--- delivery report unavailable ---") != NULL)
            paras->report_unavailable = true;
        if (starts_paragraph(line)) {
            if (cur.len > 0)
                paras_add(paras, buf_str(&cur));
            buf_free(&cur);
            buf_join_str(&cur, line);
        } else if (cur.len > 0 && is_indented(line)) {
            buf_join_str(&cur, line);
        } else {
            if (cur.len > 0)
                paras_add(paras, buf_str(&cur));
            buf_free(&cur);
            if (ends_paragraphs(line) && paras->count > 0)
                break;
        }
    }
    if (cur.len > 0)
        paras_add(paras, buf_str(&cur));
    buf_free(&cur);
    lines_free(&lines);
}

/* Remove a trailing "(in reply to RCPT TO command)" in place. */
static void strip_in_reply_to(char *text)
{
    char *p = strstr(text, "(in reply to ");

    if (p != NULL && strstr(p, "command)") != NULL) {
        while (p > text && p[-1] == ' ')
            p--;
        *p = '\0';
    }
}

/* "host mx.example.com[192.0.2.1]": the name before '['. */
static char *host_before(const char *text, const char *end)
{
    const char *host = NULL;

    for (const char *p = text; p < end; p++)
        if (strncmp(p, "host ", 5) == 0 && (p == text || p[-1] == ' '))
            host = p + 5;
    if (host == NULL)
        return NULL;
    return strndup(host, strcspn(host, "[ "));
}

/*
 * Separate the remote server's words from Postfix's wrapping:
 *   host H[ip] said: RESPONSE (in reply to X command)
 *   host H[ip] refused to talk to me: RESPONSE
 *   connect to H[ip]: server refused to talk to me: RESPONSE
 * Anything else is Postfix's own explanation and is kept whole.
 */
static void response_parse(const char *raw, PF_RESPONSE *resp)
{
    static const char *const markers[] = { " said: ", "refused to talk to me: ", NULL };
    char *text = response_clean(raw);
    const char *words = NULL;

    memset(resp, 0, sizeof(*resp));
    if (text == NULL)
        return;
    for (int i = 0; markers[i] != NULL; i++) {
        const char *m = strstr(text, markers[i]);

        if (m != NULL && (words == NULL || m < words)) {
            words = m + strlen(markers[i]);
            resp->host = host_before(text, m);
            if (resp->host == NULL && (m = strstr(text, "connect to ")) != NULL)
                resp->host = strndup(m + 11, strcspn(m + 11, "[ :"));
        }
    }
    if (words != NULL && *words) {
        resp->text = response_clean(words);
        free(text);
    } else {
        resp->text = text;
    }
    if (resp->text != NULL)
        strip_in_reply_to(resp->text);
}

static void response_free(PF_RESPONSE *resp)
{
    free(resp->text);
    free(resp->host);
}

/*
 * Set the diagnostic (and what it reveals) from Postfix's text; `para` is
 * the recipient's paragraph when the text came from the DSN fields, which
 * do not say which command the server refused.
 */
static void rcpt_take_response(BOUNCE_RCPT *rcpt, const char *raw, const char *para)
{
    PF_RESPONSE resp;

    response_parse(raw, &resp);
    if (resp.text != NULL && resp.text[0] != '\0')
        rcpt_set(&rcpt->diagnostic, resp.text);
    if (rcpt->remote_mta == NULL && resp.host != NULL && resp.host[0] != '\0')
        rcpt_set(&rcpt->remote_mta, resp.host);
    rcpt_complete_codes(rcpt);
    rcpt_set_command(rcpt, para);
    rcpt_set_command(rcpt, raw);
    response_free(&resp);
}

static bool para_is_about(const void *paras, size_t i, const BOUNCE_RCPT *rcpt)
{
    const PF_PARA *p = &((const PF_PARAS *) paras)->item[i];

    return same_address(p->rcpt, rcpt->recipient)
        || (rcpt->original_recipient != NULL
            && (same_address(p->rcpt, rcpt->original_recipient)
                || same_address(p->orig, rcpt->original_recipient)));
}

/* The paragraph about the recipient of the index-th of `groups` DSN
 * groups (the texts may name different addresses), or NULL. */
static const PF_PARA *para_for(const PF_PARAS *paras, const BOUNCE_RCPT *rcpt,
                               size_t index, size_t groups)
{
    size_t i = entry_for_rcpt(paras, paras->count, rcpt, index, groups, para_is_about);

    return i < paras->count ? &paras->item[i] : NULL;
}

/* The action when there are no DSN fields to say it. */
static const char *action_from_subject(const BOUNCE_MSG *msg)
{
    const char *subject = bmsg_header(msg, "Subject");

    if (after_prefix_nocase(subject, "Delayed Mail") != NULL)
        return "delayed";
    if (after_prefix_nocase(subject, "Successful Mail Delivery") != NULL)
        return "delivered";
    return "failed";
}

/* Empty, or only a reply code ("550"). */
static bool is_bare_code(const char *text)
{
    while (isspace((unsigned char) *text))
        text++;
    while (isdigit((unsigned char) *text))
        text++;
    return is_blank(text);
}

static int parse_with_dsn(const BOUNCE_MSG *msg, const DSN_GROUPS *dsn,
                          const PF_PARAS *paras, BOUNCE_REPORT *report)
{
    int added = 0;

    for (size_t i = 0; i < dsn->count; i++) {
        BOUNCE_RCPT *rcpt = report_add(report);
        const PF_PARA *para;
        const char *diag;

        if (rcpt == NULL)
            break;
        added++;
        rcpt_from_dsn(rcpt, &dsn->rcpt[i], dsn->per_message);
        if (rcpt->action == NULL)
            rcpt_set(&rcpt->action, action_from_subject(msg));
        para = para_for(paras, rcpt, i, dsn->count);
        /* Postfix's own DSN diagnostics ("X-Postfix; host x said: ...")
         * carry the same wrapping as the paragraphs; a bare reply code
         * says less than the paragraph. */
        diag = fields_get(&dsn->rcpt[i], "Diagnostic-Code");
        if (diag != NULL && strchr(diag, ';') != NULL)
            diag = strchr(diag, ';') + 1;
        if (diag != NULL && !is_bare_code(diag))
            rcpt_take_response(rcpt, diag, para ? para->text : NULL);
        else if (para != NULL)
            rcpt_take_response(rcpt, para->text, NULL);
        if (rcpt->reporting_mta == NULL && paras->reporting != NULL)
            rcpt_set(&rcpt->reporting_mta, paras->reporting);
        if (para != NULL && rcpt->remote_mta == NULL) {
            PF_RESPONSE resp;

            response_parse(para->text, &resp);
            if (resp.host != NULL && resp.host[0] != '\0')
                rcpt_set(&rcpt->remote_mta, resp.host);
            response_free(&resp);
        }
    }
    return added;
}

static int parse_paragraphs(const BOUNCE_MSG *msg, const PF_PARAS *paras,
                            BOUNCE_REPORT *report)
{
    int added = 0;

    for (size_t i = 0; i < paras->count; i++) {
        BOUNCE_RCPT *rcpt = report_add(report);

        if (rcpt == NULL)
            break;
        added++;
        rcpt_set_address(&rcpt->recipient, paras->item[i].rcpt);
        if (paras->item[i].orig != NULL)
            rcpt_set_address(&rcpt->original_recipient, paras->item[i].orig);
        rcpt_mark_forwarded(rcpt);
        rcpt_set(&rcpt->action, action_from_subject(msg));
        if (paras->reporting != NULL)
            rcpt_set(&rcpt->reporting_mta, paras->reporting);
        rcpt_take_response(rcpt, paras->item[i].text, NULL);
    }
    return added;
}

/* "--- Delivery report unavailable ---": only the returned To: is left. */
static int parse_unavailable(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    const char *to = bmsg_returned_header(msg, "To");
    BOUNCE_RCPT *rcpt;

    if (to == NULL || strchr(to, '@') == NULL || (rcpt = report_add(report)) == NULL)
        return 0;
    rcpt_set_address(&rcpt->recipient, to);
    rcpt_set(&rcpt->action, action_from_subject(msg));
    return 1;
}

/* One RCPT TO of a transcript and what became of it. */
typedef struct pf_rcpt_to {
    char *address;
    int state;                  /* 0 pending, 2 accepted, 4/5 refused */
    char *response;
} PF_RCPT_TO;

static void transcript_fail(BOUNCE_REPORT *report, const PF_RCPT_TO *r,
                            const char *response, const char *command, int *added)
{
    BOUNCE_RCPT *rcpt = report_add(report);

    if (rcpt == NULL)
        return;
    (*added)++;
    rcpt_set_address(&rcpt->recipient, r->address);
    rcpt_set(&rcpt->action, "failed");
    rcpt_set_response(rcpt, response);
    rcpt_set(&rcpt->command, command);
}

/*
 * "Postfix SMTP server: errors from client": the session transcript.  The
 * recipient is the RCPT TO the server refused, or every accepted one when
 * the error came after DATA.
 */
static int parse_transcript(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    PF_RCPT_TO *rcpts = NULL;
    size_t count = 0;
    bool in_data = false;
    bool last_was_rcpt = false;
    char *data_error = NULL;
    int added = 0;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];
        const char *rest;

        while (*line == ' ')
            line++;
        if ((rest = after_prefix_nocase(line, "In:")) != NULL) {
            while (*rest == ' ')
                rest++;
            last_was_rcpt = false;
            if ((rest = after_prefix_nocase(rest, "RCPT TO:")) != NULL) {
                PF_RCPT_TO *more = realloc(rcpts, (count + 1) * sizeof(*more));

                if (more == NULL)
                    break;
                rcpts = more;
                rcpts[count].address = strndup(rest, strcspn(rest, " "));
                rcpts[count].state = 0;
                rcpts[count].response = NULL;
                count++;
                last_was_rcpt = true;
            }
        } else if ((rest = after_prefix_nocase(line, "Out:")) != NULL) {
            char code[4];

            while (*rest == ' ')
                rest++;
            if (!text_leading_replycode(rest, code))
                continue;
            if (last_was_rcpt && count > 0 && rcpts[count - 1].state == 0) {
                rcpts[count - 1].state = code[0] - '0';
                if (code[0] >= '4')
                    rcpts[count - 1].response = strdup(rest);
                last_was_rcpt = false;
            } else if (code[0] == '3') {
                in_data = true;
            } else if (in_data && code[0] >= '4' && data_error == NULL) {
                data_error = strdup(rest);
            }
        }
    }
    for (size_t i = 0; i < count; i++) {
        if (rcpts[i].address == NULL)
            continue;
        if (rcpts[i].state >= 4)
            transcript_fail(report, &rcpts[i], rcpts[i].response, "RCPT", &added);
        else if (rcpts[i].state == 2 && data_error != NULL)
            transcript_fail(report, &rcpts[i], data_error, "DATA", &added);
        free(rcpts[i].address);
        free(rcpts[i].response);
    }
    free(rcpts);
    free(data_error);
    lines_free(&lines);
    return added;
}

static int postfix_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    PF_PARAS paras;
    DSN_GROUPS dsn;
    int added = 0;

    if (after_prefix_nocase(bmsg_header(msg, "Subject"), "Postfix SMTP server: errors from") != NULL) {
        added = parse_transcript(msg, report);
    } else {
        paras_read(msg->text, &paras);
        dsn_groups_of(msg, NULL, &dsn);
        /* Without the opening line this is not Postfix's template. */
        if (paras.count > 0 || paras.report_unavailable) {
            if (dsn.count > 0)
                added = parse_with_dsn(msg, &dsn, &paras, report);
            else if (paras.count > 0)
                added = parse_paragraphs(msg, &paras, report);
            else
                added = parse_unavailable(msg, report);
        }
        dsn_groups_free(&dsn);
        paras_free(&paras);
    }
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_postfix = { "postfix", postfix_match, postfix_parse };
