/*
 * daemonize.h: going to the background without losing startup errors,
 * and the pid file.
 *
 * daemon_start() forks; the parent stays until the child reports, through
 * a pipe, that it is ready (daemon_ready) or why it failed
 * (daemon_failed), and exits with the child's status, so an init script
 * or a postmaster sees a failed start on the terminal.
 */
#ifndef DAEMONIZE_H
#define DAEMONIZE_H

#include "sup_err.h"

/* Returns 0 in the child (now a session leader in /, stdin and stdout on
 * /dev/null, stderr kept until daemon_ready); -1 + err if fork failed.
 * The parent never returns. */
int daemon_start(SUP_ERR *err);
/* Tell the waiting parent that startup went well; stderr goes to /dev/null. */
void daemon_ready(void);
/* Tell the waiting parent that startup failed with this exit code and text. */
void daemon_failed(int exit_code, const char *text);
/* True between daemon_start and daemon_ready/daemon_failed. */
int daemon_pending(void);

int pidfile_write(const char *path, SUP_ERR *err);
void pidfile_remove(const char *path);

#endif
