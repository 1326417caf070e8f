/*
 * live_conf.h: the configuration the running milter uses, replaceable at
 * SIGHUP while libmilter threads are in callbacks, with the return-path
 * signing keys loaded for it (they change with it: a rotated key file is
 * read at SIGHUP).
 *
 * A callback takes a reference (live_conf_acquire) for as long as it uses
 * the configuration and drops it (live_conf_release) before it returns.
 * live_conf_replace() makes a new configuration current for every later
 * acquire; the old one is freed by whoever drops its last reference, so
 * no callback ever sees freed memory and nobody waits for anybody.
 */
#ifndef LIVE_CONF_H
#define LIVE_CONF_H

#include "conf.h"
#include "retpath.h"

struct live_conf;

/* Take ownership of cfg as the first current configuration; keys (count 0:
 * no signing) are copied. */
void live_conf_init(struct sup_config *cfg, const RETPATH_KEYS *keys);
/* The current configuration, referenced; never NULL after live_conf_init. */
struct live_conf *live_conf_acquire(void);
const struct sup_config *live_conf_get(const struct live_conf *ref);
/* Its signing keys, or NULL when it does not sign. */
const RETPATH_KEYS *live_conf_keys(const struct live_conf *ref);
void live_conf_release(struct live_conf *ref);
/* Make cfg (owned from now on) current; the old one goes with its last user. */
void live_conf_replace(struct sup_config *cfg, const RETPATH_KEYS *keys);
/* Drop the current configuration at exit (after every user has gone). */
void live_conf_shutdown(void);

#endif
