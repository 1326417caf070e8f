/*
 * check_message.c: unit tests of suppress-ingest's parsing core: the
 * field parser (fields.c), message.c on hand-made messages (RFC 2047,
 * base64 and quoted-printable DSN parts, global DSNs, nested messages,
 * text/rfc822-headers, HTML-only and 8-bit bounces, broken MIME, limits,
 * a bounce forwarded as an attachment, DSN values kept literal, NUL bytes
 * from quoted-printable),
 * and the report helpers (report.c, detectors.c) and VERP decoding.  The
 * generic detectors (rfc3464, arf, autoreply, fallback) are tested in
 * check_generic_detectors.c.
 *
 * Samples live in data/ingest/; they are written for these tests, not
 * taken from the corpus.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "addr.h"
#include "bounce.h"
#include "decide/classify.h"
#include "detectors/detector.h"
#include "detectors/toolkit.h"
#include "ingest.h"
#include "parse/message.h"
#include "sample.h"

extern const DETECTOR detector_rfc3464;

#define DATA_DIR "ingest"

/* ---- helpers ---------------------------------------------------------- */

/* Parse a sample of data/ingest/; the caller message_free()s. */
static void load(const char *name, BOUNCE_MSG *msg)
{
    sample_parse(DATA_DIR, name, NULL, msg);
}

/* ---- fields_parse ----------------------------------------------------- */

START_TEST(test_fields_folding)
{
    BOUNCE_FIELDS f = { NULL, 0 };

    ck_assert_uint_eq(fields_parse("Diagnostic-Code: smtp; 550-5.1.1 one\r\n"
                                   "    550 5.1.1 two\r\n"
                                   "\tthree\r\n"
                                   "Action: failed\r\n", &f), 2);
    ck_assert_str_eq(f.items[0].name, "Diagnostic-Code");
    ck_assert_str_eq(f.items[0].value, "smtp; 550-5.1.1 one 550 5.1.1 two three");
    ck_assert_str_eq(fields_get(&f, "action"), "failed");
    ck_assert_ptr_null(fields_get(&f, "Status"));
    fields_free(&f);
    ck_assert_uint_eq(f.count, 0);
}
END_TEST

START_TEST(test_fields_junk)
{
    BOUNCE_FIELDS f = { NULL, 0 };

    /* Leading blank lines skipped, prose and colon-less lines skipped, a
     * space before the colon tolerated, the block ends at a blank line. */
    ck_assert_uint_eq(fields_parse("\n\r\n"
                                   "This is not a field, even with a colon: see?\n"
                                   "no colon at all\n"
                                   "   orphan continuation\n"
                                   "Reporting-MTA : dns; mx.example\n"
                                   ": empty name\n"
                                   "Status:5.1.1\n"
                                   "\n"
                                   "Final-Recipient: rfc822; after@blank.example\n", &f), 2);
    ck_assert_str_eq(fields_get(&f, "Reporting-MTA"), "dns; mx.example");
    ck_assert_str_eq(fields_get(&f, "Status"), "5.1.1");
    ck_assert_ptr_null(fields_get(&f, "Final-Recipient"));
    fields_free(&f);

    /* Appends to what is there already; empty and NULL input add nothing. */
    ck_assert_uint_eq(fields_parse("A: 1\n", &f), 1);
    ck_assert_uint_eq(fields_parse("B: 2", &f), 1);
    ck_assert_uint_eq(f.count, 2);
    ck_assert_uint_eq(fields_parse("", &f), 0);
    ck_assert_uint_eq(fields_parse(NULL, &f), 0);
    ck_assert_str_eq(fields_get(&f, "b"), "2");
    fields_free(&f);
}
END_TEST

START_TEST(test_fields_decoding)
{
    BOUNCE_FIELDS f = { NULL, 0 };

    /* RFC 2047 words, and raw Latin-1 bytes that must come out as UTF-8. */
    fields_parse("Subject: =?ISO-8859-1?Q?Caf=E9?= =?UTF-8?B?4oCT?= ok\n"
                 "X-Raw: Empf\xe4nger unbekannt\n", &f);
    ck_assert_str_eq(fields_get(&f, "Subject"), "Café– ok");
    ck_assert(g_utf8_validate(fields_get(&f, "X-Raw"), -1, NULL));
    ck_assert_str_eq(fields_get(&f, "X-Raw"), "Empfänger unbekannt");
    fields_free(&f);
}
END_TEST

