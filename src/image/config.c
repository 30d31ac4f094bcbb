/* config.c — what an image says about itself: manifests, the image config
 * (Env, WorkingDir, Entrypoint/Cmd, User, diff_ids), the host's platform,
 * and a User resolved against the image's own /etc/passwd and /etc/group. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/util.h"
#include "image/image.h"

#define Q(buf, s) nc_quote((buf), sizeof(buf), (s))
#define MAX_ARGS 4096
#define MAX_ARG (128u << 10)

void nc_host_platform(char arch[32], char variant[16]) {
  struct utsname u;
  static const char *const map[][3] = {
      {"x86_64", "amd64", ""},    {"aarch64", "arm64", "v8"}, {"armv7l", "arm", "v7"},
      {"armv6l", "arm", "v6"},    {"i686", "386", ""},        {"i386", "386", ""},
      {"ppc64le", "ppc64le", ""}, {"s390x", "s390x", ""},     {"riscv64", "riscv64", ""},
  };
  snprintf(arch, 32, "unknown");
  variant[0] = '\0';
  if (uname(&u) < 0) return;
  snprintf(arch, 32, "%.31s", u.machine);
  for (size_t i = 0; i < NC_ARRAY_SIZE(map); i++) {
    if (!strcmp(u.machine, map[i][0])) {
      snprintf(arch, 32, "%s", map[i][1]);
      snprintf(variant, 16, "%s", map[i][2]);
    }
  }
}

static bool layer_type_ok(const char *t) {
  static const char *const ok[] = {
      "application/vnd.oci.image.layer.v1.tar",       "application/vnd.oci.image.layer.v1.tar+gzip",
      "application/vnd.oci.image.layer.v1.tar+zstd",  "application/vnd.docker.image.rootfs.diff.tar.gzip",
      "application/vnd.docker.image.rootfs.diff.tar",
  };
  for (size_t i = 0; i < NC_ARRAY_SIZE(ok); i++)
    if (!strcmp(t, ok[i])) return true;
  return false;
}

static int descriptor(json_t *d, char digest[NC_DIGEST_LEN], uint64_t *size, const char **media_type) {
  const char *dg = json_string_value(json_object_get(d, "digest"));
  json_t *sz = json_object_get(d, "size");
  if (!nc_digest_valid(dg) || !json_is_integer(sz) || json_integer_value(sz) < 0) return -1;
  strcpy(digest, dg);
  *size = (uint64_t)json_integer_value(sz);
  if (media_type) *media_type = json_string_value(json_object_get(d, "mediaType"));
  return 0;
}

int nc_manifest_parse(const char *text, size_t len, struct nc_manifest *m, nc_error *err) {
  char q[200];
  json_error_t je;
  memset(m, 0, sizeof *m);
  json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!j) return nc_error_set(err, EINVAL, "the manifest is not JSON: %s", je.text);
  int r = 0;
  json_t *layers = json_object_get(j, "layers");
  if (json_integer_value(json_object_get(j, "schemaVersion")) != 2 || !json_is_array(layers))
    r = nc_error_set(err, EINVAL, "not an OCI or Docker schema 2 image manifest");
  else if (descriptor(json_object_get(j, "config"), m->config, &m->config_size, NULL) < 0)
    r = nc_error_set(err, EINVAL, "the manifest's config descriptor is invalid");
  else if (m->config_size > NC_IMAGE_MAX_JSON)
    r = nc_error_set(err, EFBIG, "the image config is larger than 4 MiB");
  else if (json_array_size(layers) > NC_IMAGE_MAX_LAYERS)
    r = nc_error_set(err, E2BIG, "the manifest lists %zu layers, at most %d", json_array_size(layers),
                     NC_IMAGE_MAX_LAYERS);
  size_t i;
  json_t *l;
  json_array_foreach(layers, i, l) {
    if (r < 0) break;
    struct nc_layer_desc *d = &m->layers[m->n_layers];
    const char *mt = NULL;
    if (descriptor(l, d->digest, &d->size, &mt) < 0 || !mt) {
      r = nc_error_set(err, EINVAL, "layer %zu of the manifest has an invalid descriptor", i);
    } else if (!layer_type_ok(mt) || json_object_get(l, "urls")) {
      r = nc_error_set(err, ENOTSUP, "layer %zu: media type `%s` is not supported (tar, tar+gzip, tar+zstd only)", i,
                       Q(q, mt));
    } else if (d->size > NC_IMAGE_MAX_BLOB) {
      r = nc_error_set(err, EFBIG, "layer %s is larger than 8 GiB", d->digest);
    } else {
      snprintf(d->media_type, sizeof d->media_type, "%s", mt);
      m->n_layers++;
    }
  }
  json_decref(j);
  return r;
}

static bool env_name_ok(const char *s, size_t n) {
  if (n == 0 || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_')) return false;
  for (size_t i = 1; i < n; i++) {
    char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

static int push(char ***v, size_t *n, const char *s) {
  char **nv = realloc(*v, (*n + 2) * sizeof *nv);
  if (!nv) return -ENOMEM;
  *v = nv;
  if (!(nv[*n] = strdup(s))) return -ENOMEM;
  nv[++*n] = NULL;
  return 0;
}

static int strings_of(json_t *a, char ***v, size_t *n, nc_error *err, const char *what) {
  if (!a || json_is_null(a)) return 0;
  if (!json_is_array(a)) return nc_error_set(err, EINVAL, "image config: %s is not a list", what);
  size_t i;
  json_t *x;
  json_array_foreach(a, i, x) {
    const char *s = json_string_value(x);
    if (!s || strlen(s) > MAX_ARG || *n >= MAX_ARGS)
      return nc_error_set(err, EINVAL, "image config: %s has an invalid or oversized entry", what);
    if (push(v, n, s) < 0) return nc_error_set(err, ENOMEM, "image config: out of memory");
  }
  return 0;
}

void nc_image_config_free(struct nc_image_config *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n_env; i++) free(c->env[i]);
  free(c->env);
  for (size_t i = 0; i < c->argc; i++) free(c->argv[i]);
  free(c->argv);
  for (size_t i = 0; i < c->n_diff_ids; i++) free(c->diff_ids[i]);
  free(c->diff_ids);
  free(c->workdir);
  free(c->user);
  memset(c, 0, sizeof *c);
}

int nc_image_config_parse(const char *text, size_t len, struct nc_image_config *c, nc_error *err) {
  json_error_t je;
  memset(c, 0, sizeof *c);
  json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!j || !json_is_object(j)) {
    json_decref(j);
    return nc_error_set(err, EINVAL, "the image config is not a JSON object%s%s", j ? "" : ": ", j ? "" : je.text);
  }
  int r = 0;
  snprintf(c->os, sizeof c->os, "%s", json_string_value(json_object_get(j, "os")) ?: "");
  snprintf(c->arch, sizeof c->arch, "%s", json_string_value(json_object_get(j, "architecture")) ?: "");
  json_t *cfg = json_object_get(j, "config");
  json_t *env = json_object_get(cfg, "Env");
  size_t i;
  json_t *x;
  if (json_is_array(env) && json_array_size(env) > NC_IMAGE_MAX_ENV)
    r = nc_error_set(err, E2BIG, "image config: Env has %zu entries, at most %d", json_array_size(env),
                     NC_IMAGE_MAX_ENV);
  json_array_foreach(env, i, x) {
    const char *s = json_string_value(x);
    const char *eq = s ? strchr(s, '=') : NULL;
    if (r < 0) break;
    if (!eq || !env_name_ok(s, (size_t)(eq - s)) || strlen(s) > MAX_ARG) continue; /* not NAME=VALUE: ignored */
    if (push(&c->env, &c->n_env, s) < 0) r = nc_error_set(err, ENOMEM, "image config: out of memory");
  }
  const char *wd = json_string_value(json_object_get(cfg, "WorkingDir"));
  if (r == 0 && wd && *wd) {
    if (strlen(wd) >= NC_IMAGE_PATH_MAX)
      r = nc_error_set(err, ENAMETOOLONG, "image config: WorkingDir is too long");
    else if (asprintf(&c->workdir, "%s%s", wd[0] == '/' ? "" : "/", wd) < 0)
      r = -ENOMEM;
  }
  const char *user = json_string_value(json_object_get(cfg, "User"));
  if (r == 0 && user && *user && !(c->user = strdup(user))) r = -ENOMEM;
  if (r == 0) r = strings_of(json_object_get(cfg, "Entrypoint"), &c->argv, &c->argc, err, "Entrypoint");
  if (r == 0) r = strings_of(json_object_get(cfg, "Cmd"), &c->argv, &c->argc, err, "Cmd");
  json_t *ids = json_object_get(json_object_get(j, "rootfs"), "diff_ids");
  if (r == 0 && (!json_is_array(ids) || json_array_size(ids) > NC_IMAGE_MAX_LAYERS))
    r = nc_error_set(err, EINVAL, "image config: rootfs.diff_ids is missing or too long");
  json_array_foreach(ids, i, x) {
    if (r < 0) break;
    if (!nc_digest_valid(json_string_value(x)))
      r = nc_error_set(err, EINVAL, "image config: rootfs.diff_ids[%zu] is not a sha256 digest", i);
    else if (push(&c->diff_ids, &c->n_diff_ids, json_string_value(x)) < 0)
      r = -ENOMEM;
  }
  if (r == -ENOMEM) r = nc_error_set(err, ENOMEM, "image config: out of memory");
  json_decref(j);
  if (r < 0) nc_image_config_free(c);
  return r;
}

