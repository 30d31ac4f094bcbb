/* export-internal.h — helpers shared by the export targets (private to src/export). */
#ifndef NC_EXPORT_INTERNAL_H
#define NC_EXPORT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "export/export.h"

/* A growing string; on ENOMEM it stops growing and sets oom. */
struct nc_buf {
  char *s;
  size_t len;
  bool oom;
};
void nc_buf_put(struct nc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append a formatted string to an argument list (no NC_MAX_LIST bound: an argv is as long as it is).
 * 0 or -ENOMEM. */
int nc_argv_push(struct nc_strv *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The environment the sandbox gets besides the profile's env, as nanoclaw's native runtime sets it
 * (HOME on the scratch space). */
#define NC_EXPORT_HOME "/tmp"

/* Did env entry i come from a store image's config (the engine gets it from the image itself)? */
bool nc_export_env_from_image(const nc_profile *p, size_t i);

/* How many env entries are the profile's own (not from the image)? */
size_t nc_export_env_count(const nc_profile *p);

/* Is NAME set by the profile's env? */
bool nc_export_env_has(const nc_profile *p, const char *name);

/* The proxy variables of an allowlisted sandbox, pointing at url: HTTP_PROXY, HTTPS_PROXY, ALL_PROXY
 * (and lower case) and NO_PROXY; they win over the profile's env, as natively. */
extern const char *const nc_export_proxy_vars[];
extern const size_t nc_export_proxy_vars_n;
#define NC_EXPORT_NO_PROXY "localhost,127.0.0.1,::1"

/* Seconds for a deadline given in whole seconds (checked) or, supervised, rounded up (nanoclaw's
 * own timer is then exact). */
unsigned long long nc_export_deadline_s(const nc_profile *p);

/* Our seccomp filter as a JSON object (new reference) or NULL with err. */
json_t *nc_export_seccomp_object(nc_error *err);

#endif