START_TEST(test_fields_raw)
{
    BOUNCE_FIELDS f = { NULL, 0 };

    /* DSN values are not RFC 2047-decoded; bytes that are not UTF-8 are
     * repaired all the same. */
    ck_assert_uint_eq(fields_parse_raw("Final-Recipient: rfc822; =?utf-8?B?8J+QiPCfkIg=?=@x.example\n"
                                       "Diagnostic-Code: smtp; 550 Empf\xe4nger unbekannt\n", &f), 2);
    ck_assert_str_eq(fields_get(&f, "Final-Recipient"), "rfc822; =?utf-8?B?8J+QiPCfkIg=?=@x.example");
    ck_assert(g_utf8_validate(fields_get(&f, "Diagnostic-Code"), -1, NULL));
    ck_assert_str_eq(fields_get(&f, "Diagnostic-Code"), "smtp; 550 Empfänger unbekannt");
    fields_free(&f);
}
END_TEST

/* ---- message.c -------------------------------------------------------- */

START_TEST(test_message_dsn_basic)
{
    BOUNCE_MSG m;

    load("dsn-basic.eml", &m);
    ck_assert_str_eq(m.content_type, "multipart/report");
    ck_assert_str_eq(m.report_type, "delivery-status");
    ck_assert_str_eq(bmsg_header(&m, "subject"), "Undelivered Mail – returned");
    ck_assert_str_eq(bmsg_header(&m, "Content-Type"),
                     "multipart/report; report-type=delivery-status; boundary=\"BOUNDARY-1\"");
    ck_assert_str_eq(m.envelope_recipient, "bounces@sender.example");
    ck_assert_uint_gt(m.raw_size, 1000);
    ck_assert_ptr_nonnull(strstr(m.text, "I'm sorry to have to inform you"));
    ck_assert_ptr_null(strstr(m.text, "Reporting-MTA"));
    ck_assert_ptr_null(strchr(m.text, '\r'));
    /* The DSN: one per-message group, two recipients, values unfolded. */
    ck_assert_str_eq(fields_get(&m.dsn_message, "Reporting-MTA"), "dns; mx.sender.example");
    ck_assert_uint_eq(m.dsn_rcpt_count, 2);
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[0], "Diagnostic-Code"),
                     "smtp; 550 5.1.1 <alice@dest.example>: Recipient address rejected: User unknown");
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[1], "Action"), "delayed");
    /* The returned message's headers, decoded. */
    ck_assert_ptr_nonnull(m.returned);
    ck_assert_str_eq(bmsg_returned_header(&m, "Subject"), "Café news");
    ck_assert_str_eq(bmsg_returned_header(&m, "To"), "alice@dest.example, bob@dest.example");
    ck_assert_ptr_null(m.feedback);
    /* The flat body: every text and status part, then the returned headers. */
    ck_assert_ptr_nonnull(strstr(m.flat, "Content-Type: text/plain\nI'm sorry"));
    ck_assert_ptr_nonnull(strstr(m.flat, "Content-Type: message/delivery-status\nReporting-MTA:"));
    ck_assert_ptr_nonnull(strstr(m.flat, "Content-Type: message/rfc822\n"));
    ck_assert_ptr_nonnull(strstr(m.flat, "Message-ID: <original.1@sender.example>"));
    ck_assert_ptr_null(strstr(m.flat, "Hello."));
    message_free(&m);
    ck_assert_ptr_null(m.text);
}
END_TEST

START_TEST(test_message_envelope_override)
{
    BOUNCE_MSG m;

    sample_parse(DATA_DIR, "dsn-basic.eml", "bounces+x=y.example@sender.example", &m);
    ck_assert_str_eq(m.envelope_recipient, "bounces+x=y.example@sender.example");
    message_free(&m);
}
END_TEST

