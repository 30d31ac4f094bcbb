/* fetch.c — `image pull`: the OCI distribution API over libcurl (dlopen'd):
 * manifests and indexes (the host's platform picked), the Bearer token flow
 * (anonymous or with credentials) and Basic auth, blobs streamed to the
 * store's temp dir and verified by digest and size before use. */
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/curl-lazy.h"
#include "core/util.h"
#include "image/commit.h"

#define Q(buf, s) nc_quote((buf), sizeof(buf), (s))

static const char accept_manifests[] =
    "Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

struct http {
  const struct nc_curl_api *C;
  CURL *e;
  struct nc_store *s;
  const struct nc_image_ref *ref;
  const struct nc_pull_options *o;
  char base[300]; /* scheme://host[:port] */
  bool insecure;
  char *auth; /* "Authorization: ..." once we have one */
  const char *user, *pass;
  char errbuf[CURL_ERROR_SIZE];
  /* the response */
  long status;
  char www_auth[2048];
  /* the sink: memory (buf) or a file (fd) */
  char *buf;
  size_t len, max;
  int fd;
  struct nc_sha256 *h;
  uint64_t written, limit;
  bool overflow;
  const char *what;
  uint64_t total;
  char tmp[64]; /* the temp file of the blob being fetched */
};

static size_t on_header(char *p, size_t size, size_t n, void *u) {
  struct http *h = u;
  size_t len = size * n;
  if (len >= 5 && !strncmp(p, "HTTP/", 5)) h->www_auth[0] = '\0'; /* a new response (after a redirect) */
  if (len > 17 && !strncasecmp(p, "WWW-Authenticate:", 17)) {
    size_t k = len - 17;
    const char *v = p + 17;
    while (k && (*v == ' ' || *v == '\t')) v++, k--;
    while (k && (v[k - 1] == '\r' || v[k - 1] == '\n')) k--;
    if (k < sizeof h->www_auth) {
      memcpy(h->www_auth, v, k);
      h->www_auth[k] = '\0';
    }
  }
  return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *u) {
  struct http *h = u;
  size_t len = size * n;
  if (h->fd >= 0) {
    if (h->written + len > h->limit) {
      h->overflow = true;
      return 0;
    }
    if (nc_write_all(h->fd, p, len) < 0) return 0;
    nc_sha256_update(h->h, p, len);
    h->written += len;
    return len;
  }
  if (h->len + len > h->max) {
    h->overflow = true;
    return 0;
  }
  char *nb = realloc(h->buf, h->len + len + 1);
  if (!nb) return 0;
  h->buf = nb;
  memcpy(h->buf + h->len, p, len);
  h->len += len;
  h->buf[h->len] = '\0';
  return len;
}

static int on_progress(void *u, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
  struct http *h = u;
  (void)dltotal, (void)ultotal, (void)ulnow;
  if (h->what && h->o && h->o->progress) h->o->progress(h->o->u, h->what, (uint64_t)dlnow, h->total);
  return 0;
}

static curl_socket_t open_cloexec(void *u, curlsocktype purpose, struct curl_sockaddr *a) {
  (void)u, (void)purpose;
  return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* One GET; *status set. basic: use the credentials for this request only (the token endpoint). */
static int get_once(struct http *h, const char *url, const char *accept, bool basic, nc_error *err) {
  const struct nc_curl_api *C = h->C;
  CURL *e = h->e;
  C->easy_reset(e);
  struct curl_slist *hdr = NULL;
  if (accept) hdr = C->slist_append(hdr, accept);
  if (h->auth && !basic) hdr = C->slist_append(hdr, h->auth);
  const char *protos = h->insecure ? "http,https" : "https";
  h->errbuf[0] = '\0';
  h->www_auth[0] = '\0';
  CURLcode c = C->easy_setopt(e, CURLOPT_URL, url);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_PROTOCOLS_STR, protos);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, protos);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 30L);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_USERAGENT, "nanoclaw/" NC_VERSION);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_cloexec);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_HEADERDATA, h);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_WRITEDATA, h);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_XFERINFODATA, h);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  if (c == CURLE_OK && hdr) c = C->easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
  if (c == CURLE_OK && basic && h->user) {
    c = C->easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_USERNAME, h->user);
    if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_PASSWORD, h->pass ? h->pass : "");
  }
  if (c == CURLE_OK) c = C->easy_perform(e);
  h->status = 0;
  C->easy_getinfo(e, CURLINFO_RESPONSE_CODE, &h->status);
  C->slist_free_all(hdr);
  char q[600];
  if (c != CURLE_OK && h->overflow) return nc_error_set(err, EFBIG, "GET `%s`: larger than expected", Q(q, url));
  if (c != CURLE_OK)
    return nc_error_set(err, EIO, "GET `%s`: %s", Q(q, url), h->errbuf[0] ? h->errbuf : C->easy_strerror(c));
  return 0;
}

