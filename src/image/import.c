/* import.c — `image import`: an OCI image layout directory (oci:DIR) or the
 * output of `docker save` (docker-archive:FILE). Every blob is copied into
 * the store's temp dir while hashing and used only from that private copy. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/archive-lazy.h"
#include "core/util.h"
#include "image/commit.h"

#define Q(buf, s) nc_quote((buf), sizeof(buf), (s))
#define MAX_MEMBERS 100000

static int open_beneath(int dirfd, const char *path, int flags) {
  struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
  int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
  if (fd < 0 && errno == ENOSYS) fd = openat(dirfd, path, flags | O_CLOEXEC | O_NOFOLLOW);
  return fd;
}

static int read_all(int fd, size_t max, char **ret, size_t *ret_len) {
  size_t cap = 65536, len = 0;
  char *buf = malloc(cap + 1);
  if (!buf) return -ENOMEM;
  for (;;) {
    if (len == cap) {
      if (cap >= max) {
        free(buf);
        return -EFBIG;
      }
      cap = cap * 2 > max ? max : cap * 2;
      char *nb = realloc(buf, cap + 1);
      if (!nb) {
        free(buf);
        return -ENOMEM;
      }
      buf = nb;
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      free(buf);
      return -errno;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  *ret = buf;
  *ret_len = len;
  return 0;
}

/* "oci:DIR:REF" -> DIR and REF (REF may be empty). */
static void split_source(const char *rest, char *path, size_t n, const char **ret_ref) {
  const char *colon = strchr(rest, ':');
  size_t len = colon ? (size_t)(colon - rest) : strlen(rest);
  if (len >= n) len = n - 1;
  memcpy(path, rest, len);
  path[len] = '\0';
  *ret_ref = colon ? colon + 1 : "";
}

/* The name to store under: the one given, or one the source carries. */
static int naming(const char *given, const char *carried, const char *src, struct nc_image_ref *ref, nc_error *err) {
  char q[600];
  const char *use = given && *given ? given : carried;
  if (!use || !*use || (!(given && *given) && !strchr(use, '/') && !strchr(use, ':')))
    return nc_error_set(err, EINVAL, "`%s` names no image: give it one (%s:NAME[:TAG])", Q(q, src),
                        !strncmp(src, "oci:", 4) ? "oci:DIR" : "docker-archive:FILE");
  return nc_image_ref_parse(use, ref, err);
}

/* ---- oci:DIR ---- */

struct oci {
  struct nc_store *s;
  int dir;
  char tmp[64];
};

static int oci_copy(struct oci *o, const char *digest, uint64_t size, char tmp[64], nc_error *err) {
  char path[96];
  if (!nc_digest_valid(digest)) return nc_error_set(err, EINVAL, "`%.80s` is not a sha256 digest", digest);
  snprintf(path, sizeof path, "blobs/sha256/%s", digest + 7);
  nc_autoclose int in = open_beneath(o->dir, path, O_RDONLY);
  if (in < 0) return nc_error_sys(err, errno, "blob %s in the layout", digest);
  return nc_blob_tmp_verify(o->s, in, digest, size, tmp, err);
}

static int oci_open(void *u, const char *digest, uint64_t size, nc_error *err) {
  struct oci *o = u;
  return oci_copy(o, digest, size, o->tmp, err);
}

static void oci_done(void *u, const char *digest) {
  struct oci *o = u;
  (void)digest;
  nc_store_tmp_remove(o->s, o->tmp);
}

static int oci_read(void *u, const char *digest, uint64_t size, char **ret, size_t *ret_len, nc_error *err) {
  struct oci *o = u;
  char tmp[64];
  if (size > NC_IMAGE_MAX_JSON) return nc_error_set(err, EFBIG, "blob %s: larger than 4 MiB", digest);
  int fd = oci_copy(o, digest, size, tmp, err);
  if (fd < 0) return fd;
  int r = read_all(fd, NC_IMAGE_MAX_JSON, ret, ret_len);
  close(fd);
  nc_store_tmp_remove(o->s, tmp);
  return r < 0 ? nc_error_sys(err, -r, "read blob %s", digest) : 0;
}

