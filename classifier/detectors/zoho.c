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
#include "c_util.h"
#include "detector.h"

static bool zoho_match(const BOUNCE_MSG *msg)
{
    return c_header_has(msg, "X-Mailer", "Zoho Mail")
        || c_header_present(msg, "X-ZohoMail")
        || c_header_has(msg, "From", "zoho.com");
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
    C_BUF buf = { NULL, 0, 0 };
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
        c_buf_words(&buf, code, strspn(code, "0123456789"));
    if (text != NULL)
        c_buf_words(&buf, text, strlen(text));
    resp = c_buf_take(&buf);
    if (resp != NULL) {
        size_t n = strlen(resp);

        if (n > 0 && resp[n - 1] == ']')
            resp[--n] = '\0';
        c_set_response(rcpt, resp, n);
        if (strstr(resp, "Host not reachable") != NULL)
            rcpt->reason = "expired";
    }
    free(resp);
    free(copy);
}

static int zoho_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    const char *cursor = msg->text;
    const char *line;
    size_t len;
    bool started = false;
    bool warning = false;
    size_t first = report->count;

    while ((line = c_next_line(&cursor, &len)) != NULL) {
        char addr[320];
        BOUNCE_RCPT *rcpt;

        if (!started) {
            started = c_line_starts(line, len, "This message was created automatically by mail delivery", false);
            continue;
        }
        if (c_line_starts(line, len, "THIS IS A WARNING MESSAGE ONLY", false))
            warning = true;
        if (!(c_line_starts(line, len, "[Status: ", false) && c_line_contains(line, len, "Address:"))
            && !(c_line_contains(line, len, "ERROR_CODE :") && len > 0 && !isspace((unsigned char) line[0])))
            continue;
        if (!c_find_address(line, len, addr, sizeof(addr)) || (rcpt = report_add(report)) == NULL)
            continue;
        rcpt_set_address(&rcpt->recipient, addr);
        if (warning)
            rcpt_set(&rcpt->action, "delayed");
        set_zoho_response(rcpt, line, len);
    }
    if (report->count > first)
        report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_zoho = {
    "zoho", zoho_match, zoho_parse,
};