/* key="value" out of an auth challenge */
static bool param(const char *ch, const char *key, char *out, size_t n) {
  size_t kl = strlen(key);
  for (const char *p = ch; (p = strcasestr(p, key)); p += kl) {
    if (p != ch && p[-1] != ' ' && p[-1] != ',') continue;
    const char *v = p + kl;
    if (*v != '=') continue;
    v++;
    size_t o = 0;
    if (*v == '"') {
      for (v++; *v && *v != '"' && o + 1 < n; v++) out[o++] = *v;
    } else {
      for (; *v && *v != ',' && *v != ' ' && o + 1 < n; v++) out[o++] = *v;
    }
    out[o] = '\0';
    return true;
  }
  return false;
}

static void url_escape(const char *s, char *out, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (; *s && o + 4 < n; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c)) {
      out[o++] = (char)c;
    } else {
      out[o++] = '%';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    }
  }
  out[o] = '\0';
}

static bool header_safe(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e) return false;
  return true;
}

/* A 401: answer the challenge (Bearer: fetch a token; Basic: our credentials). */
static int authenticate(struct http *h, nc_error *err) {
  char q[600], realm[1024], service[256] = "", scope[512] = "";
  const char *ch = h->www_auth;
  free(h->auth);
  h->auth = NULL;
  if (!strncasecmp(ch, "Basic", 5)) {
    if (!h->user)
      return nc_error_set(err, EACCES,
                          "registry %s wants credentials (set NANOCLAW_REGISTRY_USER and "
                          "NANOCLAW_REGISTRY_PASSWORD, or use --username and --password-stdin)",
                          h->ref->registry);
    char cred[1024], b64[1400];
    int n = snprintf(cred, sizeof cred, "%s:%s", h->user, h->pass ? h->pass : "");
    if (n < 0 || (size_t)n >= sizeof cred) return nc_error_set(err, EINVAL, "registry credentials are too long");
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)cred, n);
    explicit_bzero(cred, sizeof cred);
    if (asprintf(&h->auth, "Authorization: Basic %s", b64) < 0) h->auth = NULL;
    explicit_bzero(b64, sizeof b64);
    return h->auth ? 0 : nc_error_set(err, ENOMEM, "out of memory");
  }
  if (strncasecmp(ch, "Bearer", 6) || !param(ch, "realm", realm, sizeof realm))
    return nc_error_set(err, EACCES, "registry %s: an authentication challenge we do not speak: `%s`", h->ref->registry,
                        Q(q, ch));
  param(ch, "service", service, sizeof service);
  if (!param(ch, "scope", scope, sizeof scope)) snprintf(scope, sizeof scope, "repository:%s:pull", h->ref->repo);
  /* the token endpoint gets our credentials: https only, or plain http on loopback with --insecure */
  bool https = !strncmp(realm, "https://", 8);
  if (!https) {
    char host[256] = "";
    if (strncmp(realm, "http://", 7) || sscanf(realm + 7, "%255[^/]", host) != 1 || !h->insecure ||
        !nc_image_host_is_loopback(host))
      return nc_error_set(err, EACCES, "registry %s: refusing the token endpoint `%s` (not https)", h->ref->registry,
                          Q(q, realm));
  }
  char es[800], esc[1600], url[4096];
  url_escape(service, es, sizeof es);
  url_escape(scope, esc, sizeof esc);
  snprintf(url, sizeof url, "%s%c%s%s%sscope=%s", realm, strchr(realm, '?') ? '&' : '?', service[0] ? "service=" : "",
           es, service[0] ? "&" : "", esc);
  h->fd = -1;
  free(h->buf);
  h->buf = NULL;
  h->len = 0;
  h->max = 1 << 20;
  h->what = NULL;
  int r = get_once(h, url, NULL, true, err);
  if (r < 0) return nc_error_wrap(err, "token");
  if (h->status != 200)
    return nc_error_set(err, EACCES, "registry %s: the token endpoint answered HTTP %ld%s", h->ref->registry, h->status,
                        h->user ? " (check the credentials)" : "");
  json_t *j = json_loadb(h->buf ? h->buf : "", h->len, 0, NULL);
  const char *tok = json_string_value(json_object_get(j, "token"));
  if (!tok) tok = json_string_value(json_object_get(j, "access_token"));
  if (!tok || !*tok || strlen(tok) > 16384 || !header_safe(tok)) {
    json_decref(j);
    return nc_error_set(err, EACCES, "registry %s: the token endpoint gave no usable token", h->ref->registry);
  }
  if (asprintf(&h->auth, "Authorization: Bearer %s", tok) < 0) h->auth = NULL;
  json_decref(j);
  return h->auth ? 0 : nc_error_set(err, ENOMEM, "out of memory");
}

