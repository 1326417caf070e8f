/*
 * daemonize.c: fork into the background with a startup report to the
 * parent, and the pid file (see daemonize.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "daemonize.h"
#include "log.h"

static int report_fd = -1;

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t) n;
    }
}

/* The parent: wait for the child's report and exit as it says. */
static void parent_wait(int fd, pid_t child)
{
    char buf[1024];
    size_t len = 0;
    ssize_t n;
    int code = EX_SOFTWARE;

    while (len + 1 < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        len += (size_t) n;
    }
    buf[len] = '\0';
    if (strncmp(buf, "OK", 2) == 0)
        _exit(0);
    if (buf[0] == 'E') {
        char *text = strchr(buf, ':');

        code = atoi(buf + 1);
        fprintf(stderr, "milter-suppress: %s\n", text != NULL ? text + 1 : "startup failed");
    } else {
        int status;

        /* The child died without a word (a crash): say so. */
        if (waitpid(child, &status, WNOHANG) == child && WIFSIGNALED(status))
            fprintf(stderr, "milter-suppress: the daemon died during startup (signal %d)\n",
                    WTERMSIG(status));
        else
            fprintf(stderr, "milter-suppress: the daemon exited during startup\n");
    }
    _exit(code == 0 ? EX_SOFTWARE : code);
}

static void to_dev_null(int fd, int flags)
{
    int null = open("/dev/null", flags);

    if (null >= 0 && null != fd) {
        dup2(null, fd);
        close(null);
    }
}

int daemon_start(SUP_ERR *err)
{
    int fds[2];
    pid_t pid;

    if (pipe(fds) < 0)
        return sup_err_set(err, SUP_ERR_IO, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return sup_err_set(err, SUP_ERR_IO, "fork: %s", strerror(errno));
    if (pid > 0) {
        close(fds[1]);
        parent_wait(fds[0], pid);
    }
    close(fds[0]);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    report_fd = fds[1];
    setsid();
    if (chdir("/") < 0)
        log_warn("chdir /: %s", strerror(errno));
    to_dev_null(STDIN_FILENO, O_RDONLY);
    to_dev_null(STDOUT_FILENO, O_WRONLY);
    return 0;
}

int daemon_pending(void)
{
    return report_fd >= 0;
}

void daemon_ready(void)
{
    if (report_fd < 0)
        return;
    write_all(report_fd, "OK", 2);
    close(report_fd);
    report_fd = -1;
    to_dev_null(STDERR_FILENO, O_WRONLY);
}

void daemon_failed(int exit_code, const char *text)
{
    char buf[1024];
    int len;

    if (report_fd < 0)
        return;
    len = snprintf(buf, sizeof(buf), "E%d:%s", exit_code, text);
    if (len > 0)
        write_all(report_fd, buf, (size_t) len < sizeof(buf) ? (size_t) len : sizeof(buf) - 1);
    close(report_fd);
    report_fd = -1;
}

int pidfile_write(const char *path, SUP_ERR *err)
{
    char buf[32];
    int fd, len;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return sup_err_set(err, errno == EACCES ? SUP_ERR_NOPERM : SUP_ERR_IO,
                           "pid file %s: %s", path, strerror(errno));
    len = snprintf(buf, sizeof(buf), "%ld\n", (long) getpid());
    if (write(fd, buf, (size_t) len) != len) {
        int saved = errno;

        close(fd);
        return sup_err_set(err, SUP_ERR_IO, "writing pid file %s: %s", path, strerror(saved));
    }
    if (close(fd) < 0)
        return sup_err_set(err, SUP_ERR_IO, "writing pid file %s: %s", path, strerror(errno));
    return 0;
}

void pidfile_remove(const char *path)
{
    if (path != NULL && unlink(path) < 0 && errno != ENOENT)
        log_warn("removing pid file %s: %s", path, strerror(errno));
}
