/*
 * privs.c: taking the identity of the store's owner or of the configured
 * milter user (see privs.h).
 *
 * Berkeley DB creates region and log files with the identity of whichever
 * process needs them first.  If root's suppressctl created them, the
 * milter (running as its own user) could no longer open the environment,
 * so root's commands become the directory's owner before touching it.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "privs.h"

static int become(uid_t uid, gid_t gid, const char *user, SUP_ERR *err)
{
    if (user != NULL ? initgroups(user, gid) != 0 : setgroups(1, &gid) != 0)
        return sup_err_set(err, SUP_ERR_NOPERM, "cannot set groups for uid %ld: %s", (long) uid, strerror(errno));
    if (setgid(gid) != 0)
        return sup_err_set(err, SUP_ERR_NOPERM, "cannot set gid %ld: %s", (long) gid, strerror(errno));
    if (setuid(uid) != 0)
        return sup_err_set(err, SUP_ERR_NOPERM, "cannot set uid %ld: %s", (long) uid, strerror(errno));
    return 0;
}

int privs_become_owner(const char *dir, SUP_ERR *err)
{
    struct stat st;
    struct passwd *pw;

    if (geteuid() != 0 || dir == NULL || stat(dir, &st) != 0 || st.st_uid == 0)
        return 0;
    pw = getpwuid(st.st_uid);
    return become(st.st_uid, st.st_gid, pw != NULL ? pw->pw_name : NULL, err);
}

int privs_drop(const char *user, SUP_ERR *err)
{
    struct passwd *pw;

    errno = 0;
    if ((pw = getpwnam(user)) == NULL)
        return sup_err_set(err, SUP_ERR_CONFIG, "user \"%s\" does not exist%s%s", user,
                           errno ? ": " : "", errno ? strerror(errno) : "");
    if (geteuid() != 0) {
        if (geteuid() == pw->pw_uid)
            return 0;
        return sup_err_set(err, SUP_ERR_NOPERM, "cannot become user \"%s\": not running as root", user);
    }
    return become(pw->pw_uid, pw->pw_gid, pw->pw_name, err);
}