/* GET with one round of authentication. */
static int get(struct http *h, const char *url, const char *accept, nc_error *err) {
  for (int attempt = 0;; attempt++) {
    if (h->fd >= 0) {
      if (ftruncate(h->fd, 0) < 0 || lseek(h->fd, 0, SEEK_SET) < 0) return nc_error_sys(err, errno, "truncate");
      nc_sha256_free(h->h);
      if (!(h->h = nc_sha256_new())) return nc_error_set(err, ENOMEM, "out of memory");
      h->written = 0;
    } else {
      free(h->buf);
      h->buf = NULL;
      h->len = 0;
    }
    h->overflow = false;
    int r = get_once(h, url, accept, false, err);
    if (r < 0) return r;
    if (h->status == 401 && attempt == 0 && h->www_auth[0]) {
      char saved[2048];
      snprintf(saved, sizeof saved, "%s", h->www_auth);
      const char *what = h->what;
      size_t max = h->max;
      int fd = h->fd;
      if ((r = authenticate(h, err)) < 0) return r;
      free(h->buf);
      h->buf = NULL;
      h->len = 0;
      h->what = what, h->max = max, h->fd = fd;
      continue;
    }
    return 0;
  }
}

static int status_error(struct http *h, const char *what, nc_error *err) {
  char q[600];
  const char *hint = h->status == 401 || h->status == 403 ? " (not authorised: private image? set credentials)"
                     : h->status == 404                   ? " (not found)"
                     : h->status == 429                   ? " (rate limited)"
                                                          : "";
  return nc_error_set(err, h->status == 404 ? ENOENT : EIO, "%s from %s: HTTP %ld%s", Q(q, what), h->ref->registry,
                      h->status, hint);
}

static int get_manifest(struct http *h, const char *reference, char **ret, size_t *ret_len, nc_error *err) {
  char url[1024];
  snprintf(url, sizeof url, "%s/v2/%s/manifests/%s", h->base, h->ref->repo, reference);
  h->fd = -1;
  h->max = NC_IMAGE_MAX_JSON;
  h->what = NULL;
  int r = get(h, url, accept_manifests, err);
  if (r < 0) return r;
  if (h->status != 200) {
    char what[400];
    snprintf(what, sizeof what, "manifest %s:%s", h->ref->repo, reference);
    return status_error(h, what, err);
  }
  if (!strncmp(reference, "sha256:", 7)) {
    char got[NC_DIGEST_LEN];
    nc_sha256_buf(h->buf ? h->buf : "", h->len, got);
    if (strcmp(got, reference))
      return nc_error_set(err, EILSEQ, "manifest %s from %s is corrupt: its content has digest %s", reference,
                          h->ref->registry, got);
  }
  *ret = h->buf ? h->buf : strdup("");
  *ret_len = h->len;
  h->buf = NULL;
  h->len = 0;
  return *ret ? 0 : nc_error_set(err, ENOMEM, "out of memory");
}

/* A blob into a store temp file, verified. */
static int fetch_blob(struct http *h, const char *digest, uint64_t size, char tmp[64], nc_error *err) {
  char url[1024];
  int fd = nc_store_tmpfile(h->s, tmp, err);
  if (fd < 0) return fd;
  snprintf(url, sizeof url, "%s/v2/%s/blobs/%s", h->base, h->ref->repo, digest);
  h->fd = fd;
  h->limit = size;
  h->what = digest;
  h->total = size;
  h->h = nc_sha256_new();
  int r = h->h ? get(h, url, NULL, err) : nc_error_set(err, ENOMEM, "out of memory");
  if (r == 0 && h->status != 200) {
    char what[100];
    snprintf(what, sizeof what, "blob %s", digest);
    r = status_error(h, what, err);
  }
  if (r == 0 && h->written != size)
    r = nc_error_set(err, EILSEQ, "blob %s from %s: %llu bytes, its descriptor says %llu", digest, h->ref->registry,
                     (unsigned long long)h->written, (unsigned long long)size);
  if (r == 0) {
    char got[NC_DIGEST_LEN];
    nc_sha256_final(h->h, got);
    h->h = NULL;
    if (strcmp(got, digest))
      r = nc_error_set(err, EILSEQ, "blob %s from %s is corrupt: its content has digest %s", digest, h->ref->registry,
                       got);
  }
  nc_sha256_free(h->h);
  h->h = NULL;
  h->fd = -1;
  h->what = NULL;
  if (r == 0 && lseek(fd, 0, SEEK_SET) < 0) r = nc_error_sys(err, errno, "lseek");
  if (r < 0) {
    close(fd);
    nc_store_tmp_remove(h->s, tmp);
    return r;
  }
  return fd;
}

