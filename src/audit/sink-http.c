/* sink-http.c — records to a log service as HTTP(S) POSTs of JSON arrays (libcurl), with timeouts; a close
 * aborts a transfer in flight at once. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "audit/audit-internal.h"
#include "core/curl-lazy.h"
#include "core/error.h"
#include "core/util.h"

#define CONNECT_TIMEOUT_MS 2000L
#define TRANSFER_TIMEOUT_MS 10000L

struct http_sink {
  char *url;
  CURL *easy;
  CURLM *multi;
  struct curl_slist *headers;
  char errbuf[CURL_ERROR_SIZE];
};

static const struct nc_curl_api *C; /* set by the first http_init */

static size_t discard(char *p, size_t size, size_t n, void *u) {
  (void)p, (void)u;
  return size * n;
}

/* Every fd we open is O_CLOEXEC, curl's sockets too. */
static curl_socket_t open_cloexec(void *u, curlsocktype purpose, struct curl_sockaddr *a) {
  (void)u, (void)purpose;
  return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static void http_fini(struct nc_sink *s) {
  struct http_sink *h = s->priv;
  if (!h) return;
  if (h->multi) C->multi_cleanup(h->multi);
  if (h->easy) C->easy_cleanup(h->easy);
  C->slist_free_all(h->headers);
  free(h->url);
  free(h);
  s->priv = NULL;
}

static int http_init(struct nc_sink *s, const char *url, nc_error *err) {
  char q[300];
  if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
    return nc_error_set(err, EINVAL, "audit HTTP URL `%s`: expected http://... or https://...",
                        nc_quote(q, sizeof q, url));
  nc_error why = {0};
  const struct nc_curl_api *api = nc_curl(&why);
  if (!api) return nc_error_set(err, why.code, "audit HTTP sink: %s", why.msg);
  C = api;
  struct http_sink *h = calloc(1, sizeof *h);
  if (!h) return nc_error_set(err, ENOMEM, "audit HTTP sink");
  s->priv = h;
  h->url = strdup(url);
  h->easy = C->easy_init();
  h->multi = C->multi_init();
  h->headers = C->slist_append(NULL, "Content-Type: application/json");
  struct curl_slist *more = h->headers ? C->slist_append(h->headers, "Expect:") : NULL;
  if (!h->url || !h->easy || !h->multi || !more) {
    http_fini(s);
    return nc_error_set(err, ENOMEM, "audit HTTP sink");
  }
  h->headers = more;
  CURL *e = h->easy;
  CURLcode c = C->easy_setopt(e, CURLOPT_URL, h->url);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_USERAGENT, "nanoclaw/" NC_VERSION);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_TIMEOUT_MS, TRANSFER_TIMEOUT_MS);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_cloexec);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_POST, 1L);
  if (c != CURLE_OK) {
    http_fini(s);
    return nc_error_set(err, EINVAL, "audit HTTP URL `%s`: %s", nc_quote(q, sizeof q, url), C->easy_strerror(c));
  }
  return 0;
}

/* Run one transfer, polling our wake fd beside curl's so that a close aborts it. */
static int perform(struct nc_sink *s, struct http_sink *h, CURLcode *ret) {
  if (C->multi_add_handle(h->multi, h->easy) != CURLM_OK) return -ENOMEM;
  int running = 1, rc = 0;
  while (running) {
    if (C->multi_perform(h->multi, &running) != CURLM_OK) {
      rc = -EIO;
      break;
    }
    if (!running) break;
    struct curl_waitfd wake = {.fd = s->wakefd, .events = CURL_WAIT_POLLIN};
    int ready = 0;
    if (C->multi_poll(h->multi, &wake, 1, 1000, &ready) != CURLM_OK) {
      rc = -EIO;
      break;
    }
    if (wake.revents) {
      rc = -ECANCELED;
      break;
    }
  }
  *ret = CURLE_FAILED_INIT;
  int left;
  for (CURLMsg *m; (m = C->multi_info_read(h->multi, &left));)
    if (m->msg == CURLMSG_DONE) *ret = m->data.result;
  C->multi_remove_handle(h->multi, h->easy);
  return rc;
}

static int http_send(struct nc_sink *s, struct nc_sink_rec **recs, size_t n, size_t *ret_done, nc_error *err) {
  struct http_sink *h = s->priv;
  *ret_done = 0;
  size_t total = 2;
  for (size_t i = 0; i < n; i++) total += recs[i]->len + 1;
  nc_autofree char *body = malloc(total);
  if (!body) return nc_error_set(err, ENOMEM, "%s", s->label);
  size_t o = 0;
  body[o++] = '[';
  for (size_t i = 0; i < n; i++) {
    if (i) body[o++] = ',';
    memcpy(body + o, recs[i]->line, recs[i]->len);
    o += recs[i]->len;
  }
  body[o++] = ']';
  h->errbuf[0] = '\0';
  C->easy_setopt(h->easy, CURLOPT_POSTFIELDS, body);
  C->easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o);
  CURLcode c;
  int r = perform(s, h, &c);
  C->easy_setopt(h->easy, CURLOPT_POSTFIELDS, NULL);
  if (r == -ECANCELED) return r;
  if (r < 0) return nc_error_set(err, -r, "%s: curl multi interface failed", s->label);
  if (c != CURLE_OK)
    return nc_error_set(err, EIO, "%s: %s", s->label, h->errbuf[0] ? h->errbuf : C->easy_strerror(c));
  long status = 0;
  C->easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status < 300) {
    *ret_done = n;
    return 0;
  }
  if (status == 408 || status == 429 || status >= 500)
    return nc_error_set(err, EIO, "%s: HTTP status %ld", s->label, status);
  /* Any other answer (a 4xx, a redirect) will not change on a retry: the batch is lost, and counted. */
  for (size_t i = 0; i < n; i++) recs[i]->dropped = true;
  *ret_done = n;
  return nc_error_set(err, EIO, "%s: HTTP status %ld, batch of %zu records refused", s->label, status, n);
}

const struct nc_sink_ops nc_sink_http_ops = {
    .name = "http",
    .batch_records = 100,
    .batch_bytes = 256 * 1024,
    .init = http_init,
    .send = http_send,
    .fini = http_fini,
};
