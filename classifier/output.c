/*
 * output.c: the --dry-run --json lines of suppress-ingest.
 *
 * Offers main() and the corpus tools one JSON object per line per
 * reported recipient, in message order, with every field the classifier
 * decided (see suppress-ingest(8)); a message that is no report gets one
 * line with "class": "none".  json.h escapes what is not valid UTF-8.
 */
#include "config.h"

#include <stdio.h>

#include "bounce.h"
#include "ingest.h"
#include "json.h"

static void output_rcpt_json(FILE *fp, const char *file, const BOUNCE_REPORT *report,
                             const BOUNCE_RCPT *rcpt)
{
    bool first = true;
    const char *action = rcpt->action;

    if (action == NULL && report->kind == REPORT_BOUNCE)
        action = "failed";
    fputc('{', fp);
    json_kv_str(fp, &first, "file", file);
    json_kv_str(fp, &first, "recipient", rcpt->recipient);
    json_kv_str(fp, &first, "original_recipient", rcpt->original_recipient);
    json_kv_str(fp, &first, "action", action);
    json_kv_str(fp, &first, "status", rcpt->status);
    json_kv_str(fp, &first, "replycode", rcpt->replycode);
    json_kv_str(fp, &first, "command", rcpt->command);
    json_kv_str(fp, &first, "reason", rcpt->reason);
    json_kv_str(fp, &first, "class", bounce_class_name(rcpt->cls));
    json_kv_bool(fp, &first, "forwarded", rcpt->forwarded);
    json_kv_str(fp, &first, "diagnostic", rcpt->diagnostic);
    json_kv_str(fp, &first, "reporting_mta", rcpt->reporting_mta);
    json_kv_str(fp, &first, "remote_mta", rcpt->remote_mta);
    json_kv_str(fp, &first, "detector", report->detector);
    json_kv_str(fp, &first, "feedback_type", rcpt->feedback_type);
    fputs("}\n", fp);
}

void output_report_json(FILE *fp, const char *file, const BOUNCE_REPORT *report)
{
    if (report->count == 0) {
        output_none_json(fp, file);
        return;
    }
    for (size_t i = 0; i < report->count; i++)
        output_rcpt_json(fp, file, report, &report->rcpts[i]);
}

void output_none_json(FILE *fp, const char *file)
{
    bool first = true;

    fputc('{', fp);
    json_kv_str(fp, &first, "file", file);
    json_kv_str(fp, &first, "class", "none");
    fputs("}\n", fp);
}

void output_error_json(FILE *fp, const char *file, const char *error)
{
    bool first = true;

    fputc('{', fp);
    json_kv_str(fp, &first, "file", file);
    json_kv_str(fp, &first, "class", "none");
    json_kv_str(fp, &first, "error", error);
    fputs("}\n", fp);
}
