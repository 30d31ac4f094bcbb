/* store.c — the local image store: its layout and locks, the image list
 * (images.json), verified blobs, unpacked layers by diff_id, and removal
 * with garbage collection of what no image uses any more. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "image/image.h"

#define Q(buf, s) nc_quote((buf), sizeof(buf), (s))
#define IMAGES_MAX (16u << 20)

struct nc_store {
  char root[4096];
  int dfd;  /* the store's root directory */
  int lock; /* ROOT/lock, flocked shared or exclusive */
};

int nc_store_default_root(char *out, size_t n, nc_error *err) {
  const char *env = getenv("NANOCLAW_STORE");
  int w;
  if (env && *env) {
    if (env[0] != '/') return nc_error_set(err, EINVAL, "NANOCLAW_STORE must be an absolute path");
    w = snprintf(out, n, "%s", env);
  } else if (geteuid() == 0) {
    w = snprintf(out, n, "/var/lib/nanoclaw");
  } else {
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
      w = snprintf(out, n, "%s/nanoclaw", xdg);
    else if (home && home[0] == '/')
      w = snprintf(out, n, "%s/.local/share/nanoclaw", home);
    else
      return nc_error_set(err, ENOENT, "no image store: set HOME, XDG_DATA_HOME or NANOCLAW_STORE");
  }
  if (w < 0 || (size_t)w >= n) return nc_error_set(err, ENAMETOOLONG, "the image store path is too long");
  return 0;
}

static int mkdir_p(const char *path, mode_t mode) {
  char buf[4096];
  if (strlen(path) >= sizeof buf) return -ENAMETOOLONG;
  strcpy(buf, path);
  for (char *c = buf + 1; *c; c++) {
    if (*c != '/') continue;
    *c = '\0';
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -errno;
    *c = '/';
  }
  if (mkdir(buf, mode) < 0 && errno != EEXIST) return -errno;
  return 0;
}

int nc_store_open(const char *root, bool create, bool exclusive, struct nc_store **ret, nc_error *err) {
  char q[4200];
  struct nc_store *s = calloc(1, sizeof *s);
  if (!s) return nc_error_set(err, ENOMEM, "image store: out of memory");
  s->dfd = s->lock = -1;
  int r = 0;
  if (root) {
    if (strlen(root) >= sizeof s->root)
      r = nc_error_set(err, ENAMETOOLONG, "the image store path is too long");
    else
      strcpy(s->root, root);
  } else {
    r = nc_store_default_root(s->root, sizeof s->root, err);
  }
  if (r == 0 && create && (r = mkdir_p(s->root, 0700)) < 0)
    r = nc_error_sys(err, -r, "create the image store `%s`", Q(q, s->root));
  if (r == 0) {
    s->dfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dfd < 0) r = nc_error_sys(err, errno, "the image store `%s`", Q(q, s->root));
  }
  struct stat st;
  if (r == 0 && fstat(s->dfd, &st) < 0) r = nc_error_sys(err, errno, "stat `%s`", Q(q, s->root));
  /* whoever can write the store can change what every sandbox runs */
  if (r == 0 && (st.st_uid != geteuid() || (st.st_mode & 022)))
    r = nc_error_set(err, EPERM, "the image store `%s` must be owned by uid %u and writable by no one else",
                     Q(q, s->root), (unsigned)geteuid());
  if (r == 0 && create) {
    static const char *const dirs[] = {"blobs", "blobs/sha256", "layers", "layers/sha256", "tmp"};
    for (size_t i = 0; r == 0 && i < NC_ARRAY_SIZE(dirs); i++)
      if (mkdirat(s->dfd, dirs[i], 0700) < 0 && errno != EEXIST)
        r = nc_error_sys(err, errno, "create `%s/%s`", Q(q, s->root), dirs[i]);
  }
  if (r == 0) {
    s->lock = openat(s->dfd, "lock", O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0600);
    if (s->lock < 0) r = nc_error_sys(err, errno, "the image store lock `%s/lock`", Q(q, s->root));
  }
  while (r == 0 && flock(s->lock, exclusive ? LOCK_EX : LOCK_SH) < 0)
    if (errno != EINTR) r = nc_error_sys(err, errno, "lock the image store `%s`", Q(q, s->root));
  if (r < 0) {
    nc_store_close(s);
    return r;
  }
  *ret = s;
  return 0;
}

