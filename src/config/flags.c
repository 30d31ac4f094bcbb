/* flags.c — `nanoclaw run` options: argv into a profile through the key table, and the generated help. */
#include "config/flags.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "config/keys.h"
#include "config/profile.h"
#include "core/error.h"

#define Q(buf, s) nc_quote((buf), sizeof(buf), (s))

/* One decoded option. */
struct opt {
  const struct nc_key *k; /* NULL for -h/--help */
  const char *value;
  int next; /* index after the option (and its value); at the end: the command */
};

static int unknown_option(const char *a, size_t n, nc_error *err) {
  char name[80], q[128];
  snprintf(name, sizeof name, "%.*s", (int)(n < 79 ? n : 79), a);
  const char *hint = a[1] == '-' ? nc_key_suggest(name + 2, true) : NULL;
  if (hint) return nc_error_set(err, EINVAL, "unknown option \"%s\" (did you mean --%s?)", Q(q, name), hint);
  return nc_error_set(err, EINVAL, "unknown option \"%s\" (see --help)", Q(q, name));
}

static int needs_value(const struct nc_key *k, const char *got, nc_error *err) {
  if (got)
    return nc_error_set(err, EINVAL, "--%s: needs a value (write --%s=VALUE for one that starts with --)", k->flag,
                        k->flag);
  return nc_error_set(err, EINVAL, "--%s: needs a value", k->flag);
}

/* Decode argv[i]: 1 = an option in *o, 0 = end of options (o->next is the
 * command), negative = error. */
static int next_opt(int argc, char *const argv[], int i, struct opt *o, nc_error *err) {
  const char *a = i < argc ? argv[i] : NULL;
  *o = (struct opt){NULL, NULL, i + 1};
  if (!a || a[0] != '-' || a[1] == '\0') {
    o->next = i;
    return 0;
  }
  if (strcmp(a, "--") == 0) return 0;
  if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) return 1;
  size_t n = strcspn(a, "=");
  char name[64];
  if (a[1] != '-' || n - 2 >= sizeof name) return unknown_option(a, n, err);
  memcpy(name, a + 2, n - 2);
  name[n - 2] = '\0';
  o->k = nc_key_by_flag(name);
  if (!o->k) return unknown_option(a, n, err);
  if (a[n] == '=') o->value = a + n + 1;
  else if (!o->k->metavar) o->value = "true"; /* a switch */
  else if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0) return needs_value(o->k, NULL, err);
  else if (strncmp(argv[i + 1], "--", 2) == 0) return needs_value(o->k, argv[i + 1], err);
  else o->value = argv[i + 1], o->next = i + 2;
  return 1;
}

int nc_profile_parse_args(nc_profile *p, int argc, char *const argv[], int start, int *ret_next, int *ret_help,
                          nc_error *err) {
  struct opt o;
  int r, i;
  if (ret_help) *ret_help = 0;
  if (!p || !argv || start < 0) return nc_error_set(err, EINVAL, "nc_profile_parse_args: bad arguments");
  /* Pass 1: --config files (in order) and --help, wherever they appear. */
  for (i = start; (r = next_opt(argc, argv, i, &o, err)) > 0; i = o.next) {
    if (!o.k) {
      if (ret_help) *ret_help = 1;
      if (ret_next) *ret_next = o.next;
      return 0;
    }
    if (o.k->id == NC_K_CONFIG && (r = nc_profile_load_file(p, o.value, err)) < 0) return r;
  }
  if (r < 0) return r;
  /* Pass 2: every other flag, in order, over the file. */
  for (i = start; (r = next_opt(argc, argv, i, &o, err)) > 0; i = o.next) {
    char where[80];
    snprintf(where, sizeof where, "--%s", o.k->flag);
    if (o.k->id != NC_K_CONFIG && (r = nc_key_set(p, o.k, o.value, where, err)) < 0) return r;
  }
  if (r < 0) return r;
  if (ret_next) *ret_next = o.next;
  return 0;
}

/* ---- help ---- */

static char help_text[8192];
static pthread_once_t help_once = PTHREAD_ONCE_INIT;

static void build_help(void) {
  size_t o = 0, cap = sizeof help_text;
  for (size_t i = 0; i < nc_keys_n && o < cap; i++) {
    const struct nc_key *k = &nc_keys[i];
    char left[64];
    snprintf(left, sizeof left, "--%s%s%s", k->flag, k->metavar ? " " : "", k->metavar ? k->metavar : "");
    bool show_def = strcmp(k->def, "none") != 0;
    int n = snprintf(help_text + o, cap - o, "  %-26s %s%s%s%s\n", left, k->help, show_def ? " [default: " : "",
                     show_def ? k->def : "", show_def ? "]" : "");
    if (n > 0) o += (size_t)n;
  }
  if (o < cap) snprintf(help_text + o, cap - o, "  %-26s %s\n", "-h, --help", "show this help");
}

const char *nc_profile_flags_help(void) {
  pthread_once(&help_once, build_help);
  return help_text;
}