int nc_image_load(const char *ref, const char *pinned, struct nc_image_entry *e, struct nc_image_config *cfg,
                  nc_error *err) {
  struct nc_store *s;
  memset(e, 0, sizeof *e);
  memset(cfg, 0, sizeof *cfg);
  int r = nc_store_open(NULL, false, false, &s, err);
  if (r < 0) {
    if (-r == ENOENT) {
      char root[4096] = "", q[600];
      nc_error ignored;
      nc_store_default_root(root, sizeof root, &ignored);
      return nc_error_set(err, ENOENT, "image `%s` is not in the local store (%s); run: nanoclaw image pull %s",
                          Q(q, ref), root, Q(q, ref));
    }
    return r;
  }
  r = nc_store_find(s, pinned && *pinned ? pinned : ref, e, err);
  char *text = NULL;
  size_t len = 0;
  if (r == 0) r = nc_store_read_blob(s, e->config, NC_IMAGE_MAX_JSON, &text, &len, err);
  if (r == 0) r = nc_image_config_parse(text, len, cfg, err);
  free(text);
  if (r == 0 && cfg->n_diff_ids != e->n_layers)
    r = nc_error_set(err, EILSEQ, "image store: the entry and the config disagree");
  for (size_t i = 0; r == 0 && i < e->n_layers; i++)
    if (strcmp(cfg->diff_ids[i], e->layers[i]))
      r = nc_error_set(err, EILSEQ, "image store: the entry and the config disagree on layer %zu", i);
  nc_store_close(s);
  if (r < 0) {
    char q[600];
    nc_image_entry_clear(e);
    nc_image_config_free(cfg);
    if (-r != ENOENT) nc_error_wrap(err, "image `%s`", Q(q, ref));
  }
  return r;
}