void nc_store_close(struct nc_store *s) {
  if (!s) return;
  nc_closep(&s->lock);
  nc_closep(&s->dfd);
  free(s);
}

const char *nc_store_root(const struct nc_store *s) { return s->root; }
int nc_store_dirfd(const struct nc_store *s) { return s->dfd; }

/* ---- the image list ---- */

void nc_image_entry_clear(struct nc_image_entry *e) {
  if (!e) return;
  free(e->name);
  free(e->tag);
  free(e->created);
  for (size_t i = 0; i < e->n_layers; i++) free(e->layers[i]);
  free(e->layers);
  memset(e, 0, sizeof *e);
}

void nc_image_entries_free(struct nc_image_entry *v, size_t n) {
  for (size_t i = 0; i < n; i++) nc_image_entry_clear(&v[i]);
  free(v);
}

static int copy_digest(char out[NC_DIGEST_LEN], json_t *v, bool optional) {
  const char *s = json_string_value(v);
  if (!s || !*s) {
    out[0] = '\0';
    return optional ? 0 : -1;
  }
  if (!nc_digest_valid(s)) return -1;
  strcpy(out, s);
  return 0;
}

static int entry_from_json(json_t *o, struct nc_image_entry *e) {
  memset(e, 0, sizeof *e);
  const char *name = json_string_value(json_object_get(o, "name"));
  const char *tag = json_string_value(json_object_get(o, "tag"));
  const char *created = json_string_value(json_object_get(o, "created"));
  json_t *layers = json_object_get(o, "layers");
  if (!name || !json_is_array(layers) || json_array_size(layers) > NC_IMAGE_MAX_LAYERS) return -1;
  if (copy_digest(e->digest, json_object_get(o, "digest"), false) < 0 ||
      copy_digest(e->index_digest, json_object_get(o, "index_digest"), true) < 0 ||
      copy_digest(e->config, json_object_get(o, "config"), false) < 0)
    return -1;
  e->name = strdup(name);
  e->tag = tag ? strdup(tag) : NULL;
  e->created = strdup(created ? created : "");
  e->size = (uint64_t)json_integer_value(json_object_get(o, "size"));
  e->layers = calloc(json_array_size(layers) + 1, sizeof *e->layers);
  if (!e->name || (tag && !e->tag) || !e->created || !e->layers) return -1;
  size_t i;
  json_t *l;
  json_array_foreach(layers, i, l) {
    const char *d = json_string_value(l);
    if (!nc_digest_valid(d) || !(e->layers[e->n_layers] = strdup(d))) return -1;
    e->n_layers++;
  }
  return 0;
}

static json_t *entry_to_json(const struct nc_image_entry *e) {
  json_t *layers = json_array();
  for (size_t i = 0; layers && i < e->n_layers; i++) json_array_append_new(layers, json_string(e->layers[i]));
  return json_pack("{s:s, s:s?, s:s, s:s?, s:s, s:o, s:I, s:s}", "name", e->name, "tag", e->tag, "digest", e->digest,
                   "index_digest", e->index_digest[0] ? e->index_digest : NULL, "config", e->config, "layers", layers,
                   "size", (json_int_t)e->size, "created", e->created ? e->created : "");
}

int nc_store_list(struct nc_store *s, struct nc_image_entry **ret, size_t *ret_n, nc_error *err) {
  char q[4200];
  *ret = NULL;
  *ret_n = 0;
  int fd = openat(s->dfd, "images.json", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno == ENOENT ? 0 : nc_error_sys(err, errno, "open `%s/images.json`", Q(q, s->root));
  json_error_t je;
  json_t *root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &je);
  close(fd);
  json_t *images = root ? json_object_get(root, "images") : NULL;
  if (!json_is_array(images)) {
    json_decref(root);
    return nc_error_set(err, EINVAL, "`%s/images.json` is damaged (%s)", Q(q, s->root), root ? "no images" : je.text);
  }
  size_t n = json_array_size(images);
  struct nc_image_entry *v = calloc(n + 1, sizeof *v);
  if (!v) {
    json_decref(root);
    return nc_error_set(err, ENOMEM, "image store: out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    if (entry_from_json(json_array_get(images, i), &v[i]) < 0) {
      nc_image_entries_free(v, i + 1);
      json_decref(root);
      return nc_error_set(err, EINVAL, "`%s/images.json`: entry %zu is damaged", Q(q, s->root), i);
    }
  }
  json_decref(root);
  *ret = v;
  *ret_n = n;
  return 0;
}

