/*
 * config_internal: what lib/config.c (the settings table and its loading) shares with
 * lib/config_check.c (secrets, derived settings and validation): the table's layout and the
 * accessors of a setting's value. Not for other modules: they use config.h.
 */
#ifndef ORDERSINK_CONFIG_INTERNAL_H
#define ORDERSINK_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum cfg_type { CFG_STR, CFG_INT };
enum cfg_source { SRC_DEFAULT = 0, SRC_FILE, SRC_ENV, SRC_DERIVED };

#define CFG_SECRET 1
#define CFG_DERIVED 2 /* its default is computed from other settings (cfg_derive) */

struct cfg_setting {
    const char *key;
    enum cfg_type type;
    size_t offset;
    const char *def_str;
    int64_t def_int, min, max;
    unsigned required; /* mask of enum cfg_program */
    unsigned flags;
    const char *help;
};

/* Every setting, in the order --print-settings shows them. */
extern const struct cfg_setting cfg_settings[];
extern const size_t cfg_settings_count;

/* The value of setting s in c (a string or an integer field, by s->type). */
char **cfg_str(struct cfg *c, const struct cfg_setting *s);
int64_t *cfg_int(struct cfg *c, const struct cfg_setting *s);

/* The setting named key ("cosmos.endpoint"), or NULL. */
const struct cfg_setting *cfg_find(const char *key);

/* Sets string setting s to a copy of v (NULL clears it) from source src. Returns 0 or -1 (out of
 * memory). */
int cfg_set_str(struct cfg *c, const struct cfg_setting *s, const char *v, int src);

/* "config: <key> (<ENV>): <what>" into err. */
void cfg_error(char *err, size_t errsz, const struct cfg_setting *s, const char *what);

/* Settings computed from others, in dependency order (secret files, Event Hubs, DLQ topic).
 * Returns 0, or -1 with err naming the setting. */
int cfg_derive(struct cfg *c, enum cfg_program program, char *err, size_t errsz);

/* Every rule the values must follow for program. Returns 0, or -1 with err naming the setting. */
int cfg_validate(struct cfg *c, enum cfg_program program, char *err, size_t errsz);

#endif