START_TEST(test_message_base64_dsn_and_headers_part)
{
    BOUNCE_MSG m;

    load("dsn-base64.eml", &m);
    /* quoted-printable Latin-1 text -> UTF-8 */
    ck_assert_ptr_nonnull(strstr(m.text, "être remis à carol@dest.example"));
    /* base64 DSN with CRLF lines */
    ck_assert_uint_eq(m.dsn_rcpt_count, 1);
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[0], "Final-Recipient"), "rfc822; carol@dest.example");
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[0], "Status"), "5.0.0");
    /* text/rfc822-headers is the returned message */
    ck_assert_str_eq(bmsg_returned_header(&m, "To"), "carol@dest.example");
    message_free(&m);
}
END_TEST

START_TEST(test_message_global_dsn)
{
    BOUNCE_MSG m;

    load("dsn-qp-global.eml", &m);
    ck_assert_str_eq(m.report_type, "global-delivery-status");
    ck_assert_uint_eq(m.dsn_rcpt_count, 1);
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[0], "Final-Recipient"), "utf-8; jürgen@dest.example");
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[0], "Diagnostic-Code"), "smtp; 552 5.2.2 Postfach voll (über Quota)");
    ck_assert_str_eq(bmsg_returned_header(&m, "To"), "jürgen@dest.example");
    ck_assert_ptr_nonnull(strstr(m.text, "n’a pas été remis"));
    message_free(&m);
}
END_TEST

START_TEST(test_message_dsn_without_blank_lines)
{
    BOUNCE_MSG m;

    load("dsn-noblank.eml", &m);
    ck_assert_str_eq(fields_get(&m.dsn_message, "Reporting-MTA"), "dns; mx.sender.example");
    ck_assert_ptr_null(fields_get(&m.dsn_message, "Final-Recipient"));
    ck_assert_uint_eq(m.dsn_rcpt_count, 2);
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[0], "Original-Recipient"), "rfc822; dan@dest.example");
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[0], "Status"), "5.1.1");
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[1], "Original-Recipient"), "rfc822; eve@dest.example");
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[1], "Diagnostic-Code"), "smtp; 550 5.1.2 Host unknown");
    message_free(&m);
}
END_TEST

START_TEST(test_message_dsn_field_order)
{
    BOUNCE_MSG m;

    /* Action before Final-Recipient, Original-Recipient after it: one
     * recipient; a stray blank line inside the group does not split it. */
    sample_parse_string("From: MAILER-DAEMON@x.example\n"
                 "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
                 "--b\nContent-Type: text/plain\n\nfailed\n"
                 "--b\nContent-Type: message/delivery-status\n\n"
                 "Reporting-MTA: dns; x.example\n\n"
                 "Action: failed\nFinal-Recipient: rfc822; a@y.example\n"
                 "Original-Recipient: rfc822; a@y.example\n\n"
                 "Status: 4.3.0\nDiagnostic-Code: smtp; 451 4.3.0 later\n"
                 "--b--\n", &m);
    ck_assert_uint_eq(m.dsn_rcpt_count, 1);
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[0], "Status"), "4.3.0");
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[0], "Original-Recipient"), "rfc822; a@y.example");
    message_free(&m);
}
END_TEST

START_TEST(test_message_nested_rfc822)
{
    BOUNCE_MSG m;

    load("nested-rfc822.eml", &m);
    ck_assert_str_eq(m.content_type, "multipart/mixed");
    ck_assert_ptr_null(m.report_type);
    /* text/plain of the alternative, not the HTML, not the returned body */
    ck_assert_ptr_nonnull(strstr(m.text, "The following address failed:\n"));
    ck_assert_ptr_null(strstr(m.text, "<p>"));
    ck_assert_ptr_null(strstr(m.text, "trap@"));
    ck_assert_ptr_null(strstr(m.flat, "trap@"));
    /* the HTML alternative is in the flat body, reduced to text */
    ck_assert_ptr_nonnull(strstr(m.flat, "Content-Type: text/html\n"));
    ck_assert_ptr_nonnull(strstr(m.flat, "<frank@dest.example>"));
    ck_assert_str_eq(bmsg_returned_header(&m, "To"), "frank@dest.example");
    ck_assert_str_eq(bmsg_returned_header(&m, "Content-Type"), "multipart/mixed; boundary=\"inner\"");
    message_free(&m);
}
END_TEST

