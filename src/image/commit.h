/* commit.h — shared by pulls and imports: a manifest plus a source of verified
 * blobs becomes a stored image. */
#ifndef NC_IMAGE_COMMIT_H
#define NC_IMAGE_COMMIT_H

#include <stdarg.h>

#include "image/image.h"

struct nc_blob_source {
  /* an fd at offset 0 of blob `digest` (size bytes), its digest verified; -errno with err */
  int (*open_blob)(void *u, const char *digest, uint64_t size, nc_error *err);
  /* a small blob (a config) in memory, NUL-terminated, its digest verified */
  int (*read_blob)(void *u, const char *digest, uint64_t size, char **ret, size_t *ret_len, nc_error *err);
  /* the fd from open_blob was used and closed: drop any temp copy */
  void (*done_blob)(void *u, const char *digest);
  void *u;
};

int nc_image_commit(struct nc_store *s, const char *name, const char *tag, const char *manifest, size_t mlen,
                    const char *index_digest, const struct nc_blob_source *src, const struct nc_pull_options *o,
                    char ret_digest[NC_DIGEST_LEN], nc_error *err);

/* Copy `in` into a store temp file while hashing; the copy's fd (offset 0)
 * when it is exactly size bytes with the digest, else -errno with err. */
int nc_blob_tmp_verify(struct nc_store *s, int in, const char *digest, uint64_t size, char ret_tmp[64], nc_error *err);

#endif
