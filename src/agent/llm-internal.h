/* llm-internal.h — the pure parts of the model client (URLs, request body,
 * response parsing, error messages, backoff), apart from HTTP so that unit
 * tests reach them. */
#ifndef NC_AGENT_LLM_INTERNAL_H
#define NC_AGENT_LLM_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/llm.h"

/* "host" or "host:port" ("[::1]:8080") of an http(s) URL, without userinfo.
 * 0, or -EINVAL for anything else. */
int nc_llm_url_host(const char *url, char *out, size_t n);
/* The URL's host is localhost, 127.0.0.0/8 or ::1. */
bool nc_llm_url_loopback(const char *url);
/* The URL without its userinfo (user:password@), for logs (malloc'd; NULL
 * on ENOMEM or a URL that is not http(s)). */
char *nc_llm_url_public(const char *url);
/* base_url without trailing slashes + "/chat/completions" (malloc'd). */
char *nc_llm_endpoint(const char *base_url);
/* {"model":..., "messages":..., "tools":...} compact (malloc'd), NULL on ENOMEM. */
char *nc_llm_request_body(const char *model, json_t *messages, json_t *tools);

/* Parse a 2xx body into r (message, finish_reason, usage). Errors (EBADMSG):
 * "HOST: response was not valid JSON at byte N (why)", "HOST: response has
 * no choices[0].message", and the server's own error object when it sent
 * one with a 200. */
int nc_llm_parse_reply(const char *body, size_t len, const char *host, struct nc_llm_reply *r, nc_error *err);

/* The answer deserves another attempt: 408, 409, 429 (but not OpenAI's
 * insufficient_quota: waiting will not help), 5xx. body may be NULL. */
bool nc_llm_retryable(long status, const char *body, size_t len);

struct nc_llm_http_error {
  long status;
  const char *body;        /* may be NULL */
  size_t len;
  const char *host;
  const char *model;
  const char *endpoint;
  const char *key_env;     /* the variable the key came from, for hints (NULL: OPENAI_API_KEY) */
  bool key_sent;
  unsigned attempts;       /* for retryable statuses: how many times it was answered */
};
/* The error for a final non-2xx answer: "API key rejected by HOST (401)",
 * "model M not found at HOST", "HOST answered 429 (rate limited) N times;
 * giving up", ... Returns the negative code (see nc_llm_chat). */
int nc_llm_http_error(const struct nc_llm_http_error *e, nc_error *err);

/* The wait before retry number `retry` (0 = the first retry): base_ms
 * doubled each time, or the server's Retry-After (seconds) / retry-after-ms
 * when given, capped at NC_LLM_BACKOFF_CAP_MS. Either header may be NULL. */
uint64_t nc_llm_backoff_ms(unsigned retry, uint64_t base_ms, const char *retry_after, const char *retry_after_ms);

/* Replace every occurrence of secret (when at least 4 bytes) in s, in place,
 * with "[REDACTED]" as far as it fits in n bytes. */
void nc_llm_redact(char *s, size_t n, const char *secret);

#endif