START_TEST(test_message_forwarded_report)
{
    BOUNCE_MSG m;

    /* A filter's notice with the bounce attached: the attached report's
     * DSN groups and returned headers are read, the notice stays the text. */
    load("forwarded-report.eml", &m);
    ck_assert_str_eq(m.content_type, "multipart/mixed");
    ck_assert_uint_eq(m.dsn_rcpt_count, 1);
    ck_assert_str_eq(fields_get(&m.dsn_message, "Reporting-MTA"), "dns; relay.example");
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[0], "Final-Recipient"), "rfc822; olivia@dest.example");
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[0], "Status"), "5.1.1");
    ck_assert_str_eq(bmsg_returned_header(&m, "Subject"), "The original newsletter");
    ck_assert_ptr_nonnull(strstr(m.text, "The filter passed on a delivery failure report."));
    ck_assert_ptr_null(strstr(m.text, "wrapped report"));
    ck_assert_ptr_nonnull(strstr(m.flat, "Content-Type: message/delivery-status\n"));
    message_free(&m);
}
END_TEST

START_TEST(test_message_own_report_first)
{
    BOUNCE_MSG m;

    /* A report of its own: an attached bounce is a returned message, not read into. */
    sample_parse_string("From: MAILER-DAEMON@relay.example\n"
                 "Subject: failure\n"
                 "MIME-Version: 1.0\n"
                 "Content-Type: multipart/report; report-type=delivery-status; boundary=\"o\"\n\n"
                 "--o\nContent-Type: text/plain\n\nown text\n"
                 "--o\nContent-Type: message/delivery-status\n\n"
                 "Reporting-MTA: dns; relay.example\n\n"
                 "Final-Recipient: rfc822; own@dest.example\nAction: failed\nStatus: 5.1.1\n\n"
                 "--o\nContent-Type: message/rfc822\n\n"
                 "From: other@x.example\nSubject: an old bounce\nMIME-Version: 1.0\n"
                 "Content-Type: multipart/report; report-type=delivery-status; boundary=\"i\"\n\n"
                 "--i\nContent-Type: message/delivery-status\n\n"
                 "Reporting-MTA: dns; x.example\n\n"
                 "Final-Recipient: rfc822; inner@dest.example\nAction: failed\nStatus: 5.1.1\n\n"
                 "--i--\n--o--\n", &m);
    ck_assert_uint_eq(m.dsn_rcpt_count, 1);
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[0], "Final-Recipient"), "rfc822; own@dest.example");
    ck_assert_str_eq(bmsg_returned_header(&m, "Subject"), "an old bounce");
    ck_assert_str_eq(m.text, "own text");
    message_free(&m);
}
END_TEST

START_TEST(test_message_dsn_values_not_decoded)
{
    BOUNCE_MSG m;
    BOUNCE_REPORT r;

    /* The literal "=?utf-8?B?...?=@" address is what was sent to: the DSN
     * keeps it, while message headers are decoded. */
    load("dsn-encoded-word-address.eml", &m);
    ck_assert_str_eq(bmsg_header(&m, "Subject"), "Returned mail: Empfänger unbekannt");
    ck_assert_uint_eq(m.dsn_rcpt_count, 1);
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[0], "Final-Recipient"), "rfc822; =?utf-8?B?8J+QiPCfkIg=?=@dest.example");
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[0], "Original-Recipient"), "rfc822; =?utf-8?B?8J+QiPCfkIg=?=@dest.example");
    ck_assert_str_eq(bmsg_returned_header(&m, "Subject"), "Café news");
    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(detector_rfc3464.parse(&m, &r), 1);
    ck_assert_str_eq(r.rcpts[0].recipient, "=?utf-8?b?8j+qipcfkig=?=@dest.example");
    report_clear(&r);
    message_free(&m);
}
END_TEST