/* From an index, the manifest for this host (linux/ARCH[/VARIANT]). */
int nc_index_pick(const char *text, size_t len, char out[NC_DIGEST_LEN], nc_error *err) {
  char arch[32], variant[16], seen[512] = "";
  nc_host_platform(arch, variant);
  json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
  json_t *ms = json_object_get(j, "manifests");
  size_t i, o = 0;
  json_t *m;
  int r = -ENOENT;
  json_array_foreach(ms, i, m) {
    json_t *p = json_object_get(m, "platform");
    const char *os = json_string_value(json_object_get(p, "os"));
    const char *a = json_string_value(json_object_get(p, "architecture"));
    const char *v = json_string_value(json_object_get(p, "variant"));
    const char *d = json_string_value(json_object_get(m, "digest"));
    if (!os || !a || !nc_digest_valid(d)) continue;
    if (strcmp(os, "unknown") && o < sizeof seen - 1)
      o += (size_t)snprintf(seen + o, sizeof seen - o, "%s%.20s/%.20s%s%.8s", o ? ", " : "", os, a, v ? "/" : "",
                            v ? v : "");
    if (strcmp(os, "linux") || strcmp(a, arch)) continue;
    if (v && *v && variant[0] && strcmp(v, variant)) continue;
    strcpy(out, d);
    r = 0;
    break;
  }
  json_decref(j);
  if (r < 0)
    return nc_error_set(err, ENOENT, "no image for linux/%s%s%s in the index (it has: %s)", arch, variant[0] ? "/" : "",
                        variant, seen[0] ? seen : "nothing usable");
  return 0;
}

bool nc_index_is(const char *text, size_t len) {
  json_t *j = json_loadb(text, len, 0, NULL);
  bool idx = json_is_array(json_object_get(j, "manifests"));
  json_decref(j);
  return idx;
}

/* ---- User ---- */

static int open_nofollow(int dirfd, const char *name, int flags) {
  struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
  int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof how);
  if (fd < 0 && errno == ENOSYS) fd = openat(dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW);
  return fd;
}

/* /etc/NAME as the stacked layers show it (topmost first; a whiteout, an
 * opaque /etc or a symlink on the way ends the search). */
