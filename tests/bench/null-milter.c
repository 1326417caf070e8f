/*
 * null-milter.c: the floor of the milter door, for postfix-bench.sh.  A
 * libmilter milter that asks the MTA for RCPT TO only and answers CONTINUE
 * there: at option negotiation it turns down every other step (connect,
 * HELO, MAIL, DATA, headers, end of headers, body, unknown commands) and
 * asks for no actions, so what is left is what any milter that looks at
 * recipients must cost: the connection and negotiation per SMTP session,
 * one round trip per RCPT, and end of message, which the protocol cannot
 * negotiate away.  milter-suppress is measured against it.
 *
 * It reads only "socket" and "pid-file" from the -c config file the
 * benchmark writes for milter-suppress, and ignores the other options.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

/* Every step the MTA may skip except RCPT; the MTA keeps what it cannot skip. */
#define ALL_BUT_RCPT (SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NOBODY \
                      | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOUNKNOWN | SMFIP_NODATA)

static sfsistat null_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                               unsigned long f2, unsigned long f3, unsigned long *pf0,
                               unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    (void) ctx;
    (void) f0;
    (void) f2;
    (void) f3;
    *pf0 = 0;                   /* no actions: nothing to change in a message */
    *pf1 = ALL_BUT_RCPT & f1;
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

static sfsistat null_envrcpt(SMFICTX *ctx, char **argv)
{
    (void) ctx;
    (void) argv;
    return SMFIS_CONTINUE;
}

static struct smfiDesc null_desc = {
    .xxfi_name = "null-milter",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = 0,
    .xxfi_envrcpt = null_envrcpt,
    .xxfi_negotiate = null_negotiate,
};

int main(int argc, char **argv)
{
    char line[1024], sock[512] = "", pid_file[512] = "";
    const char *conf = NULL;
    FILE *fp;

    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "-c") == 0)
            conf = argv[i + 1];
    if (conf == NULL || (fp = fopen(conf, "r")) == NULL) {
        fprintf(stderr, "usage: null-milter -c CONFIG\n");
        return 64;
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        (void) sscanf(line, " socket = \"%511[^\"]\"", sock);
        (void) sscanf(line, " pid-file = \"%511[^\"]\"", pid_file);
    }
    fclose(fp);
    if (strncmp(sock, "unix:", 5) == 0)
        unlink(sock + 5);
    umask(0);
    if (smfi_setconn(sock) != MI_SUCCESS || smfi_register(null_desc) != MI_SUCCESS
        || smfi_opensocket(1) != MI_SUCCESS) {
        fprintf(stderr, "null-milter: cannot listen on %s\n", sock);
        return 71;
    }
    if (pid_file[0] != '\0' && (fp = fopen(pid_file, "w")) != NULL) {
        fprintf(fp, "%ld\n", (long) getpid());
        fclose(fp);
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