START_TEST(test_message_qp_nul)
{
    BOUNCE_MSG m;

    /* "=00" in quoted-printable Windows-1252 text: nothing after it is lost,
     * and no control character but TAB and LF is left in the text. */
    load("qp-nul.eml", &m);
    ck_assert_ptr_nonnull(strstr(m.text, "wasn’t found"));
    ck_assert_ptr_nonnull(strstr(m.text, "LinkId=00000000>, bad byte"));
    ck_assert_ptr_nonnull(strstr(m.text, "here, a bell  and a lone carriage return.\n"));
    ck_assert_ptr_nonnull(strstr(m.text, "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; "
                                         "Recipient not found by SMTP address lookup'"));
    for (const unsigned char *p = (const unsigned char *) m.text; *p; p++)
        ck_assert_msg(*p >= 0x20 || *p == '\t' || *p == '\n', "control character 0x%02x in the text", *p);
    for (const unsigned char *p = (const unsigned char *) m.flat; *p; p++)
        ck_assert_msg(*p >= 0x20 || *p == '\t' || *p == '\n', "control character 0x%02x in flat", *p);
    message_free(&m);
}
END_TEST

START_TEST(test_message_broken_mime)
{
    BOUNCE_MSG m;

    /* A multipart whose boundary never appears: the text is all there. */
    load("broken-mime.eml", &m);
    ck_assert_ptr_nonnull(strstr(m.text, "<grace@dest.example>: host mx.dest.example said: 550 5.1.1"));
    ck_assert_ptr_nonnull(strstr(m.flat, "grace@dest.example"));
    ck_assert_uint_eq(m.dsn_rcpt_count, 0);
    message_free(&m);
}
END_TEST

START_TEST(test_message_html_only)
{
    BOUNCE_MSG m;

    load("html-only.eml", &m);
    ck_assert_ptr_nonnull(strstr(m.text, "Delivery has failed to these recipients:"));
    ck_assert_ptr_nonnull(strstr(m.text, "heidi@dest.example\n550 5.1.1 User unknown & gone – sorry"));
    ck_assert_ptr_null(strstr(m.text, "color"));
    ck_assert_ptr_null(strstr(m.text, "<p>"));
    message_free(&m);
}
END_TEST

START_TEST(test_message_8bit_undeclared)
{
    BOUNCE_MSG m;

    load("latin1-8bit.eml", &m);
    ck_assert(g_utf8_validate(m.text, -1, NULL));
    ck_assert_ptr_nonnull(strstr(m.text, "Empfänger unbekannt"));
    message_free(&m);
}
END_TEST

START_TEST(test_message_mbox_from_line)
{
    BOUNCE_MSG m;

    sample_parse_string("From MAILER-DAEMON Mon Mar  2 10:00:00 2026\n"
                 "From: MAILER-DAEMON@x.example\nSubject: test\n\nbody\n", &m);
    ck_assert_str_eq(bmsg_header(&m, "Subject"), "test");
    ck_assert_str_eq(m.text, "body\n");
    message_free(&m);
}
END_TEST

START_TEST(test_message_garbage)
{
    static const char *const inputs[] = {
        "", "\n\n\n", "no headers at all, just text", "\xff\xfe\x00\x01 binary",
        "Content-Type: multipart/mixed; boundary=\"\"\n\n--\n--\n",
        "Content-Type: message/rfc822\n\n",
        "Content-Type: multipart/report; boundary=x\n\n--x\nContent-Type: message/delivery-status\n"
        "Content-Transfer-Encoding: base64\n\n!!!not base64!!!\n--x--\n",
    };
    static const size_t lengths[] = { 0, 3, 28, 12, 0, 0, 0 };

    for (size_t i = 0; i < G_N_ELEMENTS(inputs); i++) {
        BOUNCE_MSG m;
        MESSAGE_LIMITS limits = { 0, 0, 0, 0, 0 };
        SUP_ERR err;
        size_t len = lengths[i] ? lengths[i] : strlen(inputs[i]);

        ck_assert_int_eq(message_parse(inputs[i], len, "junk", NULL, &limits, &m, &err), 0);
        ck_assert_ptr_nonnull(m.text);
        ck_assert_ptr_nonnull(m.flat);
        ck_assert(g_utf8_validate(m.text, -1, NULL));
        ck_assert(g_utf8_validate(m.flat, -1, NULL));
        message_free(&m);
    }
}
END_TEST