static int src_open(void *u, const char *digest, uint64_t size, nc_error *err) {
  struct http *h = u;
  return fetch_blob(h, digest, size, h->tmp, err);
}

static void src_done(void *u, const char *digest) {
  struct http *h = u;
  (void)digest;
  nc_store_tmp_remove(h->s, h->tmp);
}

static int src_read(void *u, const char *digest, uint64_t size, char **ret, size_t *ret_len, nc_error *err) {
  struct http *h = u;
  if (size > NC_IMAGE_MAX_JSON) return nc_error_set(err, EFBIG, "blob %s: larger than 4 MiB", digest);
  char tmp[64];
  int fd = fetch_blob(h, digest, size, tmp, err);
  if (fd < 0) return fd;
  char *buf = malloc(size + 1);
  size_t got = 0;
  while (buf && got < size) {
    ssize_t k = read(fd, buf + got, size - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += (size_t)k;
  }
  close(fd);
  nc_store_tmp_remove(h->s, tmp);
  if (!buf || got != size) {
    free(buf);
    return nc_error_set(err, EIO, "read blob %s back", digest);
  }
  buf[got] = '\0';
  *ret = buf;
  *ret_len = got;
  return 0;
}

int nc_image_pull(const char *refstr, const struct nc_pull_options *o, char ret_ref[600],
                  char ret_digest[NC_DIGEST_LEN], nc_error *err) {
  char q[600], name[300];
  struct nc_image_ref ref;
  int r = nc_image_ref_parse(refstr, &ref, err);
  if (r < 0) return r;
  const char *host = nc_image_ref_api_host(&ref);
  bool insecure = o && o->insecure;
  if (insecure && !nc_image_host_is_loopback(host))
    return nc_error_set(err, EPERM,
                        "--insecure (plain HTTP) is only for a registry on localhost, 127.0.0.1 or [::1], "
                        "not `%s`",
                        Q(q, host));
  nc_error why = {0};
  const struct nc_curl_api *C = nc_curl(&why);
  if (!C) return nc_error_set(err, why.code, "image pull: %s", why.msg);
  struct http h = {.C = C, .ref = &ref, .o = o, .insecure = insecure, .fd = -1};
  snprintf(h.base, sizeof h.base, "%s://%s", insecure ? "http" : "https", host);
  h.user = o && o->username ? o->username : getenv("NANOCLAW_REGISTRY_USER");
  h.pass = o && o->password ? o->password : getenv("NANOCLAW_REGISTRY_PASSWORD");
  if (h.user && !*h.user) h.user = NULL;
  if (!(h.e = C->easy_init())) return nc_error_set(err, ENOMEM, "out of memory");
  r = nc_store_open(NULL, true, false, &h.s, err);
  char *man = NULL, *index = NULL;
  size_t mlen = 0, ilen = 0;
  char index_digest[NC_DIGEST_LEN] = "";
  if (r == 0) r = get_manifest(&h, ref.digest[0] ? ref.digest : ref.tag, &man, &mlen, err);
  if (r == 0 && nc_index_is(man, mlen)) {
    char pick[NC_DIGEST_LEN];
    index = man, ilen = mlen, man = NULL;
    nc_sha256_buf(index, ilen, index_digest);
    r = nc_index_pick(index, ilen, pick, err);
    if (r == 0) r = get_manifest(&h, pick, &man, &mlen, err);
    if (r == 0 && nc_index_is(man, mlen)) r = nc_error_set(err, ENOTSUP, "manifest %s: a nested index", pick);
  }
  if (r == 0) {
    struct nc_blob_source src = {.open_blob = src_open, .read_blob = src_read, .done_blob = src_done, .u = &h};
    nc_image_ref_name(&ref, name, sizeof name);
    r = nc_image_commit(h.s, name, ref.tag[0] ? ref.tag : NULL, man, mlen, index_digest, &src, o, ret_digest, err);
  }
  if (r == 0) nc_image_ref_format(&ref, ret_ref, 600);
  if (r < 0) {
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
    nc_error_set(err, err ? err->code : -r, "pull `%s`: %s", Q(q, refstr), msg);
  }
  (void)ilen;
  free(man);
  free(index);
  free(h.buf);
  if (h.auth) explicit_bzero(h.auth, strlen(h.auth));
  free(h.auth);
  nc_sha256_free(h.h);
  C->easy_cleanup(h.e);
  nc_store_close(h.s);
  return r;
}
