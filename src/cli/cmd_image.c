/* cmd_image.c — `nanoclaw image pull|import|ls|rm|inspect`: the local image store. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/util.h"
#include "image/image.h"

static const char usage[] =
    "Usage: nanoclaw image COMMAND\n"
    "\n"
    "The local image store (/var/lib/nanoclaw as root, else $XDG_DATA_HOME/nanoclaw;\n"
    "$NANOCLAW_STORE overrides). `nanoclaw run --image NAME[:TAG|@DIGEST]` runs from it.\n"
    "\n"
    "Commands:\n"
    "  pull [--insecure] [--username USER --password-stdin] REF\n"
    "                          fetch REF from its registry (Docker Hub when REF names none);\n"
    "                          --insecure: plain HTTP, only for a registry on localhost\n"
    "  import oci:DIR[:NAME]   an OCI image layout directory\n"
    "  import docker-archive:FILE[:NAME]\n"
    "                          the output of `docker save`\n"
    "  ls [--json]             the stored images\n"
    "  rm REF...               remove images, and the layers no other image uses\n"
    "  inspect REF             the stored image: digest, layers and config, as JSON\n"
    "\n"
    "Credentials: $NANOCLAW_REGISTRY_USER and $NANOCLAW_REGISTRY_PASSWORD, or --username\n"
    "with the password on stdin (--password-stdin).\n";

static int fail(const char *what, const nc_error *err) {
  fprintf(stderr, "nanoclaw: image %s: %s\n", what, err->msg);
  return 125;
}

struct progress {
  bool tty;
  char last[NC_DIGEST_LEN];
  uint64_t last_ns;
};

static void human(char *out, size_t n, uint64_t b) {
  if (b >= (1ull << 30))
    snprintf(out, n, "%.2f GiB", (double)b / (1ull << 30));
  else if (b >= (1ull << 20))
    snprintf(out, n, "%.1f MiB", (double)b / (1ull << 20));
  else if (b >= 1024)
    snprintf(out, n, "%.1f KiB", (double)b / 1024);
  else
    snprintf(out, n, "%llu B", (unsigned long long)b);
}

static void on_progress(void *u, const char *what, uint64_t done, uint64_t total) {
  struct progress *p = u;
  if (!p->tty) return;
  uint64_t now = nc_now_ns();
  bool same = !strcmp(p->last, what);
  if (same && done < total && now - p->last_ns < 100000000ull) return;
  if (!same && p->last[0]) fputc('\n', stderr);
  snprintf(p->last, sizeof p->last, "%s", what);
  p->last_ns = now;
  char d[32], t[32];
  human(d, sizeof d, done);
  human(t, sizeof t, total);
  fprintf(stderr, "\r%.19s  %s / %s   ", what, d, t);
  fflush(stderr);
}

static void on_note(void *u, const char *line) {
  struct progress *p = u;
  if (!p->tty) return;
  if (p->last[0]) fputc('\n', stderr);
  p->last[0] = '\0';
  fprintf(stderr, "%s\n", line);
}

static int read_password(char *buf, size_t n) {
  size_t got = 0;
  while (got + 1 < n) {
    ssize_t k = read(0, buf + got, n - 1 - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += (size_t)k;
  }
  while (got && (buf[got - 1] == '\n' || buf[got - 1] == '\r')) got--;
  buf[got] = '\0';
  return got ? 0 : -1;
}

static int cmd_pull_import(int argc, char **argv, bool pull) {
  struct progress p = {.tty = isatty(2)};
  struct nc_pull_options o = {.progress = on_progress, .note = on_note, .u = &p};
  char password[1024];
  const char *src = NULL;
  bool pw_stdin = false;
  for (int i = 1; i < argc; i++) {
    if (pull && !strcmp(argv[i], "--insecure"))
      o.insecure = true;
    else if (pull && !strcmp(argv[i], "--username") && i + 1 < argc)
      o.username = argv[++i];
    else if (pull && !strcmp(argv[i], "--password-stdin"))
      pw_stdin = true;
    else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "nanoclaw: image %s: unknown option \"%s\"\n", argv[0], argv[i]);
      return 125;
    } else if (!src)
      src = argv[i];
    else {
      fprintf(stderr, "nanoclaw: image %s: one %s only\n", argv[0], pull ? "REF" : "source");
      return 125;
    }
  }
  if (!src) {
    fprintf(
        stderr, "nanoclaw: image %s: %s\n", argv[0],
        pull ? "no REF given (nanoclaw image pull REF)" : "no source (oci:DIR[:NAME] or docker-archive:FILE[:NAME])");
    return 125;
  }
  if (pw_stdin) {
    if (read_password(password, sizeof password) < 0) {
      fprintf(stderr, "nanoclaw: image pull: --password-stdin: no password on stdin\n");
      return 125;
    }
    o.password = password;
  }
  nc_error err = {0};
  char ref[600], digest[NC_DIGEST_LEN];
  int r = pull ? nc_image_pull(src, &o, ref, digest, &err) : nc_image_import(src, &o, ref, digest, &err);
  explicit_bzero(password, sizeof password);
  if (p.tty && p.last[0]) fputc('\n', stderr);
  if (r < 0) {
    fprintf(stderr, "nanoclaw: image %s\n", err.msg);
    return 125;
  }
  printf("%s %s\n", ref, digest);
  return 0;
}

static int cmd_ls(int argc, char **argv) {
  bool json = argc > 1 && !strcmp(argv[1], "--json");
  if (argc > (json ? 2 : 1)) {
    fprintf(stderr, "nanoclaw: image ls: unknown argument \"%s\"\n", argv[json ? 2 : 1]);
    return 125;
  }
  nc_error err = {0};
  struct nc_store *s;
  int r = nc_store_open(NULL, false, false, &s, &err);
  if (r == -ENOENT) {
    puts(json ? "[]" : "NAME                                               TAG          DIGEST         SIZE");
    return 0;
  }
  if (r < 0) return fail("ls", &err);
  struct nc_image_entry *v;
  size_t n;
  r = nc_store_list(s, &v, &n, &err);
  nc_store_close(s);
  if (r < 0) return fail("ls", &err);
  if (json) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
      json_t *layers = json_array();
      for (size_t k = 0; k < v[i].n_layers; k++) json_array_append_new(layers, json_string(v[i].layers[k]));
      json_array_append_new(a, json_pack("{s:s, s:s?, s:s, s:s, s:o, s:I, s:s}", "name", v[i].name, "tag", v[i].tag,
                                         "digest", v[i].digest, "config", v[i].config, "layers", layers, "size",
                                         (json_int_t)v[i].size, "created", v[i].created));
    }
    char *text = json_dumps(a, JSON_INDENT(2));
    puts(text ? text : "[]");
    free(text);
    json_decref(a);
  } else {
    printf("%-50s %-12s %-14s %s\n", "NAME", "TAG", "DIGEST", "SIZE");
    for (size_t i = 0; i < n; i++) {
      char sz[32];
      human(sz, sizeof sz, v[i].size);
      printf("%-50s %-12s %.19s %s\n", v[i].name, v[i].tag ? v[i].tag : "<none>", v[i].digest, sz);
    }
  }
  nc_image_entries_free(v, n);
  return 0;
}

static int cmd_rm(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "nanoclaw: image rm: no REF given\n");
    return 125;
  }
  nc_error err = {0};
  struct nc_store *s;
  if (nc_store_open(NULL, false, true, &s, &err) < 0) return fail("rm", &err);
  int status = 0;
  for (int i = 1; i < argc; i++) {
    size_t layers = 0;
    if (nc_store_remove(s, argv[i], &layers, &err) < 0) {
      status = fail("rm", &err);
      continue;
    }
    printf("removed %s (%zu layer%s freed)\n", argv[i], layers, layers == 1 ? "" : "s");
  }
  nc_store_close(s);
  return status;
}

static int cmd_inspect(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "nanoclaw: image inspect: one REF\n");
    return 125;
  }
  nc_error err = {0};
  struct nc_store *s;
  if (nc_store_open(NULL, false, false, &s, &err) < 0) return fail("inspect", &err);
  struct nc_image_entry e;
  char *cfg = NULL;
  int r = nc_store_find(s, argv[1], &e, &err);
  if (r == 0) r = nc_store_read_blob(s, e.config, NC_IMAGE_MAX_JSON, &cfg, NULL, &err);
  nc_store_close(s);
  if (r < 0) {
    nc_image_entry_clear(&e);
    return fail("inspect", &err);
  }
  json_t *layers = json_array();
  for (size_t k = 0; k < e.n_layers; k++) json_array_append_new(layers, json_string(e.layers[k]));
  json_t *config = json_loads(cfg, 0, NULL);
  json_t *o = json_pack("{s:s, s:s?, s:s, s:s?, s:s, s:o, s:I, s:s, s:o?}", "name", e.name, "tag", e.tag, "digest",
                        e.digest, "index_digest", e.index_digest[0] ? e.index_digest : NULL, "config_digest", e.config,
                        "layers", layers, "size", (json_int_t)e.size, "created", e.created, "config", config);
  char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
  puts(text ? text : "{}");
  free(text);
  json_decref(o);
  free(cfg);
  nc_image_entry_clear(&e);
  return 0;
}

int nc_cmd_image(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 125 : 0;
  }
  const char *c = argv[1];
  if (!strcmp(c, "pull")) return cmd_pull_import(argc - 1, argv + 1, true);
  if (!strcmp(c, "import")) return cmd_pull_import(argc - 1, argv + 1, false);
  if (!strcmp(c, "ls") || !strcmp(c, "list")) return cmd_ls(argc - 1, argv + 1);
  if (!strcmp(c, "rm") || !strcmp(c, "remove")) return cmd_rm(argc - 1, argv + 1);
  if (!strcmp(c, "inspect")) return cmd_inspect(argc - 1, argv + 1);
  fprintf(stderr, "nanoclaw: image: unknown command \"%s\" (try `nanoclaw image --help`)\n", c);
  return 125;
}
