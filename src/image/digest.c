/* digest.c — SHA-256 (OpenSSL EVP) as "sha256:<hex>" strings, streamed or over a buffer. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

struct nc_sha256 {
  EVP_MD_CTX *ctx;
};

struct nc_sha256 *nc_sha256_new(void) {
  struct nc_sha256 *h = malloc(sizeof *h);
  if (!h) return NULL;
  h->ctx = EVP_MD_CTX_new();
  if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(h->ctx);
    free(h);
    return NULL;
  }
  return h;
}

void nc_sha256_update(struct nc_sha256 *h, const void *p, size_t n) {
  if (n) EVP_DigestUpdate(h->ctx, p, n);
}

void nc_sha256_final(struct nc_sha256 *h, char out[NC_DIGEST_LEN]) {
  unsigned char md[32];
  unsigned len = 0;
  EVP_DigestFinal_ex(h->ctx, md, &len);
  memcpy(out, "sha256:", 7);
  for (int i = 0; i < 32; i++) snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
  nc_sha256_free(h);
}

void nc_sha256_free(struct nc_sha256 *h) {
  if (!h) return;
  EVP_MD_CTX_free(h->ctx);
  free(h);
}

void nc_sha256_buf(const void *p, size_t n, char out[NC_DIGEST_LEN]) {
  unsigned char md[32];
  unsigned len = 0;
  EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
  memcpy(out, "sha256:", 7);
  for (int i = 0; i < 32; i++) snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}
