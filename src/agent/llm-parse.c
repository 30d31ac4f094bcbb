/* llm-parse.c — the model client's pure parts: URLs, the request body, the
 * response, what an error status means, how long to wait before a retry. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/llm-internal.h"
#include "core/error.h"
#include "core/parse.h"

#define SERVER_MSG_MAX 300 /* bytes of a server's error message quoted in ours */

/* The authority of an http(s) URL: [start, end). */
static int authority(const char *url, const char **ret_start, size_t *ret_len) {
  const char *p;
  if (!url) return -EINVAL;
  if (!strncasecmp(url, "http://", 7)) p = url + 7;
  else if (!strncasecmp(url, "https://", 8)) p = url + 8;
  else return -EINVAL;
  size_t len = strcspn(p, "/?#");
  const char *at = memrchr(p, '@', len);
  if (at) {
    len -= (size_t)(at + 1 - p);
    p = at + 1;
  }
  if (len == 0) return -EINVAL;
  *ret_start = p;
  *ret_len = len;
  return 0;
}

int nc_llm_url_host(const char *url, char *out, size_t n) {
  const char *p;
  size_t len;
  if (authority(url, &p, &len) < 0 || len >= n) return -EINVAL;
  memcpy(out, p, len);
  out[len] = '\0';
  return 0;
}

bool nc_llm_url_loopback(const char *url) {
  const char *p;
  size_t len;
  if (authority(url, &p, &len) < 0) return false;
  char host[256];
  if (p[0] == '[') {
    const char *close = memchr(p, ']', len);
    if (!close) return false;
    return (size_t)(close - p - 1) == 3 && !memcmp(p + 1, "::1", 3);
  }
  size_t hl = len;
  const char *colon = memchr(p, ':', len);
  if (colon) hl = (size_t)(colon - p);
  if (hl == 0 || hl >= sizeof host) return false;
  memcpy(host, p, hl);
  host[hl] = '\0';
  if (!strcasecmp(host, "localhost") || !strcasecmp(host, "localhost.")) return true;
  /* 127.0.0.0/8 written as a dotted quad */
  unsigned a, b, c, d;
  char tail;
  return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 && c < 256 && d < 256;
}

char *nc_llm_url_public(const char *url) {
  const char *p;
  size_t len;
  if (authority(url, &p, &len) < 0) return NULL;
  const char *scheme_end = strstr(url, "://") + 3;
  char *s = NULL;
  if (asprintf(&s, "%.*s%s", (int)(scheme_end - url), url, p) < 0) return NULL;
  return s;
}

char *nc_llm_endpoint(const char *base_url) {
  size_t n = strlen(base_url);
  while (n > 0 && base_url[n - 1] == '/') n--;
  char *s = NULL;
  if (asprintf(&s, "%.*s/chat/completions", (int)n, base_url) < 0) return NULL;
  return s;
}

char *nc_llm_request_body(const char *model, json_t *messages, json_t *tools) {
  json_t *o = json_object();
  if (!o) return NULL;
  int bad = json_object_set_new(o, "model", json_string(model));
  bad |= json_object_set(o, "messages", messages);
  if (tools && json_array_size(tools) > 0) bad |= json_object_set(o, "tools", tools);
  char *s = bad ? NULL : json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return s;
}

