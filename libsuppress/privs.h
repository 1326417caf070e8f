/*
 * privs.h: running with the store owner's identity.
 *
 * The Berkeley DB environment's files must stay owned by the user the
 * milter runs as.  When root runs suppressctl or suppress-ingest, main()
 * calls privs_become_owner(store_dir) so that files it creates are not
 * root's; the milter calls privs_drop(user) after opening its socket.
 */
#ifndef PRIVS_H
#define PRIVS_H

#include "sup_err.h"

/* If running as root and dir is owned by another user, become that user
 * (groups included).  No-op otherwise or if dir does not exist. */
int privs_become_owner(const char *dir, SUP_ERR *err);
/* Become user (name), with its primary and supplementary groups. */
int privs_drop(const char *user, SUP_ERR *err);

#endif
