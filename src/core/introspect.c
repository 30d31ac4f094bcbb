/* introspect.c — the profile key table, read-only, for bindings and tools
 * (the Python package checks keyword arguments against it). */
#include <errno.h>
#include <string.h>

#include "config/keys.h"
#include "nanoclaw.h"

/* The i-th key a profile file accepts; flag-only entries (--config) are skipped. */
static const struct nc_key *json_key(size_t i) {
  for (size_t k = 0; k < nc_keys_n; k++) {
    if (nc_keys[k].json == 0) continue;
    if (i-- == 0) return &nc_keys[k];
  }
  return NULL;
}

const char *nc_profile_key_name(size_t i) {
  const struct nc_key *k = json_key(i);
  return k ? k->key : NULL;
}

int nc_profile_key_info(const char *key, const char **def, const char **help, bool *is_list) {
  const struct nc_key *k = nc_key_by_name(key);
  if (!k || k->json == 0) return -ENOENT;
  if (def) *def = k->def;
  if (help) *help = k->help;
  if (is_list) *is_list = k->repeat;
  return 0;
}