/* The manifest descriptor index.json points at: the only one, the one whose
 * ref.name is tag, or the one for this platform. */
static int oci_pick(json_t *index, const char *tag, char digest[NC_DIGEST_LEN], uint64_t *size, const char **carried,
                    nc_error *err) {
  json_t *ms = json_object_get(index, "manifests");
  size_t n = json_array_size(ms), i;
  json_t *m, *pick = NULL;
  if (n == 1) pick = json_array_get(ms, 0);
  json_array_foreach(ms, i, m) {
    if (pick) break;
    const char *rn =
        json_string_value(json_object_get(json_object_get(m, "annotations"), "org.opencontainers.image.ref.name"));
    if (tag && rn && !strcmp(rn, tag)) pick = m;
  }
  if (!pick) {
    char *text = json_dumps(index, JSON_COMPACT);
    char d[NC_DIGEST_LEN];
    int r = text ? nc_index_pick(text, strlen(text), d, err) : -ENOMEM;
    free(text);
    if (r < 0)
      return nc_error_set(err, ENOENT, "the layout holds %zu images and none is for this host or named `%s`", n,
                          tag ? tag : "");
    json_array_foreach(ms, i, m) if (!pick && !strcmp(json_string_value(json_object_get(m, "digest")) ?: "", d)) pick =
        m;
  }
  const char *dg = json_string_value(json_object_get(pick, "digest"));
  json_t *sz = json_object_get(pick, "size");
  if (!nc_digest_valid(dg) || !json_is_integer(sz) || json_integer_value(sz) < 0 ||
      json_integer_value(sz) > (json_int_t)NC_IMAGE_MAX_JSON)
    return nc_error_set(err, EINVAL, "index.json: an invalid manifest descriptor");
  strcpy(digest, dg);
  *size = (uint64_t)json_integer_value(sz);
  json_t *ann = json_object_get(pick, "annotations");
  *carried = json_string_value(json_object_get(ann, "io.containerd.image.name"));
  if (!*carried) *carried = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
  return 0;
}

static int import_oci(struct nc_store *s, const char *src, const struct nc_pull_options *po, char ret_ref[600],
                      char ret_digest[NC_DIGEST_LEN], nc_error *err) {
  char path[4096], q[4200];
  const char *given;
  split_source(src + 4, path, sizeof path, &given);
  struct oci o = {.s = s, .dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (o.dir < 0) return nc_error_sys(err, errno, "OCI layout `%s`", Q(q, path));
  char *text = NULL, *man = NULL, *idx = NULL;
  size_t len = 0, mlen = 0, ilen = 0;
  json_t *index = NULL;
  int fd = open_beneath(o.dir, "index.json", O_RDONLY);
  int r = fd < 0 ? nc_error_sys(err, errno, "`%s/index.json`", Q(q, path)) : 0;
  if (r == 0 && (r = read_all(fd, NC_IMAGE_MAX_JSON, &text, &len)) < 0)
    r = nc_error_sys(err, -r, "read `%s/index.json`", Q(q, path));
  if (fd >= 0) close(fd);
  if (r == 0 && !(index = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL)))
    r = nc_error_set(err, EINVAL, "`%s/index.json` is not JSON", Q(q, path));
  struct nc_image_ref ref;
  char digest[NC_DIGEST_LEN], index_digest[NC_DIGEST_LEN] = "", name[300];
  uint64_t size = 0;
  const char *carried = NULL;
  const char *want_tag = NULL;
  struct nc_image_ref g;
  nc_error ignored;
  if (given[0] && nc_image_ref_parse(given, &g, &ignored) == 0 && g.tag[0]) want_tag = g.tag;
  if (r == 0) r = oci_pick(index, want_tag, digest, &size, &carried, err);
  if (r == 0) r = naming(given, carried, src, &ref, err);
  if (r == 0) r = oci_read(&o, digest, size, &man, &mlen, err);
  if (r == 0 && nc_index_is(man, mlen)) { /* a multi-platform image */
    idx = man, ilen = mlen, man = NULL;
    strcpy(index_digest, digest);
    if ((r = nc_index_pick(idx, ilen, digest, err)) == 0) {
      json_t *j = json_loadb(idx, ilen, 0, NULL);
      size_t i;
      json_t *m;
      json_array_foreach(json_object_get(j, "manifests"), i,
                         m) if (!strcmp(json_string_value(json_object_get(m, "digest")) ?: "", digest)) size =
          (uint64_t)json_integer_value(json_object_get(m, "size"));
      json_decref(j);
      r = oci_read(&o, digest, size, &man, &mlen, err);
    }
  }
  if (r == 0) {
    struct nc_blob_source bs = {.open_blob = oci_open, .read_blob = oci_read, .done_blob = oci_done, .u = &o};
    nc_image_ref_name(&ref, name, sizeof name);
    r = nc_image_commit(s, name, ref.tag[0] ? ref.tag : NULL, man, mlen, index_digest[0] ? index_digest : NULL, &bs, po,
                        ret_digest, err);
  }
  if (r == 0) nc_image_ref_format(&ref, ret_ref, 600);
  json_decref(index);
  free(text);
  free(man);
  free(idx);
  close(o.dir);
  return r;
}