START_TEST(test_message_size_limit)
{
    MESSAGE_LIMITS limits = { 100, 0, 0, 0, 0 };
    BOUNCE_MSG m;
    SUP_ERR err;
    size_t len;
    char *raw = sample_read(DATA_DIR, "dsn-basic.eml", &len);

    ck_assert_int_eq(message_parse(raw, len, "big.eml", NULL, &limits, &m, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.text, "big.eml"));
    ck_assert_ptr_nonnull(strstr(err.text, "max-message-size"));
    message_free(&m);
    limits.max_size = len;
    ck_assert_int_eq(message_parse(raw, len, "exact.eml", NULL, &limits, &m, &err), 0);
    message_free(&m);
    free(raw);
}
END_TEST

/* A message with `depth` nested multiparts around one text part. */
static char *nested_message(int depth)
{
    GString *s = g_string_new("From: x@y.example\n");

    for (int i = 0; i < depth; i++)
        g_string_append_printf(s, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i);
    g_string_append(s, "Content-Type: text/plain\n\ndeep\n");
    for (int i = depth - 1; i >= 0; i--)
        g_string_append_printf(s, "--b%d--\n", i);
    return g_string_free(s, FALSE);
}

START_TEST(test_message_depth_limit)
{
    MESSAGE_LIMITS limits = { 0, 20, 0, 0, 0 };
    BOUNCE_MSG m;
    SUP_ERR err;
    char *ok = nested_message(19);
    char *deep = nested_message(40);

    ck_assert_int_eq(message_parse(ok, strlen(ok), "ok", NULL, &limits, &m, &err), 0);
    ck_assert_str_eq(m.text, "deep");
    message_free(&m);
    ck_assert_int_eq(message_parse(deep, strlen(deep), "deep", NULL, &limits, &m, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.text, "max-mime-depth"));
    message_free(&m);
    g_free(ok);
    g_free(deep);
}
END_TEST

/* A DSN with `rcpts` recipient groups, `fields` extra header fields and
 * one header line of `line` bytes (0: none). */
static char *limits_message(int rcpts, int fields, size_t line)
{
    GString *s = g_string_new("From: MAILER-DAEMON@mx.example\nTo: bounces@sender.example\n");

    for (int i = 0; i < fields; i++)
        g_string_append_printf(s, "X-Field-%d: v\n", i);
    if (line > 0) {
        g_string_append(s, "X-Long: ");
        for (size_t i = strlen("X-Long: "); i < line; i++)
            g_string_append_c(s, 'x');
        g_string_append(s, "\r\n");
    }
    g_string_append(s, "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status;"
                    " boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nfailed\n\n"
                    "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example\n\n");
    for (int i = 0; i < rcpts; i++)
        g_string_append_printf(s, "Final-Recipient: rfc822; u%d@dest.example\nAction: failed\nStatus: 5.1.1\n\n", i);
    g_string_append(s, "--b--\n");
    return g_string_free(s, FALSE);
}

/* parse with limits: 0 or -1, the error text in err. */
static int parse_limited(const char *raw, const MESSAGE_LIMITS *limits, SUP_ERR *err)
{
    BOUNCE_MSG m;
    int rc;

    sup_err_clear(err);
    rc = message_parse(raw, strlen(raw), "limited.eml", NULL, limits, &m, err);
    message_free(&m);
    return rc;
}

START_TEST(test_message_line_limit)
{
    MESSAGE_LIMITS limits = { 0, 0, 1000, 0, 0 };
    SUP_ERR err;
    char *exact = limits_message(1, 0, 1000);   /* CR LF not counted */
    char *over = limits_message(1, 0, 1001);

    ck_assert_int_eq(parse_limited(exact, &limits, &err), 0);
    ck_assert_int_eq(parse_limited(over, &limits, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.text, "limited.eml: a line of 1001 bytes"));
    ck_assert_ptr_nonnull(strstr(err.text, "ingest.max-line-length (1000)"));
    limits.max_line = 0;
    ck_assert_int_eq(parse_limited(over, &limits, &err), 0);
    g_free(exact);
    g_free(over);
}
END_TEST