static int write_list(struct nc_store *s, const struct nc_image_entry *v, size_t n, nc_error *err) {
  char q[4200];
  json_t *images = json_array();
  for (size_t i = 0; images && i < n; i++) json_array_append_new(images, entry_to_json(&v[i]));
  json_t *root = json_pack("{s:i, s:o}", "version", 1, "images", images);
  char *text = root ? json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(root);
  if (!text) return nc_error_set(err, ENOMEM, "image store: out of memory");
  char tmp[80];
  char id[33];
  nc_random_id(id);
  snprintf(tmp, sizeof tmp, "images.json.%s", id);
  int fd = openat(s->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  int r = fd < 0 ? -errno : nc_write_all(fd, text, strlen(text));
  if (r == 0 && nc_write_all(fd, "\n", 1) == 0 && fsync(fd) < 0) r = -errno;
  free(text);
  if (fd >= 0) close(fd);
  if (r == 0 && renameat(s->dfd, tmp, s->dfd, "images.json") < 0) r = -errno;
  if (r < 0) {
    unlinkat(s->dfd, tmp, 0);
    return nc_error_sys(err, -r, "write `%s/images.json`", Q(q, s->root));
  }
  fsync(s->dfd);
  return 0;
}

/* Writers of images.json take this lock; pulls hold the store lock only shared. */
static int list_lock(struct nc_store *s, nc_error *err) {
  int fd = openat(s->dfd, "images.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return nc_error_sys(err, errno, "open the image list lock");
  while (flock(fd, LOCK_EX) < 0) {
    if (errno == EINTR) continue;
    int e = errno;
    close(fd);
    return nc_error_sys(err, e, "lock the image list");
  }
  return fd;
}

static bool entry_matches(const struct nc_image_entry *e, const char *name, const struct nc_image_ref *r,
                          const char *bare_digest) {
  if (bare_digest) return !strcmp(e->digest, bare_digest);
  if (strcmp(e->name, name)) return false;
  if (r->digest[0]) return !strcmp(e->digest, r->digest) || !strcmp(e->index_digest, r->digest);
  return e->tag && !strcmp(e->tag, r->tag);
}

static int parse_lookup(const char *ref, struct nc_image_ref *r, char name[300], const char **bare, nc_error *err) {
  *bare = NULL;
  if (!strncmp(ref, "sha256:", 7)) {
    if (!nc_digest_valid(ref)) return nc_error_set(err, EINVAL, "`%.80s` is not a sha256 digest", ref);
    *bare = ref;
    return 0;
  }
  int rc = nc_image_ref_parse(ref, r, err);
  if (rc < 0) return rc;
  nc_image_ref_name(r, name, 300);
  return 0;
}

static int entry_copy(struct nc_image_entry *dst, const struct nc_image_entry *src) {
  json_t *j = entry_to_json(src);
  int r = j ? entry_from_json(j, dst) : -1;
  json_decref(j);
  if (r < 0) nc_image_entry_clear(dst);
  return r;
}

int nc_store_find(struct nc_store *s, const char *ref, struct nc_image_entry *ret, nc_error *err) {
  struct nc_image_ref r;
  char name[300], q[600];
  const char *bare;
  memset(ret, 0, sizeof *ret);
  int rc = parse_lookup(ref, &r, name, &bare, err);
  if (rc < 0) return rc;
  struct nc_image_entry *v;
  size_t n;
  if ((rc = nc_store_list(s, &v, &n, err)) < 0) return rc;
  rc = -ENOENT;
  for (size_t i = 0; i < n && rc == -ENOENT; i++) {
    if (!entry_matches(&v[i], name, &r, bare)) continue;
    rc = entry_copy(ret, &v[i]) < 0 ? nc_error_set(err, ENOMEM, "image store: out of memory") : 0;
  }
  nc_image_entries_free(v, n);
  if (rc == -ENOENT) {
    char root[4200];
    nc_error_set(err, ENOENT, "image `%s` is not in the local store (%s); run: nanoclaw image pull %s", Q(q, ref),
                 Q(root, s->root), Q(q, ref));
  }
  return rc;
}

static void now_rfc3339(char out[32]) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int nc_store_add(struct nc_store *s, const struct nc_image_entry *e, nc_error *err) {
  int lk = list_lock(s, err);
  if (lk < 0) return lk;
  struct nc_image_entry *v;
  size_t n;
  int r = nc_store_list(s, &v, &n, err);
  if (r < 0) {
    close(lk);
    return r;
  }
  struct nc_image_entry *nv = realloc(v, (n + 1) * sizeof *nv);
  if (!nv) {
    nc_image_entries_free(v, n);
    close(lk);
    return nc_error_set(err, ENOMEM, "image store: out of memory");
  }
  v = nv;
  size_t at = n;
  for (size_t i = 0; i < n; i++) {
    bool same = !strcmp(v[i].name, e->name) &&
                (e->tag ? (v[i].tag && !strcmp(v[i].tag, e->tag)) : (!v[i].tag && !strcmp(v[i].digest, e->digest)));
    if (same) {
      nc_image_entry_clear(&v[i]);
      at = i;
      break;
    }
  }
  char when[32];
  now_rfc3339(when);
  struct nc_image_entry copy = *e;
  copy.created = when;
  if (entry_copy(&v[at], &copy) < 0) r = nc_error_set(err, ENOMEM, "image store: out of memory");
  if (at == n) n++;
  if (r == 0) r = write_list(s, v, n, err);
  nc_image_entries_free(v, n);
  close(lk);
  return r;
}

/* ---- blobs and layers ---- */

static void blob_path(char out[96], const char *dir, const char *digest) {
  snprintf(out, 96, "%s/sha256/%s", dir, digest + 7);
}

int nc_store_read_blob(struct nc_store *s, const char *digest, size_t max, char **ret, size_t *ret_len, nc_error *err) {
  char path[96];
  if (!nc_digest_valid(digest)) return nc_error_set(err, EINVAL, "`%.80s` is not a sha256 digest", digest);
  blob_path(path, "blobs", digest);
  nc_autoclose int fd = openat(s->dfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return nc_error_sys(err, errno, "blob %s in the image store", digest);
  struct stat st;
  if (fstat(fd, &st) < 0) return nc_error_sys(err, errno, "blob %s", digest);
  if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max)
    return nc_error_set(err, EFBIG, "blob %s in the image store: larger than %zu bytes", digest, max);
  char *buf = malloc((size_t)st.st_size + 1);
  if (!buf) return nc_error_set(err, ENOMEM, "blob %s: out of memory", digest);
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      free(buf);
      return nc_error_sys(err, n < 0 ? errno : EIO, "read blob %s", digest);
    }
    got += (size_t)n;
  }
  buf[got] = '\0';
  char have[NC_DIGEST_LEN];
  nc_sha256_buf(buf, got, have);
  if (strcmp(have, digest)) {
    free(buf);
    return nc_error_set(err, EILSEQ, "blob %s in the image store is corrupt (its content has digest %s)", digest, have);
  }
  *ret = buf;
  if (ret_len) *ret_len = got;
  return 0;
}