static uint64_t token_count(json_t *usage, const char *key) {
  json_t *v = json_object_get(usage, key);
  return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

/* The message a server put in its error answer: OpenAI and vLLM
 * {"error":{"message":...}}, Ollama {"error":"..."}, vLLM {"message":...},
 * FastAPI {"detail":"..."}. Quoted (control characters escaped) into out. */
static const char *server_message(json_t *root, char *out, size_t n) {
  json_t *e = json_object_get(root, "error");
  const char *m = NULL;
  if (json_is_object(e)) m = json_string_value(json_object_get(e, "message"));
  else if (json_is_string(e)) m = json_string_value(e);
  if (!m) m = json_string_value(json_object_get(root, "message"));
  if (!m) m = json_string_value(json_object_get(root, "detail"));
  if (!m || !*m) return NULL;
  return nc_quote(out, n, m);
}

int nc_llm_parse_reply(const char *body, size_t len, const char *host, struct nc_llm_reply *r, nc_error *err) {
  if (!body || len == 0) return nc_error_set(err, EBADMSG, "%s: response was empty", host);
  json_error_t je;
  json_t *root = json_loadb(body, len, JSON_ALLOW_NUL, &je);
  if (!root)
    return nc_error_set(err, EBADMSG, "%s: response was not valid JSON at byte %d (%s)", host, je.position, je.text);
  int ret = 0;
  char m[SERVER_MSG_MAX];
  json_t *choices = json_object_get(root, "choices");
  json_t *msg = json_object_get(json_array_get(choices, 0), "message");
  if (!json_is_object(root)) {
    ret = nc_error_set(err, EBADMSG, "%s: response was not a JSON object", host);
  } else if (!json_is_object(msg) && json_object_get(root, "error")) {
    const char *sm = server_message(root, m, sizeof m);
    ret = nc_error_set(err, EBADMSG, "%s: error in the response: %s", host, sm ? sm : "(no message)");
  } else if (!json_is_object(msg)) {
    ret = nc_error_set(err, EBADMSG, "%s: response has no choices[0].message", host);
  } else {
    r->message = json_incref(msg);
    const char *fr = json_string_value(json_object_get(json_array_get(choices, 0), "finish_reason"));
    if (fr && !(r->finish_reason = strdup(fr))) ret = nc_error_set(err, ENOMEM, "%s: response: out of memory", host);
    json_t *u = json_object_get(root, "usage");
    r->usage.prompt_tokens = token_count(u, "prompt_tokens");
    r->usage.completion_tokens = token_count(u, "completion_tokens");
    r->usage.total_tokens = token_count(u, "total_tokens");
    if (!r->usage.total_tokens) r->usage.total_tokens = r->usage.prompt_tokens + r->usage.completion_tokens;
  }
  json_decref(root);
  return ret;
}

static bool contains_ci(const char *s, const char *word) { return s && strcasestr(s, word); }

static bool quota_exhausted(json_t *root) {
  json_t *e = json_object_get(root, "error");
  return contains_ci(json_string_value(json_object_get(e, "code")), "insufficient_quota") ||
         contains_ci(json_string_value(json_object_get(e, "type")), "insufficient_quota");
}

bool nc_llm_retryable(long status, const char *body, size_t len) {
  if (status == 429 && body && len) {
    json_t *root = json_loadb(body, len, 0, NULL);
    bool quota = quota_exhausted(root);
    json_decref(root);
    if (quota) return false;
  }
  return status == 408 || status == 409 || status == 429 || (status >= 500 && status < 600);
}

int nc_llm_http_error(const struct nc_llm_http_error *e, nc_error *err) {
  json_t *root = e->body && e->len ? json_loadb(e->body, e->len, 0, NULL) : NULL;
  char m[SERVER_MSG_MAX];
  const char *sm = root ? server_message(root, m, sizeof m) : NULL;
  const char *code = json_string_value(json_object_get(json_object_get(root, "error"), "code"));
  const char *key_env = e->key_env ? e->key_env : NC_LLM_DEFAULT_KEY_ENV;
  const char *sep = sm ? ": " : "", *tail = sm ? sm : "";
  int r;
  long s = e->status;
  if ((s == 401 || s == 403) && !e->key_sent) {
    r = nc_error_set(err, EACCES, "%s requires an API key (%ld): set %s", e->host, s, key_env);
  } else if (s == 401) {
    /* OpenAI echoes (part of) the key in this message: leave it out. */
    r = nc_error_set(err, EACCES, "API key rejected by %s (401): check %s", e->host, key_env);
  } else if (s == 403) {
    r = nc_error_set(err, EACCES, "API key rejected by %s (403)%s%s", e->host, sep, tail);
  } else if (s == 404 && (contains_ci(code, "model_not_found") || contains_ci(sm, "model"))) {
    r = nc_error_set(err, ENOENT, "model %s not found at %s%s%s", e->model, e->host, sep, tail);
  } else if (s == 404) {
    r = nc_error_set(err, EPROTO, "%s: no chat completions endpoint at %s (404); check base_url", e->host,
                     e->endpoint);
  } else if (s == 429 && quota_exhausted(root)) {
    r = nc_error_set(err, EPROTO, "%s: quota exceeded (429)%s%s", e->host, sep, tail);
  } else if (s == 429) {
    r = nc_error_set(err, EAGAIN, "%s answered 429 (rate limited) %u times; giving up%s%s", e->host, e->attempts,
                     sep, tail);
  } else if (nc_llm_retryable(s, NULL, 0)) {
    r = nc_error_set(err, EAGAIN, "%s answered %ld %u times; giving up%s%s", e->host, s, e->attempts, sep, tail);
  } else if (s >= 300 && s < 400) {
    r = nc_error_set(err, EPROTO, "%s answered %ld (a redirect, not followed); check base_url %s", e->host, s,
                     e->endpoint);
  } else {
    r = nc_error_set(err, EPROTO, "%s refused the request (%ld)%s%s", e->host, s, sep, tail);
  }
  json_decref(root);
  return r;
}

uint64_t nc_llm_backoff_ms(unsigned retry, uint64_t base_ms, const char *retry_after, const char *retry_after_ms) {
  uint64_t ms, v;
  if (retry_after_ms && nc_parse_u64(retry_after_ms, 0, UINT64_MAX / 2, &v) == 0) {
    ms = v;
  } else if (retry_after && nc_parse_u64(retry_after, 0, UINT64_MAX / 2000, &v) == 0) {
    ms = v * 1000; /* delta-seconds; an HTTP-date is ignored */
  } else {
    if (base_ms == 0) base_ms = NC_LLM_DEFAULT_BACKOFF_MS;
    ms = retry >= 20 ? NC_LLM_BACKOFF_CAP_MS : base_ms << retry;
  }
  return ms > NC_LLM_BACKOFF_CAP_MS ? NC_LLM_BACKOFF_CAP_MS : ms;
}

void nc_llm_redact(char *s, size_t n, const char *secret) {
  static const char mark[] = "[REDACTED]";
  size_t sl = secret ? strlen(secret) : 0, ml = sizeof mark - 1;
  if (sl < 4 || n == 0) return;
  for (char *p = strstr(s, secret); p; p = strstr(p, secret)) {
    size_t tail = strlen(p + sl);
    size_t off = (size_t)(p - s);
    if (off + ml >= n) { /* the mark itself does not fit: cut here */
      *p = '\0';
      return;
    }
    if (off + ml + tail >= n) tail = n - 1 - off - ml;
    memmove(p + ml, p + sl, tail);
    memcpy(p, mark, ml);
    p[ml + tail] = '\0';
    p += ml;
  }
}