START_TEST(test_message_header_limit)
{
    MESSAGE_LIMITS limits = { 0, 0, 0, 30, 0 };
    SUP_ERR err;
    /* Its own From, To, MIME-Version, Content-Type: 4 fields. */
    char *exact = limits_message(1, 26, 0);
    char *over = limits_message(1, 27, 0);

    ck_assert_int_eq(parse_limited(exact, &limits, &err), 0);
    ck_assert_int_eq(parse_limited(over, &limits, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.text, "31 header fields, more than ingest.max-header-count (30)"));
    g_free(exact);
    g_free(over);
}
END_TEST

/* The returned message's header, which the scan of the raw header misses. */
START_TEST(test_message_returned_header_limit)
{
    MESSAGE_LIMITS limits = { 0, 0, 0, 10, 0 };
    GString *s = g_string_new("From: MAILER-DAEMON@mx.example\nMIME-Version: 1.0\n"
                              "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n"
                              "--b\nContent-Type: text/plain\n\nfailed\n\n--b\nContent-Type: text/rfc822-headers\n\n");
    SUP_ERR err;

    for (int i = 0; i < 11; i++)
        g_string_append_printf(s, "X-Returned-%d: v\n", i);
    g_string_append(s, "\n--b--\n");
    ck_assert_int_eq(parse_limited(s->str, &limits, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "11 header fields in the returned message, more than ingest.max-header-count (10)"));
    limits.max_headers = 11;
    ck_assert_int_eq(parse_limited(s->str, &limits, &err), 0);
    g_string_free(s, TRUE);
}
END_TEST

START_TEST(test_message_recipient_limit)
{
    MESSAGE_LIMITS limits = { 0, 0, 0, 0, 5 };
    SUP_ERR err;
    char *exact = limits_message(5, 0, 0);
    char *over = limits_message(6, 0, 0);

    ck_assert_int_eq(parse_limited(exact, &limits, &err), 0);
    ck_assert_int_eq(parse_limited(over, &limits, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.text, "6 recipients in the delivery status, more than ingest.max-recipients (5)"));
    g_free(exact);
    g_free(over);
}
END_TEST


START_TEST(test_message_dsn_parsed_as_message)
{
    BOUNCE_MSG m;

    /* GMime versions differ on whether a delivery-status part is a leaf or
     * a message: make it a message (this test runs in its own process). */
    g_mime_object_register_type("message", "delivery-status", GMIME_TYPE_MESSAGE_PART);
    g_mime_object_register_type("message", "feedback-report", GMIME_TYPE_MESSAGE_PART);
    load("dsn-basic.eml", &m);
    ck_assert_str_eq(fields_get(&m.dsn_message, "Reporting-MTA"), "dns; mx.sender.example");
    ck_assert_uint_eq(m.dsn_rcpt_count, 2);
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[0], "Final-Recipient"), "rfc822; Alice@Dest.Example");
    ck_assert_str_eq(fields_get(&m.dsn_rcpts[1], "Final-Recipient"), "rfc822; bob@dest.example");
    message_free(&m);
    load("arf-standard.eml", &m);
    ck_assert_ptr_nonnull(m.feedback);
    ck_assert_str_eq(fields_get(m.feedback, "Feedback-Type"), "abuse");
    ck_assert_str_eq(fields_get(m.feedback, "Original-Rcpt-To"), "<Ivan@isp.example>");
    message_free(&m);
}
END_TEST

/* ---- report helpers --------------------------------------------------- */

START_TEST(test_rcpt_set_address)
{
    char *field = NULL;

    ck_assert_int_eq(rcpt_set_address(&field, "RFC822; <John@Example.COM>"), 0);
    ck_assert_str_eq(field, "john@example.com");
    ck_assert_int_eq(rcpt_set_address(&field, "utf-8; user@example.org"), 0);
    ck_assert_str_eq(field, "user@example.org");
    ck_assert_int_eq(rcpt_set_address(&field, "  <bob@example.net>:  "), 0);
    ck_assert_str_eq(field, "bob@example.net");
    /* not an address: kept, lowercased, and said so */
    ck_assert_int_eq(rcpt_set_address(&field, "Undisclosed Recipients"), -1);
    ck_assert_str_eq(field, "undisclosed recipients");
    ck_assert_int_eq(rcpt_set_address(&field, "rfc822;"), -1);
    ck_assert_ptr_null(field);
    rcpt_set(&field, "  trimmed  ");
    ck_assert_str_eq(field, "trimmed");
    rcpt_setn(&field, "abcdef", 3);
    ck_assert_str_eq(field, "abc");
    rcpt_set(&field, NULL);
    ck_assert_ptr_null(field);
}
END_TEST

