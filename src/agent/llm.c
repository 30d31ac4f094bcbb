/* llm.c — chat completions over HTTP(S) with libcurl (loaded lazily): one
 * easy handle per client, attempts bounded in time and size, retries with
 * backoff on 429/5xx, errors that say what the server did. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "agent/llm-internal.h"
#include "agent/llm.h"
#include "core/curl-lazy.h"
#include "core/error.h"
#include "core/util.h"

#define CONNECT_TIMEOUT_MS 10000L
#define HEADER_VALUE_MAX 64

struct nc_llm {
  const struct nc_curl_api *C;
  CURL *easy;
  struct curl_slist *headers; /* holds the Authorization header: zeroed before it is freed */
  char *endpoint, *model, *key_env;
  bool key_sent;
  char host[256];
  uint64_t timeout_ms, backoff_ms, deadline_ns;
  unsigned max_retries;
  volatile sig_atomic_t *cancel;
  char *api_key; /* only to redact it from messages */
  char errbuf[CURL_ERROR_SIZE];
  /* one attempt's answer */
  char *body;
  size_t len, cap;
  bool too_big;
  char retry_after[HEADER_VALUE_MAX], retry_after_ms[HEADER_VALUE_MAX];
};

void nc_llm_reply_clear(struct nc_llm_reply *r) {
  if (!r) return;
  json_decref(r->message);
  free(r->finish_reason);
  memset(r, 0, sizeof *r);
}

static void free_secret(char *s) {
  if (!s) return;
  explicit_bzero(s, strlen(s));
  free(s);
}

void nc_llm_free(struct nc_llm *llm) {
  if (!llm) return;
  if (llm->easy) llm->C->easy_cleanup(llm->easy);
  for (struct curl_slist *h = llm->headers; h; h = h->next)
    if (h->data) explicit_bzero(h->data, strlen(h->data));
  if (llm->headers) llm->C->slist_free_all(llm->headers);
  free(llm->endpoint);
  free(llm->model);
  free(llm->key_env);
  free_secret(llm->api_key);
  free(llm->body);
  free(llm);
}

const char *nc_llm_host(const struct nc_llm *llm) { return llm->host; }

