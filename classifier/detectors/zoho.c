/*
 * zoho.c: Zoho Mail bounces.
 *
 * Offers detector_zoho.  From mailer-daemon@mail.zoho.com, "X-Mailer: Zoho
 * Mail"; the text says "This message was created automatically by mail
 * delivery software." and then, one line per recipient,
 *
 *   user@example.jp Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1 <user@example.jp>... User Unknown
 *
 * or, in a delay warning,
 *
 *   [Status: Error, Address: <user@example.jp>, ResponseCode 421, , Host not reachable.]
 *
 * Zoho's category ("Invalid Address") and "ERROR_CODE :" labels are its
 * own; the reply code and the text after them are the server's.  "Host not
 * reachable" is Zoho's word for giving up on connecting.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "toolkit.h"
#include "detector.h"

static bool zoho_match(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "X-Mailer", "Zoho Mail")
        || bmsg_header(msg, "X-ZohoMail") != NULL
        || header_contains(msg, "From", "zoho.com");
}

/* Rebuild "550 5.1.1 <x>... User Unknown" from Zoho's labelled line: the
 * first code after "ERROR_CODE :" (or "ResponseCode ") and the text after
 * the last label. */
static void set_zoho_response(BOUNCE_RCPT *rcpt, const char *line, size_t len)
{
    char *copy = strndup(line, len);
    const char *code = NULL;
    const char *text;
    char *p;
    TEXT_BUF buf = { NULL, 0, 0, false };
    char *resp;

    if (copy == NULL)
        return;
    if ((p = strstr(copy, "ERROR_CODE :")) != NULL)
        code = p + strlen("ERROR_CODE :");
    else if ((p = strstr(copy, "ResponseCode ")) != NULL)
        code = p + strlen("ResponseCode ");
    text = code;
    if (text != NULL) {
        const char *last;

        while ((last = strstr(text, "ERROR_CODE :")) != NULL)
            text = last + strlen("ERROR_CODE :");
        if (text == code) {
            /* "ResponseCode 421, , Host not reachable.]" */
            while (*text && *text != ',')
                text++;
        }
        while (*text == ',' || isspace((unsigned char) *text))
            text++;
    } else {
        text = copy;
    }
    if (code != NULL && isdigit((unsigned char) code[0]))
        buf_join(&buf, code, strspn(code, "0123456789"));
    if (text != NULL)
        buf_join(&buf, text, strlen(text));
    resp = buf_take(&buf);
    if (resp != NULL) {
        size_t n = strlen(resp);

        if (n > 0 && resp[n - 1] == ']')
            resp[--n] = '\0';
        rcpt_set_response(rcpt, resp);
        if (strstr(resp, "Host not reachable") != NULL)
            rcpt->reason = "expired";
    }
    free(resp);
    free(copy);
}

/* The notice's details begin after the line that starts so. */
static const char opening[] = "This message was created automatically by mail delivery";

static int zoho_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    bool warning = false;
    size_t first = report->count;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t l = lines_after(&lines, 0, opening); l < lines.count; l++) {
        const char *line = lines.line[l];
        size_t len = strlen(line);
        char addr[320];
        BOUNCE_RCPT *rcpt;

        if (after_prefix(line, "THIS IS A WARNING MESSAGE ONLY") != NULL)
            warning = true;
        if (!(after_prefix(line, "[Status: ") != NULL && find_nocase(line, "Address:") != NULL)
            && !(find_nocase(line, "ERROR_CODE :") != NULL && len > 0 && !isspace((unsigned char) line[0])))
            continue;
        if (!find_address(line, len, addr, sizeof(addr)) || (rcpt = report_add(report)) == NULL)
            continue;
        rcpt_set_address(&rcpt->recipient, addr);
        if (warning)
            rcpt_set(&rcpt->action, "delayed");
        set_zoho_response(rcpt, line, len);
    }
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_zoho = {
    "zoho", zoho_match, zoho_parse,
};
