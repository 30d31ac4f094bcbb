/* keys.h — the one key table behind JSON profiles, flags and help (private to src/config). */
#ifndef NC_CONFIG_KEYS_H
#define NC_CONFIG_KEYS_H

#include <stdbool.h>

#include "config/profile.h"

enum nc_key_id {
  NC_K_NAME,
  NC_K_IMAGE,
  NC_K_MEM_LIMIT,
  NC_K_CPU_SHARES,
  NC_K_CPUS,
  NC_K_PIDS_LIMIT,
  NC_K_TIMEOUT,
  NC_K_NETWORK_DISABLED,
  NC_K_ALLOWED_HOSTS,
  NC_K_ADD_HOSTS,
  NC_K_TMPFS,
  NC_K_BINDS,
  NC_K_ENV,
  NC_K_WORKDIR,
  NC_K_USER,
  NC_K_HOSTNAME,
  NC_K_RESULT_JSON,
  NC_K_LIMITS,
  NC_K_OUTPUT_LIMIT,
  NC_K_AUDIT_LOG,
  NC_K_AUDIT_FSYNC,
  NC_K_AUDIT_APPEND_ONLY,
  NC_K_AUDIT_SYSLOG,
  NC_K_AUDIT_HTTP,
  NC_K_AUDIT_REQUIRED,
  NC_K_AUDIT_OUTPUT_CAP,
  NC_K_DEPS_APT,
  NC_K_DEPS_PIP,
  NC_K_DEPS_NPM,
  NC_K_AGENT_MODEL,
  NC_K_AGENT_BASE_URL,
  NC_K_AGENT_API_KEY_ENV,
  NC_K_AGENT_MAX_STEPS,
  NC_K_AGENT_TOOL_TIMEOUT,
  NC_K_AGENT_REQUEST_TIMEOUT,
  NC_K_AGENT_SYSTEM_PROMPT,
  NC_K_CONFIG, /* flag only */
};

/* JSON types a key accepts (bit set); 0 = not a JSON key (flag only). */
enum {
  NC_J_STRING = 1u << 0,
  NC_J_INTEGER = 1u << 1,
  NC_J_REAL = 1u << 2,
  NC_J_BOOL = 1u << 3,
  NC_J_ARRAY = 1u << 4, /* array of strings, each applied like a repeated flag */
  NC_J_OBJECT = 1u << 5,/* object of strings (env) */
  /* keys named "group.member" are written {"group": {"member": ...}} in a profile file */
};

struct nc_key {
  enum nc_key_id id;
  const char *key;     /* JSON key, also nc_profile_set's name */
  const char *flag;    /* long option without the leading "--" */
  const char *metavar; /* NULL: a switch that takes no value */
  const char *def;     /* default, as shown in help */
  const char *help;    /* one line */
  unsigned json;       /* NC_J_* accepted in a profile file */
  bool repeat;         /* list key: every use appends */
};

/* Largest environment entry (Linux MAX_ARG_STRLEN). */
#define NC_MAX_ENV_ENTRY 131072
/* Largest profile file we read. */
#define NC_MAX_PROFILE_FILE (1u << 20)

extern const struct nc_key nc_keys[];
extern const size_t nc_keys_n;

const struct nc_key *nc_key_by_name(const char *key);
const struct nc_key *nc_key_by_flag(const char *flag); /* flag without "--" */
/* Closest JSON key (flags=false) or flag (flags=true) to word when the edit
 * distance is small, else NULL. */
const char *nc_key_suggest(const char *word, bool flags);

/* Apply one string value of key k (as nc_profile_set). */
int nc_key_set(nc_profile *p, const struct nc_key *k, const char *value, const char *where, nc_error *err);
/* Set (or replace) one environment variable; name is checked. */
int nc_profile_env_put(nc_profile *p, const char *name, const char *value, const char *where,
                       nc_error *err);

#endif
