/* image.h — container images for the native runtime: references, the local
 * content-addressed store, safe layer unpacking, registry pulls, imports, the
 * image config, and the stacked (overlayfs) rootfs a sandbox runs on. */
#ifndef NC_IMAGE_IMAGE_H
#define NC_IMAGE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

/* ---- bounds ---- */
#define NC_IMAGE_MAX_JSON (4u << 20)          /* manifests, indexes, configs */
#define NC_IMAGE_MAX_LAYERS 128               /* layers in one image */
#define NC_IMAGE_MAX_FILE (8ull << 30)        /* one file in a layer */
#define NC_IMAGE_MAX_LAYER_BYTES (8ull << 30) /* a layer's tar stream, uncompressed */
#define NC_IMAGE_MAX_BLOB (8ull << 30)        /* a blob as downloaded (compressed) */
#define NC_IMAGE_MAX_ENTRIES 1000000u         /* tar entries in one layer */
#define NC_IMAGE_MAX_ENV 128                  /* Env entries taken from a config */

#define NC_IMAGE_PATH_MAX 4096 /* a path inside a layer */

/* "sha256:" + 64 hex + NUL */
#define NC_DIGEST_LEN 72

/* ---- references (ref.c) ----
 * Docker's rules: "python:3.11-slim" is docker.io/library/python:3.11-slim;
 * the first component is a registry when it has a '.' or ':' or is
 * "localhost"; no tag and no digest means ":latest". */
struct nc_image_ref {
  char registry[256];         /* "docker.io", "localhost:5000", "[::1]:5000" */
  char repo[256];             /* "library/python" */
  char tag[129];              /* "" when only a digest was given */
  char digest[NC_DIGEST_LEN]; /* "" or "sha256:<64 hex>" */
};

int nc_image_ref_parse(const char *s, struct nc_image_ref *ret, nc_error *err);
/* "registry/repo" */
void nc_image_ref_name(const struct nc_image_ref *r, char *out, size_t n);
/* "registry/repo:tag", "registry/repo@digest" or "registry/repo:tag@digest" */
void nc_image_ref_format(const struct nc_image_ref *r, char *out, size_t n);
/* The host the registry API lives on (docker.io -> registry-1.docker.io). */
const char *nc_image_ref_api_host(const struct nc_image_ref *r);
/* Is host (with an optional :port) localhost, 127.0.0.0/8 or [::1]? */
bool nc_image_host_is_loopback(const char *host);
/* Is s "sha256:" followed by 64 lower-case hex digits? */
bool nc_digest_valid(const char *s);

/* ---- tar paths (unpack.c) ----
 * Clean one tar entry name into a path relative to the layer: leading '/'
 * and "./" are dropped (as GNU tar and Docker do), empty and "." components
 * vanish; a ".." component, a component longer than NAME_MAX or a path
 * longer than cap-1 is refused (-EINVAL / -ENAMETOOLONG). Returns 0, or 1
 * when the name is the layer's root itself ("./", "/"). */
int nc_image_clean_path(const char *name, char *out, size_t cap);

/* ---- SHA-256 (digest.c) ---- */
struct nc_sha256;
struct nc_sha256 *nc_sha256_new(void);
void nc_sha256_update(struct nc_sha256 *h, const void *p, size_t n);
/* writes "sha256:<hex>" and frees h */
void nc_sha256_final(struct nc_sha256 *h, char out[NC_DIGEST_LEN]);
void nc_sha256_free(struct nc_sha256 *h);
void nc_sha256_buf(const void *p, size_t n, char out[NC_DIGEST_LEN]);

/* ---- the store (store.c) ----
 * ROOT/lock                 flock: shared by pulls/imports/runs, exclusive by rm
 * ROOT/images.json          the references: name, tag, manifest digest, layers
 * ROOT/blobs/sha256/HEX     manifests and configs, verified on write
 * ROOT/layers/sha256/HEX    unpacked layers by diff_id, read-only, shared
 * ROOT/tmp/                 downloads and unpacks in progress */
struct nc_store;

/* The default root: $NANOCLAW_STORE, else /var/lib/nanoclaw as root, else
 * $XDG_DATA_HOME/nanoclaw (~/.local/share/nanoclaw). */
int nc_store_default_root(char *out, size_t n, nc_error *err);
/* Open (with create: make) the store and take its lock (shared or exclusive). */
int nc_store_open(const char *root, bool create, bool exclusive, struct nc_store **ret, nc_error *err);
void nc_store_close(struct nc_store *s);
const char *nc_store_root(const struct nc_store *s);
int nc_store_dirfd(const struct nc_store *s);

/* One stored image. */
struct nc_image_entry {
  char *name;                       /* "registry/repo" */
  char *tag;                        /* NULL: pulled by digest */
  char digest[NC_DIGEST_LEN];       /* the manifest's */
  char index_digest[NC_DIGEST_LEN]; /* the index it was picked from, or "" */
  char config[NC_DIGEST_LEN];
  char **layers; /* diff_ids, bottom first */
  size_t n_layers;
  uint64_t size; /* bytes of the layers as shipped */
  char *created; /* when stored, RFC 3339 */
};
void nc_image_entry_clear(struct nc_image_entry *e);

/* All entries, in the order stored. */
int nc_store_list(struct nc_store *s, struct nc_image_entry **ret, size_t *ret_n, nc_error *err);
void nc_image_entries_free(struct nc_image_entry *v, size_t n);
/* Find the entry a reference (or a bare manifest digest) names; -ENOENT when none. */
int nc_store_find(struct nc_store *s, const char *ref, struct nc_image_entry *ret, nc_error *err);
/* Add or replace (same name and tag, or same name and digest when untagged). */
int nc_store_add(struct nc_store *s, const struct nc_image_entry *e, nc_error *err);
/* Remove the entry a reference names, then every layer and blob no remaining
 * entry uses (store opened exclusive). A layer a running sandbox holds is
 * not removed: EBUSY, and nothing is. */