/* Every fd we open is O_CLOEXEC, curl's sockets too. */
static curl_socket_t open_cloexec(void *u, curlsocktype purpose, struct curl_sockaddr *a) {
  (void)u, (void)purpose;
  return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t on_body(char *p, size_t size, size_t n, void *u) {
  struct nc_llm *llm = u;
  size_t add = size * n;
  if (add > NC_LLM_BODY_MAX - llm->len) {
    llm->too_big = true;
    return 0; /* CURLE_WRITE_ERROR */
  }
  if (llm->len + add + 1 > llm->cap) {
    size_t cap = llm->cap ? llm->cap : 16384;
    while (cap < llm->len + add + 1) cap *= 2;
    char *b = realloc(llm->body, cap);
    if (!b) return 0;
    llm->body = b;
    llm->cap = cap;
  }
  memcpy(llm->body + llm->len, p, add);
  llm->len += add;
  llm->body[llm->len] = '\0';
  return add;
}

static void header_value(char *out, const char *p, size_t n) {
  while (n > 0 && (*p == ' ' || *p == '\t')) p++, n--;
  while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
  if (n >= HEADER_VALUE_MAX) n = HEADER_VALUE_MAX - 1;
  memcpy(out, p, n);
  out[n] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *u) {
  struct nc_llm *llm = u;
  size_t len = size * n;
  if (len > 12 && !strncasecmp(p, "retry-after:", 12)) header_value(llm->retry_after, p + 12, len - 12);
  else if (len > 15 && !strncasecmp(p, "retry-after-ms:", 15)) header_value(llm->retry_after_ms, p + 15, len - 15);
  return len;
}

static int on_progress(void *u, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
  (void)dt, (void)dn, (void)ut, (void)un;
  struct nc_llm *llm = u;
  return llm->cancel && *llm->cancel ? 1 : 0;
}

int nc_llm_new(const struct nc_llm_config *cfg, struct nc_llm **ret, nc_error *err) {
  char q[300];
  *ret = NULL;
  const char *base = cfg->base_url ? cfg->base_url : NC_LLM_DEFAULT_BASE_URL;
  struct nc_llm *llm = calloc(1, sizeof *llm);
  if (!llm) return nc_error_set(err, ENOMEM, "model client: out of memory");
  if (nc_llm_url_host(base, llm->host, sizeof llm->host) < 0) {
    free(llm);
    return nc_error_set(err, EINVAL, "base_url \"%s\": not an http:// or https:// URL", nc_quote(q, sizeof q, base));
  }
  if (!cfg->model || !*cfg->model) {
    free(llm);
    return nc_error_set(err, EINVAL, "no model given (agent.model or --model)");
  }
  nc_error why = {0};
  llm->C = nc_curl(&why);
  if (!llm->C) {
    free(llm);
    return nc_error_set(err, why.code, "model client: %s", why.msg);
  }
  const struct nc_curl_api *C = llm->C;
  llm->endpoint = nc_llm_endpoint(base);
  llm->model = strdup(cfg->model);
  llm->key_env = strdup(cfg->api_key_env ? cfg->api_key_env : NC_LLM_DEFAULT_KEY_ENV);
  llm->api_key = cfg->api_key ? strdup(cfg->api_key) : NULL;
  llm->key_sent = cfg->api_key != NULL;
  llm->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : NC_LLM_DEFAULT_TIMEOUT_MS;
  llm->max_retries = cfg->no_retries ? 0 : cfg->max_retries ? cfg->max_retries : NC_LLM_DEFAULT_RETRIES;
  llm->backoff_ms = cfg->backoff_ms ? cfg->backoff_ms : NC_LLM_DEFAULT_BACKOFF_MS;
  llm->deadline_ns = cfg->deadline_ns;
  llm->cancel = cfg->cancel;
  llm->easy = C->easy_init();
  struct curl_slist *h = C->slist_append(NULL, "Content-Type: application/json");
  if (h) h = C->slist_append(llm->headers = h, "Accept: application/json");
  if (h) h = C->slist_append(llm->headers = h, "Expect:");
  if (h && cfg->api_key) {
    char *auth = NULL;
    if (asprintf(&auth, "Authorization: Bearer %s", cfg->api_key) < 0) auth = NULL;
    h = auth ? C->slist_append(llm->headers = h, auth) : NULL;
    free_secret(auth);
  }
  if (h) llm->headers = h;
  if (!h || !llm->easy || !llm->endpoint || !llm->model || !llm->key_env || (cfg->api_key && !llm->api_key)) {
    nc_llm_free(llm);
    return nc_error_set(err, ENOMEM, "model client: out of memory");
  }
  *ret = llm;
  return 0;
}

/* The options of one attempt (the handle is reset before each). */
static CURLcode setup(struct nc_llm *llm, const char *body, size_t len, long timeout_ms) {
  const struct nc_curl_api *C = llm->C;
  CURL *e = llm->easy;
  CURLcode c = C->easy_setopt(e, CURLOPT_URL, llm->endpoint);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_HTTPHEADER, llm->headers);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_USERAGENT, "nanoclaw/" NC_VERSION);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  long connect_ms = timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms : CONNECT_TIMEOUT_MS;
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_cloexec);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_WRITEDATA, llm);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_HEADERDATA, llm);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_XFERINFODATA, llm);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_ERRORBUFFER, llm->errbuf);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_POST, 1L);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_POSTFIELDS, body);
  if (c == CURLE_OK) c = C->easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  return c;
}

/* Transient failures of the connection itself (the server hung up, a reset)
 * get the same retries as a 5xx; refusals, unknown names and timeouts not. */
static bool transient(CURLcode c) {
  return c == CURLE_GOT_NOTHING || c == CURLE_RECV_ERROR || c == CURLE_SEND_ERROR || c == CURLE_PARTIAL_FILE;
}

static int transfer_error(struct nc_llm *llm, CURLcode c, long timeout_ms, bool deadline_bound, nc_error *err) {
  const char *why = llm->errbuf[0] ? llm->errbuf : llm->C->easy_strerror(c);
  switch (c) {
    case CURLE_ABORTED_BY_CALLBACK: return nc_error_set(err, ECANCELED, "request to %s cancelled", llm->host);
    case CURLE_OPERATION_TIMEDOUT:
      if (deadline_bound) return nc_error_set(err, ETIMEDOUT, "the task's deadline passed waiting for %s", llm->host);
      if (timeout_ms % 1000 == 0)
        return nc_error_set(err, ETIMEDOUT, "no answer from %s within %lds", llm->host, timeout_ms / 1000);
      return nc_error_set(err, ETIMEDOUT, "no answer from %s within %ld.%03lds", llm->host, timeout_ms / 1000,
                          timeout_ms % 1000);
    case CURLE_WRITE_ERROR:
      if (llm->too_big)
        return nc_error_set(err, EFBIG, "%s: response larger than %u MiB", llm->host, NC_LLM_BODY_MAX >> 20);
      return nc_error_set(err, ENOMEM, "%s: response: out of memory", llm->host);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return nc_error_set(err, EHOSTUNREACH, "cannot reach %s: %s", llm->host, why);
    case CURLE_COULDNT_CONNECT: return nc_error_set(err, ECONNREFUSED, "cannot reach %s: %s", llm->host, why);
    default: return nc_error_set(err, EIO, "cannot reach %s: %s", llm->host, why);
  }
}

