/* llm.h — a client of OpenAI-compatible chat completions with tool calling
 * (OpenAI, llama.cpp server, Ollama, vLLM): one POST per call, retried with
 * backoff on 429 and 5xx, bounded in time and size. */
#ifndef NC_AGENT_LLM_H
#define NC_AGENT_LLM_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "nanoclaw.h"

#define NC_LLM_DEFAULT_BASE_URL "https://api.openai.com/v1"
#define NC_LLM_DEFAULT_KEY_ENV "OPENAI_API_KEY"
#define NC_LLM_DEFAULT_TIMEOUT_MS 120000u
#define NC_LLM_DEFAULT_RETRIES 4u
#define NC_LLM_DEFAULT_BACKOFF_MS 500u
#define NC_LLM_BACKOFF_CAP_MS 30000u         /* no single wait is longer, Retry-After included */
#define NC_LLM_BODY_MAX (8u << 20)           /* bytes of one response */

struct nc_llm_config {
  const char *base_url;    /* e.g. https://api.openai.com/v1 (a trailing slash is fine) */
  const char *api_key;     /* NULL: no Authorization header (local servers) */
  const char *api_key_env; /* where the key came from, for hints in messages (NULL: OPENAI_API_KEY) */
  const char *model;
  uint64_t timeout_ms;     /* one attempt; 0 = NC_LLM_DEFAULT_TIMEOUT_MS */
  unsigned max_retries;    /* attempts after the first on 429/5xx; 0 = NC_LLM_DEFAULT_RETRIES */
  bool no_retries;         /* really no retries (max_retries 0 means the default) */
  uint64_t backoff_ms;     /* first wait, doubling; 0 = NC_LLM_DEFAULT_BACKOFF_MS */
  uint64_t deadline_ns;    /* nc_now_ns() value nothing may run past (attempts, waits); 0 = none */
  volatile sig_atomic_t *cancel; /* non-zero aborts a request or a wait at once (ECANCELED); may be NULL */
};

struct nc_llm_usage {
  uint64_t prompt_tokens, completion_tokens, total_tokens;
};

/* One answer of the model. */
struct nc_llm_reply {
  json_t *message;         /* choices[0].message (a JSON object, owned) */
  char *finish_reason;     /* choices[0].finish_reason, or NULL */
  struct nc_llm_usage usage; /* zeros when the server reports none */
  long status;             /* HTTP status of the last attempt (0: none) */
  unsigned attempts;       /* requests sent */
  uint64_t ms;             /* wall time, waits included */
};

void nc_llm_reply_clear(struct nc_llm_reply *r);

struct nc_llm;

/* Check the config (base_url must be http(s)), copy it, load libcurl. */
int nc_llm_new(const struct nc_llm_config *cfg, struct nc_llm **ret, nc_error *err);
void nc_llm_free(struct nc_llm *llm);
/* "host" or "host:port" of base_url, for messages. */
const char *nc_llm_host(const struct nc_llm *llm);

/* POST {base_url}/chat/completions {model, messages, tools} (tools may be
 * NULL or empty: not sent). 0 with *r filled (clear it), or negative with
 * err saying what the server (or the network) did; r->status and
 * r->attempts are filled either way. Codes: EACCES key rejected, ENOENT
 * model not found, EBADMSG bad response, EAGAIN retries exhausted,
 * ETIMEDOUT no answer in time (or the deadline), ECONNREFUSED/EHOSTUNREACH
 * unreachable, ECANCELED cancelled, EPROTO any other HTTP error. */
int nc_llm_chat(struct nc_llm *llm, json_t *messages, json_t *tools, struct nc_llm_reply *r, nc_error *err);

#endif