int nc_store_remove(struct nc_store *s, const char *ref, size_t *ret_layers_removed, nc_error *err);

/* Blobs: read a verified blob (at most max bytes) into a NUL-terminated buffer. */
int nc_store_read_blob(struct nc_store *s, const char *digest, size_t max, char **ret, size_t *ret_len, nc_error *err);
/* Write a buffer as a blob after checking it has the digest given. */
int nc_store_write_blob(struct nc_store *s, const char *digest, const void *p, size_t n, nc_error *err);
bool nc_store_has_layer(struct nc_store *s, const char *diff_id);
/* A fresh temp file (O_RDWR) or directory under ROOT/tmp; *ret_name is its name there. */
int nc_store_tmpfile(struct nc_store *s, char ret_name[64], nc_error *err);
int nc_store_tmpdir(struct nc_store *s, char ret_name[64], nc_error *err);
void nc_store_tmp_remove(struct nc_store *s, const char *name);
/* Unpack the layer tarball in fd (tar, tar+gzip or tar+zstd) into the store
 * under the diff_id it must have; a no-op when that layer is there already. */
int nc_store_unpack_layer(struct nc_store *s, int fd, const char *diff_id, const char *label, nc_error *err);
/* Remove a tree beneath dirfd without following any symlink. */
int nc_rm_rf_at(int dirfd, const char *name);

/* ---- unpacking (unpack.c) ---- */
struct nc_unpack_stats {
  uint64_t entries, bytes;
  uint64_t skipped_devices; /* block/char devices, fifos, sockets */
  uint64_t stripped_modes;  /* setuid/setgid/sticky bits removed */
  uint64_t whiteouts, opaques;
};
/* Unpack a layer stream read from fd into the empty directory dirfd; the
 * uncompressed stream's digest lands in ret_diff_id. */
int nc_unpack_layer(int fd, int dirfd, char ret_diff_id[NC_DIGEST_LEN], struct nc_unpack_stats *st, nc_error *err);

/* ---- the image config (config.c) ---- */
struct nc_image_config {
  char **env; /* NAME=VALUE */
  size_t n_env;
  char *workdir; /* NULL: none */
  char *user;    /* NULL or "": root */
  char **argv;   /* Entrypoint + Cmd, NULL-terminated; NULL when both are empty */
  size_t argc;
  char **diff_ids;
  size_t n_diff_ids;
  char os[32], arch[32];
};
int nc_image_config_parse(const char *json, size_t len, struct nc_image_config *ret, nc_error *err);
void nc_image_config_free(struct nc_image_config *c);
/* The store image a profile names, with its config (store opened shared). */
int nc_image_load(const char *ref, const char *pinned_digest, struct nc_image_entry *ret_entry,
                  struct nc_image_config *ret_cfg, nc_error *err);
/* Resolve a User ("name", "uid", "name:group", "uid:gid") against the
 * image's /etc/passwd and /etc/group. */
int nc_image_resolve_user(const struct nc_image_entry *e, const char *user, uid_t *ret_uid, gid_t *ret_gid,
                          nc_error *err);

/* ---- the rootfs (mount.c) ----
 * The image's layers stacked read-only with overlayfs as one detached mount
 * (nodev, nosuid); *ret_held are fds (shared flocks on the layers) to keep
 * for the life of the sandbox so `image rm` leaves its layers alone. */
int nc_image_mount(const char *ref, const char *pinned_digest, int *ret_mnt, int **ret_held, size_t *ret_n_held,
                   nc_error *err);

/* ---- getting images in (fetch.c, import.c) ---- */
struct nc_pull_options {
  bool insecure;        /* plain HTTP, only for a registry on loopback */
  const char *username; /* NULL: $NANOCLAW_REGISTRY_USER, else anonymous */
  const char *password; /* NULL: $NANOCLAW_REGISTRY_PASSWORD */
  /* called as bytes arrive (total 0 = unknown); what = a blob digest */
  void (*progress)(void *u, const char *what, uint64_t done, uint64_t total);
  void (*note)(void *u, const char *line); /* "sha256:...: already in the store" and the like */
  void *u;
};
/* Pull ref into the store; ret_digest: the manifest digest stored. */
int nc_image_pull(const char *ref, const struct nc_pull_options *o, char ret_ref[600], char ret_digest[NC_DIGEST_LEN],
                  nc_error *err);
/* Import "oci:DIR[:REF]" or "docker-archive:FILE[:REF]". */
int nc_image_import(const char *src, const struct nc_pull_options *o, char ret_ref[600], char ret_digest[NC_DIGEST_LEN],
                    nc_error *err);

/* Shared by fetch.c and import.c: given a verified manifest (and the config
 * it names already stored), fetch/verify/unpack every layer with get_layer
 * and record the entry under ref. */
struct nc_manifest {
  char config[NC_DIGEST_LEN];
  uint64_t config_size;
  size_t n_layers;
  struct nc_layer_desc {
    char digest[NC_DIGEST_LEN];
    uint64_t size;
    char media_type[128];
  } layers[NC_IMAGE_MAX_LAYERS];
};
int nc_manifest_parse(const char *json, size_t len, struct nc_manifest *ret, nc_error *err);
/* An index (OCI index, Docker manifest list)? Which manifest of it is for this host? */
bool nc_index_is(const char *json, size_t len);
int nc_index_pick(const char *json, size_t len, char ret_digest[NC_DIGEST_LEN], nc_error *err);
/* Which platform this host runs: "amd64", "arm64", ... and a variant or "". */
void nc_host_platform(char arch[32], char variant[16]);

#endif
