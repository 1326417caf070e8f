/*
 * mailbox.h: where suppress-ingest's messages come from and where the
 * ones it cannot use go.
 *
 *   Maildir (new/ and cur/): a message is unlinked only after its effects
 *     are committed, or moved to the quarantine.  A report that is not
 *     believed (ingest.trust) has its "unverified" events committed and
 *     goes to the quarantine too, whatever the source.
 *   mbox: locked (fcntl and dotlock) while processed, then rewritten
 *     (temp file + rename, mode and owner kept) without the messages that
 *     were committed or quarantined; messages that failed temporarily stay.
 *   stdin: one message (Postfix pipe); quarantined as a new file when it
 *     cannot be used.
 *   files named on the command line: read only, never changed; a copy of
 *     an unusable one goes to the quarantine.
 *
 * The quarantine is a plain directory of messages with Maildir-style
 * unique names; next to each, NAME.reason says where it came from, when,
 * and why it was put there.
 *
 * One file per source in mailbox/: maildir.c, mbox.c, stdin.c, files.c;
 * quarantine.c; common.c holds what they share (mailbox_int.h).
 */
#ifndef MAILBOX_H
#define MAILBOX_H

#include <stddef.h>
#include "ingest.h"
#include "sup_err.h"

typedef struct mailbox_stats {
    unsigned long applied;      /* effects committed */
    unsigned long duplicates;   /* seen before, nothing changed */
    unsigned long quarantined;
    unsigned long unverified;   /* reports not believed (also quarantined) */
    unsigned long deferred;     /* left in place for a retry (store busy...) */
    unsigned long failed;       /* could not even be read or quarantined */
} MAILBOX_STATS;

/*
 * Each returns 0 when every message was dealt with (applied, duplicate or
 * quarantined), else -1 with err describing the first problem (its class
 * decides the exit code; SUP_ERR_TEMP: retry later, nothing was lost).
 */
int mailbox_process_maildir(INGEST_CTX *ctx, const char *dir, MAILBOX_STATS *stats, SUP_ERR *err);
int mailbox_process_mbox(INGEST_CTX *ctx, const char *path, MAILBOX_STATS *stats, SUP_ERR *err);
int mailbox_process_stdin(INGEST_CTX *ctx, MAILBOX_STATS *stats, SUP_ERR *err);
int mailbox_process_file(INGEST_CTX *ctx, const char *path, MAILBOX_STATS *stats, SUP_ERR *err);

/* Write raw[0..len) into the quarantine directory (created if missing)
 * with a NAME.reason file; *name_out (optional, malloc'd) gets the path. */
int mailbox_quarantine_data(const char *dir, const char *source, const char *raw, size_t len,
                            const char *reason, char **name_out, SUP_ERR *err);
/* Move the file at path into the quarantine (rename, or copy + unlink
 * across file systems), with its NAME.reason file. */
int mailbox_quarantine_file(const char *dir, const char *path, const char *reason, SUP_ERR *err);

#endif