/* ---- docker-archive:FILE ---- */

struct member {
  char *name;
  char tmp[64];
  char digest[NC_DIGEST_LEN];
  uint64_t size;
  bool gzip;
};

struct darchive {
  struct nc_store *s;
  struct member *m;
  size_t n;
};

static const struct member *member_by(const struct darchive *d, const char *name, const char *digest) {
  for (size_t i = 0; i < d->n; i++)
    if ((name && !strcmp(d->m[i].name, name)) || (digest && !strcmp(d->m[i].digest, digest))) return &d->m[i];
  return NULL;
}

static int da_open(void *u, const char *digest, uint64_t size, nc_error *err) {
  struct darchive *d = u;
  const struct member *m = member_by(d, NULL, digest);
  if (!m || m->size != size) return nc_error_set(err, ENOENT, "the archive has no blob %s", digest);
  char path[80];
  snprintf(path, sizeof path, "tmp/%s", m->tmp);
  int fd = openat(nc_store_dirfd(d->s), path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  return fd < 0 ? nc_error_sys(err, errno, "reopen blob %s", digest) : fd;
}

static int da_read(void *u, const char *digest, uint64_t size, char **ret, size_t *ret_len, nc_error *err) {
  if (size > NC_IMAGE_MAX_JSON) return nc_error_set(err, EFBIG, "blob %s: larger than 4 MiB", digest);
  int fd = da_open(u, digest, size, err);
  if (fd < 0) return fd;
  int r = read_all(fd, NC_IMAGE_MAX_JSON, ret, ret_len);
  close(fd);
  return r < 0 ? nc_error_sys(err, -r, "read blob %s", digest) : 0;
}

/* Every regular member into a temp file, hashed on the way. */
static int da_explode(struct darchive *d, int fd, const char *file, nc_error *err) {
  char q[4200];
  if (!nc_archive_load(err)) return -ENOTSUP;
  struct archive *a = archive_read_new();
  if (!a) return nc_error_set(err, ENOMEM, "out of memory");
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  int r = 0;
  if (archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK)
    r = nc_error_set(err, EINVAL, "`%s` is not a tar archive: %s", Q(q, file), archive_error_string(a));
  char *buf = malloc(1 << 20);
  if (!buf) r = nc_error_set(err, ENOMEM, "out of memory");
  struct archive_entry *e;
  while (r == 0) {
    int x = archive_read_next_header(a, &e);
    if (x == ARCHIVE_EOF) break;
    if (x != ARCHIVE_OK && x != ARCHIVE_WARN) {
      r = nc_error_set(err, EINVAL, "`%s`: %s", Q(q, file), archive_error_string(a));
      break;
    }
    char name[NC_IMAGE_PATH_MAX];
    const char *raw = archive_entry_pathname(e);
    if (archive_entry_filetype(e) != AE_IFREG || !raw || nc_image_clean_path(raw, name, sizeof name) != 0) continue;
    if (d->n >= MAX_MEMBERS) {
      r = nc_error_set(err, E2BIG, "`%s`: more than %d files", Q(q, file), MAX_MEMBERS);
      break;
    }
    struct member *nm = realloc(d->m, (d->n + 1) * sizeof *nm);
    if (!nm) {
      r = nc_error_set(err, ENOMEM, "out of memory");
      break;
    }
    d->m = nm;
    struct member *m = &d->m[d->n];
    memset(m, 0, sizeof *m);
    int out = nc_store_tmpfile(d->s, m->tmp, err);
    if (out < 0) {
      r = out;
      break;
    }
    if (!(m->name = strdup(name))) r = nc_error_set(err, ENOMEM, "out of memory");
    d->n++;
    struct nc_sha256 *h = nc_sha256_new();
    if (!h) r = nc_error_set(err, ENOMEM, "out of memory");
    la_ssize_t k;
    while (r == 0 && (k = archive_read_data(a, buf, 1 << 20)) > 0) {
      if (m->size == 0 && k >= 2 && (unsigned char)buf[0] == 0x1f && (unsigned char)buf[1] == 0x8b) m->gzip = true;
      m->size += (uint64_t)k;
      if (m->size > NC_IMAGE_MAX_BLOB)
        r = nc_error_set(err, EFBIG, "`%s`: a member larger than 8 GiB", Q(q, file));
      else if (nc_write_all(out, buf, (size_t)k) < 0)
        r = nc_error_sys(err, errno, "write to the store");
      else
        nc_sha256_update(h, buf, (size_t)k);
    }
    if (r == 0 && k < 0) r = nc_error_set(err, EIO, "`%s`: %s", Q(q, file), archive_error_string(a));
    if (r == 0) {
      nc_sha256_final(h, m->digest);
      h = NULL;
    }
    nc_sha256_free(h);
    close(out);
  }
  free(buf);
  archive_read_free(a);
  return r;
}

static int da_json(struct darchive *d, const char *name, json_t **ret, nc_error *err) {
  const struct member *m = member_by(d, name, NULL);
  if (!m) return nc_error_set(err, ENOENT, "the archive has no `%s`", name);
  char *text;
  size_t len;
  int r = da_read(d, m->digest, m->size, &text, &len, err);
  if (r < 0) return r;
  *ret = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
  free(text);
  return *ret ? 0 : nc_error_set(err, EINVAL, "`%s` in the archive is not JSON", name);
}

static int import_docker(struct nc_store *s, const char *src, const struct nc_pull_options *po, char ret_ref[600],
                         char ret_digest[NC_DIGEST_LEN], nc_error *err) {
  char path[4096], q[4200], name[300];
  const char *given;
  split_source(src + 15, path, sizeof path, &given);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nc_error_sys(err, errno, "docker archive `%s`", Q(q, path));
  struct darchive d = {.s = s};
  int r = da_explode(&d, fd, path, err);
  close(fd);
  json_t *manifest = NULL, *layers = NULL, *built = NULL;
  char *text = NULL;
  if (r == 0) r = da_json(&d, "manifest.json", &manifest, err);
  json_t *img = NULL;
  struct nc_image_ref ref;
  if (r == 0) {
    size_t n = json_array_size(manifest), i;
    json_t *m;
    if (n == 1) img = json_array_get(manifest, 0);
    json_array_foreach(manifest, i, m) {
      size_t k;
      json_t *t;
      json_array_foreach(json_object_get(m, "RepoTags"), k, t) {
        struct nc_image_ref a, b;
        nc_error ig;
        if (!img && given[0] && nc_image_ref_parse(given, &a, &ig) == 0 &&
            nc_image_ref_parse(json_string_value(t) ?: "", &b, &ig) == 0 && !strcmp(a.repo, b.repo) &&
            !strcmp(a.tag, b.tag))
          img = m;
      }
    }
    if (!img) r = nc_error_set(err, ENOENT, "`%s` holds %zu images: name the one to import", Q(q, path), n);
  }
  if (r == 0) r = naming(given, json_string_value(json_array_get(json_object_get(img, "RepoTags"), 0)), src, &ref, err);
  const struct member *cfg = NULL;
  if (r == 0 && !(cfg = member_by(&d, json_string_value(json_object_get(img, "Config")) ?: "", NULL)))
    r = nc_error_set(err, EINVAL, "manifest.json: the Config file is not in the archive");
  if (r == 0) {
    /* an OCI manifest for what docker save wrote: the image's digest is this manifest's */
    layers = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(img, "Layers"), i, l) {
      const struct member *m = member_by(&d, json_string_value(l) ?: "", NULL);
      if (!m) {
        r = nc_error_set(err, EINVAL, "manifest.json: layer %zu is not in the archive", i);
        break;
      }
      json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType",
                                              m->gzip ? "application/vnd.oci.image.layer.v1.tar+gzip"
                                                      : "application/vnd.oci.image.layer.v1.tar",
                                              "digest", m->digest, "size", (json_int_t)m->size));
    }
    built = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:O}", "schemaVersion", 2, "mediaType",
                      "application/vnd.oci.image.manifest.v1+json", "config", "mediaType",
                      "application/vnd.oci.image.config.v1+json", "digest", cfg->digest, "size", (json_int_t)cfg->size,
                      "layers", layers);
    text = r == 0 && built ? json_dumps(built, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (r == 0 && !text) r = nc_error_set(err, ENOMEM, "out of memory");
  }
  if (r == 0) {
    struct nc_blob_source bs = {.open_blob = da_open, .read_blob = da_read, .u = &d};
    nc_image_ref_name(&ref, name, sizeof name);
    r = nc_image_commit(s, name, ref.tag[0] ? ref.tag : NULL, text, strlen(text), NULL, &bs, po, ret_digest, err);
  }
  if (r == 0) nc_image_ref_format(&ref, ret_ref, 600);
  free(text);
  json_decref(built);
  json_decref(layers);
  json_decref(manifest);
  for (size_t i = 0; i < d.n; i++) {
    nc_store_tmp_remove(s, d.m[i].tmp);
    free(d.m[i].name);
  }
  free(d.m);
  return r;
}

int nc_image_import(const char *src, const struct nc_pull_options *o, char ret_ref[600], char ret_digest[NC_DIGEST_LEN],
                    nc_error *err) {
  char q[4200];
  bool oci = !strncmp(src, "oci:", 4), docker = !strncmp(src, "docker-archive:", 15);
  if (!oci && !docker)
    return nc_error_set(err, EINVAL, "import `%s`: expected oci:DIR[:NAME] or docker-archive:FILE[:NAME]", Q(q, src));
  struct nc_store *s;
  int r = nc_store_open(NULL, true, false, &s, err);
  if (r < 0) return r;
  r = oci ? import_oci(s, src, o, ret_ref, ret_digest, err) : import_docker(s, src, o, ret_ref, ret_digest, err);
  nc_store_close(s);
  if (r < 0) {
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    nc_error_set(err, err->code, "import `%s`: %s", Q(q, src), msg);
  }
  return r;
}