static char *etc_file(const struct nc_image_entry *e, const char *name) {
  char root[4096];
  nc_error ignored;
  if (nc_store_default_root(root, sizeof root, &ignored) < 0) return NULL;
  for (size_t k = e->n_layers; k-- > 0;) {
    char path[4200];
    snprintf(path, sizeof path, "%s/layers/sha256/%s", root, e->layers[k] + 7);
    nc_autoclose int l = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (l < 0) return NULL;
    struct stat st;
    if (fstatat(l, "etc", &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
    if (!S_ISDIR(st.st_mode)) return NULL;
    nc_autoclose int etc = open_nofollow(l, "etc", O_RDONLY | O_DIRECTORY);
    if (etc < 0) return NULL;
    if (fstatat(etc, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (!S_ISREG(st.st_mode) || st.st_size > (1 << 20)) return NULL;
      char *buf = malloc((size_t)st.st_size + 1);
      if (!buf) return NULL;
      ssize_t n = nc_read_file_at(etc, name, buf, (size_t)st.st_size + 1);
      if (n < 0) {
        free(buf);
        return NULL;
      }
      return buf;
    }
    char v[4];
    if (fgetxattr(etc, "trusted.overlay.opaque", v, sizeof v) == 1 && v[0] == 'y') return NULL;
  }
  return NULL;
}

/* Field 0 of a passwd/group line equal to key (or field 2 equal, by_id): fields 2 and 3. */
static bool lookup(const char *text, const char *key, bool by_id, unsigned long *f2, unsigned long *f3) {
  if (!text) return false;
  for (const char *line = text; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    char buf[1024];
    if (len < sizeof buf) {
      memcpy(buf, line, len);
      buf[len] = '\0';
      char *fields[4] = {0};
      char *save = NULL, *p = buf;
      int nf = 0;
      for (char *c = p; nf < 4; c++) {
        if (*c == ':' || *c == '\0') {
          fields[nf++] = p;
          bool last = *c == '\0';
          *c = '\0';
          p = c + 1;
          if (last) break;
        }
      }
      (void)save;
      if (nf >= 3) {
        char *endp;
        unsigned long id = strtoul(fields[2], &endp, 10);
        bool id_ok = *fields[2] && !*endp;
        if (id_ok && (by_id ? strtoul(key, NULL, 10) == id : !strcmp(fields[0], key))) {
          *f2 = id;
          if (f3) {
            if (nf < 4 || !*fields[3]) return false;
            *f3 = strtoul(fields[3], &endp, 10);
            if (*endp) return false;
          }
          return true;
        }
      }
    }
    line += len + (end ? 1 : 0);
  }
  return false;
}

static bool numeric(const char *s) {
  if (!*s || strlen(s) > 10) return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

int nc_image_resolve_user(const struct nc_image_entry *e, const char *user, uid_t *ret_uid, gid_t *ret_gid,
                          nc_error *err) {
  char u[256], q[300];
  if (strlen(user) >= sizeof u) return nc_error_set(err, EINVAL, "image user `%.64s...`: too long", user);
  strcpy(u, user);
  char *g = strchr(u, ':');
  if (g) *g++ = '\0';
  nc_autofree char *passwd = NULL;
  nc_autofree char *group = NULL;
  unsigned long uid = 0, gid = 0;
  bool have_gid = false;
  if (numeric(u)) {
    uid = strtoul(u, NULL, 10);
    passwd = etc_file(e, "passwd");
    unsigned long pu, pg;
    if (lookup(passwd, u, true, &pu, &pg)) gid = pg, have_gid = true;
  } else {
    passwd = etc_file(e, "passwd");
    unsigned long pg;
    if (!lookup(passwd, u, false, &uid, &pg))
      return nc_error_set(err, ENOENT, "image user `%s` is not in the image's /etc/passwd", Q(q, user));
    gid = pg, have_gid = true;
  }
  if (g && *g) {
    if (numeric(g)) {
      gid = strtoul(g, NULL, 10);
    } else {
      group = etc_file(e, "group");
      if (!lookup(group, g, false, &gid, NULL))
        return nc_error_set(err, ENOENT, "image group `%s` is not in the image's /etc/group", Q(q, g));
    }
    have_gid = true;
  }
  if (!have_gid) gid = uid;
  if (uid >= 65536 || gid >= 65536)
    return nc_error_set(err, ERANGE, "image user `%s` (%lu:%lu) is outside the sandbox's range 0..65535", Q(q, user),
                        uid, gid);
  *ret_uid = (uid_t)uid;
  *ret_gid = (gid_t)gid;
  return 0;
}
