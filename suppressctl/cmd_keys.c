/*
 * cmd_keys.c: the keys that sign return paths (signing.key-file):
 *
 *   suppressctl rotate-key   a new signing key in front of the file; the
 *       one that signed until now stays behind it and still verifies, the
 *       one before it is dropped
 *
 * The file is made by milter-suppress at its first start, as the user it
 * runs as: this command never creates it, so that a postmaster running it
 * as root before the milter ever started cannot leave a file the milter
 * may not read.  retpath_keys_rotate() replaces the file atomically and
 * keeps its owner and its mode 0600.  The running milter reads the new
 * key at its next reload (SIGHUP); until then it signs with the old one,
 * which verifies as well.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "retpath.h"

/* rotate-key takes no argument: -1 to go on, else the exit status
 * (--help, a usage error). */
static int rotate_key_args(const struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (ch == 'h') {
            printf("usage: %s rotate-key\n", ctl->progname);
            return EX_OK;
        }
        return ctl_option_error(ctl, "rotate-key", ch, argv);
    }
    if (argc - optind != 0)
        return ctl_usage_error(ctl, "rotate-key", "unexpected argument \"%s\"", argv[optind]);
    return -1;
}

/* Rotate the configured file; a missing one is explained, not created. */
static int rotate(const char *path, RETPATH_KEYS *keys, SUP_ERR *err)
{
    if (retpath_keys_rotate(path, keys, err) == 0)
        return 0;
    if (err->cls == SUP_ERR_NOTFOUND)
        sup_err_set(err, SUP_ERR_NOTFOUND, "no signing key file at %s yet: milter-suppress "
                    "creates it when it starts; nothing to rotate", path);
    else
        sup_err_prefix(err, "rotate-key");
    return -1;
}

int cmd_rotate_key(struct ctl *ctl, int argc, char **argv)
{
    const char *path = ctl->cfg->signing.key_file;
    RETPATH_KEYS keys;
    SUP_ERR err;
    int status;

    sup_err_clear(&err);
    if ((status = rotate_key_args(ctl, argc, argv)) >= 0)
        return status;
    if (rotate(path, &keys, &err) < 0)
        return ctl_fail(ctl, &err);
    printf("new signing key %d in %s (key %d kept to verify)\n", keys.key[0].id, path,
           keys.key[1].id);
    printf("reload milter-suppress (systemctl reload milter-suppress, or SIGHUP) so that it "
           "signs with key %d; mail signed with key %d keeps verifying until the next "
           "rotation\n", keys.key[0].id, keys.key[1].id);
    if (!ctl->cfg->signing.enable)
        fprintf(stderr, "%s: note: signing is off (signing.enable = false) in %s\n",
                ctl->progname, ctl->cfg->path != NULL ? ctl->cfg->path : CONFIG_DEFAULT_PATH);
    explicit_bzero(&keys, sizeof(keys));
    return EX_OK;
}