START_TEST(test_header_first_address)
{
    char out[ADDR_MAX + 1];

    ck_assert_int_eq(header_first_address("\"Doe, John\" <J.Doe@X.example>, b@y.example", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "j.doe@x.example");
    ck_assert_int_eq(header_first_address("a@x.example (Alice, at work)", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "a@x.example");
    ck_assert_int_eq(header_first_address("Undisclosed recipients:;, c@z.example", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "c@z.example");
    ck_assert_int_eq(header_first_address("<Undisclosed Recipients>", out, sizeof(out)), -1);
    ck_assert_int_eq(header_first_address(NULL, out, sizeof(out)), -1);
}
END_TEST

START_TEST(test_verp_decode)
{
    char out[ADDR_MAX + 1];

    ck_assert_int_eq(verp_decode("bounces+%{local}=%{domain}@example.org",
                                 "bounces+John.Doe=Dest.Example@example.org", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "john.doe@dest.example");
    /* the local part may contain the separator; the domain cannot */
    ck_assert_int_eq(verp_decode("bounces+%{local}=%{domain}@example.org",
                                 "bounces+a=b=c.example@example.org", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "a=b@c.example");
    ck_assert_int_eq(verp_decode("b-%{domain}-%{local}@example.org",
                                 "b-dest.example-x-y@example.org", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "x-y@dest.example");
    ck_assert_int_eq(verp_decode("bounces+%{local}=%{domain}@example.org",
                                 "other@example.org", out, sizeof(out)), -1);
    ck_assert_int_eq(verp_decode("bounces+%{local}=%{domain}@example.org",
                                 "bounces+=x@example.org", out, sizeof(out)), -1);
    ck_assert_int_eq(verp_decode("no placeholders", "x@y", out, sizeof(out)), -1);
}
END_TEST

static Suite *message_suite(void)
{
    Suite *s = suite_create("message");
    TCase *tc;

    tc = tcase_create("fields");
    tcase_add_test(tc, test_fields_folding);
    tcase_add_test(tc, test_fields_junk);
    tcase_add_test(tc, test_fields_decoding);
    tcase_add_test(tc, test_fields_raw);
    suite_add_tcase(s, tc);

    tc = tcase_create("message");
    tcase_add_test(tc, test_message_dsn_basic);
    tcase_add_test(tc, test_message_envelope_override);
    tcase_add_test(tc, test_message_base64_dsn_and_headers_part);
    tcase_add_test(tc, test_message_global_dsn);
    tcase_add_test(tc, test_message_dsn_without_blank_lines);
    tcase_add_test(tc, test_message_dsn_field_order);
    tcase_add_test(tc, test_message_nested_rfc822);
    tcase_add_test(tc, test_message_forwarded_report);
    tcase_add_test(tc, test_message_own_report_first);
    tcase_add_test(tc, test_message_dsn_values_not_decoded);
    tcase_add_test(tc, test_message_qp_nul);
    tcase_add_test(tc, test_message_broken_mime);
    tcase_add_test(tc, test_message_html_only);
    tcase_add_test(tc, test_message_8bit_undeclared);
    tcase_add_test(tc, test_message_mbox_from_line);
    tcase_add_test(tc, test_message_garbage);
    tcase_add_test(tc, test_message_size_limit);
    tcase_add_test(tc, test_message_depth_limit);
    tcase_add_test(tc, test_message_line_limit);
    tcase_add_test(tc, test_message_header_limit);
    tcase_add_test(tc, test_message_returned_header_limit);
    tcase_add_test(tc, test_message_recipient_limit);
    tcase_add_test(tc, test_message_dsn_parsed_as_message);
    suite_add_tcase(s, tc);

    tc = tcase_create("helpers");
    tcase_add_test(tc, test_rcpt_set_address);
    tcase_add_test(tc, test_header_first_address);
    tcase_add_test(tc, test_verp_decode);
    suite_add_tcase(s, tc);

    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    g_mime_init();
    sr = srunner_create(message_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    g_mime_shutdown();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
