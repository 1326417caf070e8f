/*
 * cmd_keys.c: the keys that sign return paths (signing.key-file):
 *
 *   suppressctl rotate-key [--force]   a new signing key in front of the
 *       file; the one that signed until now stays behind it and still
 *       verifies, the one before it is dropped
 *
 * The key dropped may still have signed mail whose bounces are within
 * signing.validity: the last rotation (the file's time) made it the
 * previous key, and mail it signed until then is believed for validity
 * more.  So a second rotation within signing.validity of the first is
 * refused without --force: such bounces would no longer be believed (they
 * would wait in the quarantine).
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
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>

#include "ctl.h"
#include "duration.h"
#include "retpath.h"

/* rotate-key [--force]: -1 to go on, else the exit status (--help, a
 * usage error). */
static int rotate_key_args(const struct ctl *ctl, int argc, char **argv, bool *force)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    opterr = 0;
    *force = false;
    while ((ch = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
        if (ch == 'f') {
            *force = true;
            continue;
        }
        if (ch == 'h') {
            printf("usage: %s rotate-key [--force]\n", ctl->progname);
            return EX_OK;
        }
        return ctl_option_error(ctl, "rotate-key", ch, argv);
    }
    if (argc - optind != 0)
        return ctl_usage_error(ctl, "rotate-key", "unexpected argument \"%s\"", argv[optind]);
    return -1;
}

/*
 * Would this rotation drop a key that may still have signed mail within
 * signing.validity?  Only when the file holds two keys and was last
 * rotated less than validity ago.  err says when it becomes safe.
 */
static bool drops_a_live_key(const struct ctl *ctl, const char *path, SUP_ERR *err)
{
    RETPATH_KEYS keys;
    struct stat sb;
    char when[CTL_TIME_MAX];
    time_t safe;
    int count;

    if (retpath_keys_load(path, &keys, err) < 0 || stat(path, &sb) < 0)
        return false;           /* rotate() reports what is wrong */
    count = keys.count;
    explicit_bzero(&keys, sizeof(keys));
    safe = sb.st_mtime + (time_t) ctl->cfg->signing.validity;
    if (count < 2 || ctl->now >= safe)
        return false;
    sup_err_set(err, SUP_ERR_TEMP, "the last rotation of %s was less than signing.validity"
                " ago: rotating now drops the previous key, whose signatures are believed"
                " until %s (their bounces would wait in the quarantine); wait, or use --force",
                path, time_format_iso(safe, when, sizeof(when)));
    return true;
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
    bool force;
    int status;

    sup_err_clear(&err);
    if ((status = rotate_key_args(ctl, argc, argv, &force)) >= 0)
        return status;
    if (!force && drops_a_live_key(ctl, path, &err))
        return ctl_fail(ctl, &err);
    sup_err_clear(&err);
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
