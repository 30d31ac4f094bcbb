/* commit.c — the part of a pull and an import that is the same: from a
 * manifest whose digest is known, get the config and each layer (verified by
 * the source), unpack the layers the store lacks, store the manifest and the
 * config, and record the image under its name. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "image/commit.h"

#define Q(buf, s) nc_quote((buf), sizeof(buf), (s))

static void note(const struct nc_pull_options *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const struct nc_pull_options *o, const char *fmt, ...) {
  if (!o || !o->note) return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  o->note(o->u, line);
}

int nc_image_commit(struct nc_store *s, const char *name, const char *tag, const char *manifest, size_t mlen,
                    const char *index_digest, const struct nc_blob_source *src, const struct nc_pull_options *o,
                    char ret_digest[NC_DIGEST_LEN], nc_error *err) {
  char digest[NC_DIGEST_LEN], q[600];
  nc_sha256_buf(manifest, mlen, digest);
  struct nc_manifest *m = calloc(1, sizeof *m);
  if (!m) return nc_error_set(err, ENOMEM, "out of memory");
  int r = nc_manifest_parse(manifest, mlen, m, err);
  if (r < 0) {
    free(m);
    return nc_error_wrap(err, "manifest %s", digest);
  }
  char *cfg_text = NULL;
  size_t cfg_len = 0;
  struct nc_image_config cfg = {0};
  r = src->read_blob(src->u, m->config, m->config_size, &cfg_text, &cfg_len, err);
  if (r == 0 && (r = nc_image_config_parse(cfg_text, cfg_len, &cfg, err)) < 0)
    nc_error_wrap(err, "config %s", m->config);
  char arch[32], variant[16];
  nc_host_platform(arch, variant);
  if (r == 0 && ((cfg.os[0] && strcmp(cfg.os, "linux")) || (cfg.arch[0] && strcmp(cfg.arch, arch))))
    r = nc_error_set(err, ENOEXEC, "the image is for %s/%s; this host runs linux/%s", Q(q, cfg.os), cfg.arch, arch);
  if (r == 0 && cfg.n_diff_ids != m->n_layers)
    r = nc_error_set(err, EINVAL, "the manifest has %zu layers but the config lists %zu diff_ids", m->n_layers,
                     cfg.n_diff_ids);
  uint64_t size = 0;
  for (size_t i = 0; r == 0 && i < m->n_layers; i++) {
    const struct nc_layer_desc *d = &m->layers[i];
    size += d->size;
    if (nc_store_has_layer(s, cfg.diff_ids[i])) {
      note(o, "%.19s: already in the store", d->digest);
      continue;
    }
    int fd = src->open_blob(src->u, d->digest, d->size, err);
    if (fd < 0) {
      r = fd;
      break;
    }
    r = nc_store_unpack_layer(s, fd, cfg.diff_ids[i], d->digest, err);
    close(fd);
    if (src->done_blob) src->done_blob(src->u, d->digest);
    if (r == 0) note(o, "%.19s: unpacked", d->digest);
  }
  if (r == 0) r = nc_store_write_blob(s, m->config, cfg_text, cfg_len, err);
  if (r == 0) r = nc_store_write_blob(s, digest, manifest, mlen, err);
  if (r == 0) {
    struct nc_image_entry e = {
        .name = (char *)name, .tag = (char *)tag, .layers = cfg.diff_ids, .n_layers = cfg.n_diff_ids, .size = size};
    strcpy(e.digest, digest);
    strcpy(e.config, m->config);
    snprintf(e.index_digest, sizeof e.index_digest, "%s", index_digest ? index_digest : "");
    r = nc_store_add(s, &e, err);
  }
  if (r == 0) strcpy(ret_digest, digest);
  free(cfg_text);
  nc_image_config_free(&cfg);
  free(m);
  return r;
}

/* Copy from fd (or a curl transfer) into a store temp file while hashing: see fetch.c and import.c. */
int nc_blob_tmp_verify(struct nc_store *s, int in, const char *digest, uint64_t size, char ret_tmp[64], nc_error *err) {
  int out = nc_store_tmpfile(s, ret_tmp, err);
  if (out < 0) return out;
  struct nc_sha256 *h = nc_sha256_new();
  char *buf = malloc(1 << 20);
  uint64_t total = 0;
  int r = h && buf ? 0 : nc_error_set(err, ENOMEM, "out of memory");
  while (r == 0) {
    ssize_t n = read(in, buf, 1 << 20);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) r = nc_error_sys(err, errno, "read blob %s", digest);
    if (n <= 0) break;
    total += (uint64_t)n;
    if (total > size) {
      r = nc_error_set(err, EFBIG, "blob %s is larger than its descriptor says (%llu bytes)", digest,
                       (unsigned long long)size);
      break;
    }
    nc_sha256_update(h, buf, (size_t)n);
    int w = nc_write_all(out, buf, (size_t)n);
    if (w < 0) r = nc_error_sys(err, -w, "write blob %s to the store", digest);
  }
  free(buf);
  char got[NC_DIGEST_LEN];
  if (r == 0 && total != size)
    r = nc_error_set(err, EILSEQ, "blob %s: %llu bytes, its descriptor says %llu", digest, (unsigned long long)total,
                     (unsigned long long)size);
  if (r == 0) {
    nc_sha256_final(h, got);
    h = NULL;
    if (strcmp(got, digest))
      r = nc_error_set(err, EILSEQ, "blob %s is corrupt: its content has digest %s", digest, got);
  }
  nc_sha256_free(h);
  if (r == 0 && lseek(out, 0, SEEK_SET) < 0) r = nc_error_sys(err, errno, "lseek");
  if (r < 0) {
    close(out);
    nc_store_tmp_remove(s, ret_tmp);
    return r;
  }
  return out;
}