int nc_store_write_blob(struct nc_store *s, const char *digest, const void *p, size_t n, nc_error *err) {
  char have[NC_DIGEST_LEN], path[96], tmp[64];
  if (!nc_digest_valid(digest)) return nc_error_set(err, EINVAL, "`%.80s` is not a sha256 digest", digest);
  nc_sha256_buf(p, n, have);
  if (strcmp(have, digest))
    return nc_error_set(err, EILSEQ, "blob %s: digest mismatch (the content has digest %s)", digest, have);
  int fd = nc_store_tmpfile(s, tmp, err);
  if (fd < 0) return fd;
  int r = nc_write_all(fd, p, n);
  if (r == 0 && fchmod(fd, 0644) < 0) r = -errno;
  if (r == 0 && fsync(fd) < 0) r = -errno;
  close(fd);
  char from[96];
  snprintf(from, sizeof from, "tmp/%s", tmp);
  blob_path(path, "blobs", digest);
  if (r == 0 && renameat(s->dfd, from, s->dfd, path) < 0) r = -errno;
  if (r < 0) {
    unlinkat(s->dfd, from, 0);
    return nc_error_sys(err, -r, "store blob %s", digest);
  }
  return 0;
}

bool nc_store_has_layer(struct nc_store *s, const char *diff_id) {
  char path[96];
  struct stat st;
  if (!nc_digest_valid(diff_id)) return false;
  blob_path(path, "layers", diff_id);
  return fstatat(s->dfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static int tmp_name(char out[64], const char *prefix) {
  char id[33];
  int r = nc_random_id(id);
  if (r < 0) return r;
  snprintf(out, 64, "%s-%s", prefix, id);
  return 0;
}

int nc_store_tmpfile(struct nc_store *s, char ret_name[64], nc_error *err) {
  char path[80];
  int r = tmp_name(ret_name, "f");
  if (r < 0) return nc_error_sys(err, -r, "getrandom");
  snprintf(path, sizeof path, "tmp/%s", ret_name);
  int fd = openat(s->dfd, path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return nc_error_sys(err, errno, "create a temp file in the image store");
  return fd;
}

int nc_store_tmpdir(struct nc_store *s, char ret_name[64], nc_error *err) {
  char path[80];
  int r = tmp_name(ret_name, "d");
  if (r < 0) return nc_error_sys(err, -r, "getrandom");
  snprintf(path, sizeof path, "tmp/%s", ret_name);
  if (mkdirat(s->dfd, path, 0700) < 0) return nc_error_sys(err, errno, "create a temp dir in the image store");
  int fd = openat(s->dfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return nc_error_sys(err, errno, "open a temp dir in the image store");
  return fd;
}

void nc_store_tmp_remove(struct nc_store *s, const char *name) {
  int t = openat(s->dfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (t < 0) return;
  nc_rm_rf_at(t, name);
  close(t);
}

int nc_store_unpack_layer(struct nc_store *s, int fd, const char *diff_id, const char *label, nc_error *err) {
  if (nc_store_has_layer(s, diff_id)) return 0;
  char tmp[64], from[80], to[96], got[NC_DIGEST_LEN];
  int dfd = nc_store_tmpdir(s, tmp, err);
  if (dfd < 0) return dfd;
  struct nc_unpack_stats st;
  int r = nc_unpack_layer(fd, dfd, got, &st, err);
  close(dfd);
  if (r < 0) {
    nc_store_tmp_remove(s, tmp);
    return nc_error_wrap(err, "layer %s", label);
  }
  if (strcmp(got, diff_id)) {
    nc_store_tmp_remove(s, tmp);
    return nc_error_set(err, EILSEQ, "layer %s: its content has digest %s, the image config says %s", label, got,
                        diff_id);
  }
  snprintf(from, sizeof from, "tmp/%s", tmp);
  blob_path(to, "layers", diff_id);
  if (renameat(s->dfd, from, s->dfd, to) < 0) {
    int e = errno;
    nc_store_tmp_remove(s, tmp);
    if (e != EEXIST && e != ENOTEMPTY) return nc_error_sys(err, e, "store layer %s", diff_id);
  }
  return 0;
}

/* ---- removal ---- */

static bool in_list(char **v, size_t n, const char *s) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(v[i], s)) return true;
  return false;
}

/* The digests (hex part) no remaining entry uses, of those in dir/sha256. */
static int unused_in(struct nc_store *s, const char *dir, const struct nc_image_entry *v, size_t n, bool layers,
                     char ***ret, size_t *ret_n) {
  char path[32];
  snprintf(path, sizeof path, "%s/sha256", dir);
  *ret = NULL;
  *ret_n = 0;
  int fd = openat(s->dfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno == ENOENT ? 0 : -errno;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return -errno;
  }
  size_t cap = 0;
  for (struct dirent *de; (de = readdir(d));) {
    char dg[NC_DIGEST_LEN + 8];
    if (strlen(de->d_name) != 64) continue;
    snprintf(dg, sizeof dg, "sha256:%.64s", de->d_name);
    if (!nc_digest_valid(dg)) continue;
    bool used = false;
    for (size_t i = 0; i < n && !used; i++)
      used = layers ? in_list(v[i].layers, v[i].n_layers, dg) : !strcmp(v[i].digest, dg) || !strcmp(v[i].config, dg);
    if (used) continue;
    if (*ret_n == cap) {
      cap = cap ? cap * 2 : 16;
      char **nv = realloc(*ret, cap * sizeof *nv);
      if (!nv) break;
      *ret = nv;
    }
    (*ret)[(*ret_n)++] = strdup(de->d_name);
  }
  closedir(d);
  return 0;
}

static void strs_free(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

int nc_store_remove(struct nc_store *s, const char *ref, size_t *ret_layers_removed, nc_error *err) {
  struct nc_image_ref r;
  char name[300], q[600];
  const char *bare;
  *ret_layers_removed = 0;
  int rc = parse_lookup(ref, &r, name, &bare, err);
  if (rc < 0) return rc;
  int lk = list_lock(s, err);
  if (lk < 0) return lk;
  struct nc_image_entry *v;
  size_t n, k = 0;
  if ((rc = nc_store_list(s, &v, &n, err)) < 0) {
    close(lk);
    return rc;
  }
  size_t removed = 0;
  for (size_t i = 0; i < n; i++) {
    if (entry_matches(&v[i], name, &r, bare)) {
      nc_image_entry_clear(&v[i]);
      removed++;
    } else {
      v[k++] = v[i];
    }
  }
  if (!removed) {
    nc_image_entries_free(v, k);
    close(lk);
    char root[4200];
    return nc_error_set(err, ENOENT, "image `%s` is not in the local store (%s)", Q(q, ref), Q(root, s->root));
  }
  char **layers = NULL, **blobs = NULL;
  size_t nl = 0, nb = 0;
  rc = unused_in(s, "layers", v, k, true, &layers, &nl);
  if (rc == 0) rc = unused_in(s, "blobs", v, k, false, &blobs, &nb);
  if (rc < 0) rc = nc_error_sys(err, -rc, "read the image store");
  /* a layer a running sandbox holds (shared flock) stays, and so does the image */
  int *locks = calloc(nl + 1, sizeof *locks);
  if (rc == 0 && !locks) rc = nc_error_set(err, ENOMEM, "image store: out of memory");
  for (size_t i = 0; locks && i <= nl; i++) locks[i] = -1;
  for (size_t i = 0; rc == 0 && i < nl; i++) {
    char path[96];
    snprintf(path, sizeof path, "layers/sha256/%s", layers[i]);
    locks[i] = openat(s->dfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (locks[i] >= 0 && flock(locks[i], LOCK_EX | LOCK_NB) < 0)
      rc = nc_error_set(err, EBUSY, "image `%s`: its layer sha256:%.12s is in use by a running sandbox", Q(q, ref),
                        layers[i]);
  }
  if (rc == 0) rc = write_list(s, v, k, err);
  if (rc == 0) {
    int lfd = openat(s->dfd, "layers/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    int bfd = openat(s->dfd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    for (size_t i = 0; lfd >= 0 && i < nl; i++) {
      /* out of sight first, so a half-removed layer is never used */
      char hidden[96];
      snprintf(hidden, sizeof hidden, ".rm-%s", layers[i]);
      if (renameat(lfd, layers[i], lfd, hidden) == 0 && nc_rm_rf_at(lfd, hidden) == 0) (*ret_layers_removed)++;
    }
    for (size_t i = 0; bfd >= 0 && i < nb; i++) unlinkat(bfd, blobs[i], 0);
    /* leftovers of a crashed removal, and of pulls that died (none runs now: the lock is exclusive) */
    DIR *d = lfd >= 0 ? fdopendir(dup(lfd)) : NULL;
    for (struct dirent *de; d && (de = readdir(d));)
      if (!strncmp(de->d_name, ".rm-", 4)) nc_rm_rf_at(dirfd(d), de->d_name);
    if (d) closedir(d);
    int tfd = openat(s->dfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    DIR *t = tfd >= 0 ? fdopendir(tfd) : NULL;
    for (struct dirent *de; t && (de = readdir(t));)
      if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) nc_rm_rf_at(dirfd(t), de->d_name);
    if (t)
      closedir(t);
    else if (tfd >= 0)
      close(tfd);
    if (lfd >= 0) close(lfd);
    if (bfd >= 0) close(bfd);
  }
  for (size_t i = 0; locks && i < nl; i++)
    if (locks[i] >= 0) close(locks[i]);
  free(locks);
  strs_free(layers, nl);
  strs_free(blobs, nb);
  nc_image_entries_free(v, k);
  close(lk);
  return rc;
}