static bool cancelled(const struct nc_llm *llm) { return llm->cancel && *llm->cancel; }

/* Sleep ms in slices, watching for a cancel. */
static int wait_ms(struct nc_llm *llm, uint64_t ms) {
  uint64_t end = nc_now_ns() + ms * 1000000ull;
  for (uint64_t now; (now = nc_now_ns()) < end;) {
    if (cancelled(llm)) return -ECANCELED;
    uint64_t left = end - now, slice = left < 50000000ull ? left : 50000000ull;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)slice};
    nanosleep(&ts, NULL);
  }
  return cancelled(llm) ? -ECANCELED : 0;
}

/* Redact the key from whatever a message quotes (a server echoing it). */
static int finish(struct nc_llm *llm, int r, nc_error *err) {
  if (r < 0 && err) nc_llm_redact(err->msg, sizeof err->msg, llm->api_key);
  return r;
}

int nc_llm_chat(struct nc_llm *llm, json_t *messages, json_t *tools, struct nc_llm_reply *r, nc_error *err) {
  const struct nc_curl_api *C = llm->C;
  memset(r, 0, sizeof *r);
  uint64_t t0 = nc_now_ns();
  nc_autofree char *body = nc_llm_request_body(llm->model, messages, tools);
  if (!body) return nc_error_set(err, ENOMEM, "model request: out of memory (or messages not valid JSON text)");
  size_t blen = strlen(body);
  int ret;
  for (unsigned attempt = 0;; attempt++) {
    if (cancelled(llm)) return nc_error_set(err, ECANCELED, "request to %s cancelled", llm->host);
    long timeout = (long)llm->timeout_ms;
    bool deadline_bound = false;
    if (llm->deadline_ns) {
      uint64_t now = nc_now_ns();
      if (now >= llm->deadline_ns)
        return nc_error_set(err, ETIMEDOUT, "the task's deadline passed before the request to %s", llm->host);
      uint64_t left = (llm->deadline_ns - now) / 1000000 + 1;
      if (left < (uint64_t)timeout) timeout = (long)left, deadline_bound = true;
    }
    C->easy_reset(llm->easy);
    llm->len = 0;
    llm->too_big = false;
    llm->errbuf[0] = llm->retry_after[0] = llm->retry_after_ms[0] = '\0';
    CURLcode c = setup(llm, body, blen, timeout);
    if (c != CURLE_OK)
      return nc_error_set(err, EINVAL, "model request to %s: %s", llm->endpoint, C->easy_strerror(c));
    c = C->easy_perform(llm->easy);
    r->attempts = attempt + 1;
    r->status = 0;
    if (c == CURLE_OK) C->easy_getinfo(llm->easy, CURLINFO_RESPONSE_CODE, &r->status);
    r->ms = (nc_now_ns() - t0) / 1000000;
    bool retry = c == CURLE_OK ? nc_llm_retryable(r->status, llm->body, llm->len) : transient(c);
    if (retry && attempt < llm->max_retries) {
      uint64_t ms = nc_llm_backoff_ms(attempt, llm->backoff_ms, llm->retry_after[0] ? llm->retry_after : NULL,
                                      llm->retry_after_ms[0] ? llm->retry_after_ms : NULL);
      if (llm->deadline_ns && nc_now_ns() + ms * 1000000ull >= llm->deadline_ns)
        return finish(llm,
                      nc_error_set(err, ETIMEDOUT, "the task's deadline does not leave time to retry %s (%s %ld)",
                                   llm->host, c == CURLE_OK ? "status" : "transfer error", c == CURLE_OK ? r->status
                                                                                                       : (long)c),
                      err);
      if (wait_ms(llm, ms) < 0) return nc_error_set(err, ECANCELED, "request to %s cancelled", llm->host);
      continue;
    }
    if (c != CURLE_OK) {
      ret = transfer_error(llm, c, timeout, deadline_bound, err);
    } else if (r->status >= 200 && r->status < 300) {
      ret = nc_llm_parse_reply(llm->body, llm->len, llm->host, r, err);
      if (ret < 0) {
        long st = r->status;
        unsigned at = r->attempts;
        uint64_t ms = r->ms;
        nc_llm_reply_clear(r);
        r->status = st, r->attempts = at, r->ms = ms;
      }
    } else {
      struct nc_llm_http_error he = {
          .status = r->status,
          .body = llm->body,
          .len = llm->len,
          .host = llm->host,
          .model = llm->model,
          .endpoint = llm->endpoint,
          .key_env = llm->key_env,
          .key_sent = llm->key_sent,
          .attempts = r->attempts,
      };
      ret = nc_llm_http_error(&he, err);
    }
    return finish(llm, ret, err);
  }
}
