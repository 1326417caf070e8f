/*
 * null-milter.c: a milter that does nothing but answer CONTINUE at RCPT
 * TO.  postfix-bench.sh runs it in place of milter-suppress (NULL_MILTER=1)
 * to measure what libmilter and the MTA's milter protocol cost by
 * themselves on this machine: the floor under any milter's figure.
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

static sfsistat null_envrcpt(SMFICTX *ctx, char **argv)
{
    (void) ctx;
    (void) argv;
    return SMFIS_CONTINUE;
}

static struct smfiDesc null_desc = {
    .xxfi_name = "null-milter",
    .xxfi_version = SMFI_VERSION,
    .xxfi_envrcpt = null_envrcpt,
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
