/* test_llm.c — the model client: URLs, request bodies, parsing answers, the error each server answer becomes,
 * backoff, redaction; then whole requests against a scripted HTTP server on a loopback thread (retries,
 * Retry-After, the Authorization header, timeouts, size bound, an unreachable server). Then the agent's pure
 * parts: tool calls planned into commands, their results turned into text, UTF-8 cleaning, audit fields cut
 * to fit. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/llm-internal.h"
#include "agent/llm.h"
#include "agent/text.h"
#include "agent/tools.h"
#include "core/util.h"

/* ---- pure parts ---- */

static void url_host(void **state) {
  (void)state;
  char h[64];
  assert_int_equal(nc_llm_url_host("https://api.openai.com/v1", h, sizeof h), 0);
  assert_string_equal(h, "api.openai.com");
  assert_int_equal(nc_llm_url_host("http://127.0.0.1:8080/v1/", h, sizeof h), 0);
  assert_string_equal(h, "127.0.0.1:8080");
  assert_int_equal(nc_llm_url_host("http://user:pw@[::1]:11434", h, sizeof h), 0);
  assert_string_equal(h, "[::1]:11434");
  assert_int_equal(nc_llm_url_host("HTTPS://Example.com?x", h, sizeof h), 0);
  assert_string_equal(h, "Example.com");
  assert_int_equal(nc_llm_url_host("ftp://x/", h, sizeof h), -EINVAL);
  assert_int_equal(nc_llm_url_host("http:///v1", h, sizeof h), -EINVAL);
  assert_int_equal(nc_llm_url_host("http://a-very-long-host-name-indeed.example.com/", h, 8), -EINVAL);
}

static void url_loopback(void **state) {
  (void)state;
  assert_true(nc_llm_url_loopback("http://127.0.0.1:8080/v1"));
  assert_true(nc_llm_url_loopback("http://127.1.2.3/v1"));
  assert_true(nc_llm_url_loopback("http://localhost:11434/v1"));
  assert_true(nc_llm_url_loopback("http://[::1]:8000/v1"));
  assert_false(nc_llm_url_loopback("https://api.openai.com/v1"));
  assert_false(nc_llm_url_loopback("http://127.0.0.1.evil.com/v1"));
  assert_false(nc_llm_url_loopback("http://localhost.evil.com/v1"));
  assert_false(nc_llm_url_loopback("http://128.0.0.1/"));
  assert_false(nc_llm_url_loopback("http://[::2]/"));
  assert_false(nc_llm_url_loopback("http://evil.com/@127.0.0.1/"));
}

static void endpoint_and_body(void **state) {
  (void)state;
  char *e = nc_llm_endpoint("https://api.openai.com/v1//");
  assert_string_equal(e, "https://api.openai.com/v1/chat/completions");
  free(e);
  json_t *msgs = json_pack("[{s:s, s:s}]", "role", "user", "content", "hi");
  json_t *tools = json_array();
  char *b = nc_llm_request_body("gpt-4o-mini", msgs, tools);
  assert_string_equal(b, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
  free(b);
  json_array_append_new(tools, json_pack("{s:s}", "type", "function"));
  b = nc_llm_request_body("m", msgs, tools);
  assert_non_null(strstr(b, "\"tools\":[{\"type\":\"function\"}]"));
  free(b);
  json_decref(msgs);
  json_decref(tools);
}

static int parse(const char *body, struct nc_llm_reply *r, nc_error *err) {
  memset(r, 0, sizeof *r);
  memset(err, 0, sizeof *err);
  return nc_llm_parse_reply(body, body ? strlen(body) : 0, "h.test", r, err);
}

static void reply_parsed(void **state) {
  (void)state;
  struct nc_llm_reply r;
  nc_error err;
  assert_int_equal(parse("{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"4\"},\"finish_reason\":"
                         "\"stop\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2,\"total_tokens\":12}}",
                         &r, &err),
                   0);
  assert_string_equal(json_string_value(json_object_get(r.message, "content")), "4");
  assert_string_equal(r.finish_reason, "stop");
  assert_int_equal(r.usage.prompt_tokens, 10);
  assert_int_equal(r.usage.completion_tokens, 2);
  assert_int_equal(r.usage.total_tokens, 12);
  nc_llm_reply_clear(&r);
  assert_null(r.message);
  /* no usage, no finish_reason (some local servers): zeros; total computed when only parts are given */
  assert_int_equal(parse("{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[]}}],\"usage\":{"
                         "\"prompt_tokens\":3,\"completion_tokens\":4}}",
                         &r, &err),
                   0);
  assert_null(r.finish_reason);
  assert_int_equal(r.usage.total_tokens, 7);
  nc_llm_reply_clear(&r);
}

static void reply_refused(void **state) {
  (void)state;
  struct nc_llm_reply r;
  nc_error err;
  assert_int_equal(parse("{\"choices\": [", &r, &err), -EBADMSG);
  assert_string_equal(err.msg, "h.test: response was not valid JSON at byte 13 (']' expected near end of file)");
  assert_int_equal(parse("not json {", &r, &err), -EBADMSG);
  assert_non_null(strstr(err.msg, "response was not valid JSON at byte 3 "));
  assert_int_equal(parse("", &r, &err), -EBADMSG);
  assert_string_equal(err.msg, "h.test: response was empty");
  assert_int_equal(parse("[1]", &r, &err), -EBADMSG);
  assert_string_equal(err.msg, "h.test: response was not a JSON object");
  assert_int_equal(parse("{\"choices\":[]}", &r, &err), -EBADMSG);
  assert_string_equal(err.msg, "h.test: response has no choices[0].message");
  assert_int_equal(parse("{\"choices\":[{\"message\":\"hi\"}]}", &r, &err), -EBADMSG);
  assert_string_equal(err.msg, "h.test: response has no choices[0].message");
  assert_int_equal(parse("{\"error\":{\"message\":\"upstream\\nfailed\"}}", &r, &err), -EBADMSG);
  assert_string_equal(err.msg, "h.test: error in the response: upstream\\x0afailed");
  assert_null(r.message);
}

static int http_error(long status, const char *body, bool key_sent, unsigned attempts, nc_error *err) {
  struct nc_llm_http_error e = {
      .status = status,
      .body = body,
      .len = body ? strlen(body) : 0,
      .host = "api.openai.com",
      .model = "gpt-x",
      .endpoint = "https://api.openai.com/v1/chat/completions",
      .key_env = "MY_KEY",
      .key_sent = key_sent,
      .attempts = attempts,
  };
  memset(err, 0, sizeof *err);
  return nc_llm_http_error(&e, err);
}

static void http_errors(void **state) {
  (void)state;
  nc_error err;
  assert_int_equal(http_error(401, "{\"error\":{\"message\":\"Incorrect API key provided: sk-abc***xyz\"}}", true, 1,
                              &err),
                   -EACCES);
  assert_string_equal(err.msg, "API key rejected by api.openai.com (401): check MY_KEY");
  assert_int_equal(http_error(401, NULL, false, 1, &err), -EACCES);
  assert_string_equal(err.msg, "api.openai.com requires an API key (401): set MY_KEY");
  assert_int_equal(http_error(403, "{\"error\":{\"message\":\"Country not supported\"}}", true, 1, &err), -EACCES);
  assert_string_equal(err.msg, "API key rejected by api.openai.com (403): Country not supported");
  /* OpenAI, Ollama, vLLM */
  assert_int_equal(http_error(404,
                              "{\"error\":{\"message\":\"The model `gpt-x` does not exist or you do not have access "
                              "to it.\",\"type\":\"invalid_request_error\",\"code\":\"model_not_found\"}}",
                              true, 1, &err),
                   -ENOENT);
  assert_string_equal(err.msg, "model gpt-x not found at api.openai.com: The model `gpt-x` does not exist or you do "
                               "not have access to it.");
  assert_int_equal(http_error(404, "{\"error\":\"model \\\"gpt-x\\\" not found, try pulling it first\"}", true, 1,
                              &err),
                   -ENOENT);
  assert_true(!strncmp(err.msg, "model gpt-x not found at api.openai.com: ", 41));
  assert_int_equal(http_error(404,
                              "{\"object\":\"error\",\"message\":\"The model `gpt-x` does not exist.\",\"code\":404}",
                              true, 1, &err),
                   -ENOENT);
  assert_int_equal(http_error(404, "<html>Not Found</html>", true, 1, &err), -EPROTO);
  assert_string_equal(err.msg, "api.openai.com: no chat completions endpoint at "
                               "https://api.openai.com/v1/chat/completions (404); check base_url");
  assert_int_equal(http_error(429, "{\"error\":{\"message\":\"slow down\"}}", true, 5, &err), -EAGAIN);
  assert_string_equal(err.msg, "api.openai.com answered 429 (rate limited) 5 times; giving up: slow down");
  assert_int_equal(http_error(429, "{\"error\":{\"message\":\"You exceeded your current quota\",\"type\":"
                                   "\"insufficient_quota\",\"code\":\"insufficient_quota\"}}",
                              true, 1, &err),
                   -EPROTO);
  assert_string_equal(err.msg, "api.openai.com: quota exceeded (429): You exceeded your current quota");
  assert_int_equal(http_error(503, "busy", true, 5, &err), -EAGAIN);
  assert_string_equal(err.msg, "api.openai.com answered 503 5 times; giving up");
  assert_int_equal(http_error(400, "{\"detail\":\"bad tools\"}", true, 1, &err), -EPROTO);
  assert_string_equal(err.msg, "api.openai.com refused the request (400): bad tools");
  assert_int_equal(http_error(302, "", true, 1, &err), -EPROTO);
  assert_non_null(strstr(err.msg, "a redirect, not followed"));
}

static void retryable(void **state) {
  (void)state;
  long yes[] = {408, 409, 429, 500, 502, 503, 504, 599}, no[] = {200, 400, 401, 403, 404, 422, 600};
  for (size_t i = 0; i < NC_ARRAY_SIZE(yes); i++) assert_true(nc_llm_retryable(yes[i], NULL, 0));
  for (size_t i = 0; i < NC_ARRAY_SIZE(no); i++) assert_false(nc_llm_retryable(no[i], NULL, 0));
  const char *quota = "{\"error\":{\"code\":\"insufficient_quota\"}}";
  assert_false(nc_llm_retryable(429, quota, strlen(quota)));
  assert_true(nc_llm_retryable(429, "x", 1));
}

static void backoff(void **state) {
  (void)state;
  assert_int_equal(nc_llm_backoff_ms(0, 500, NULL, NULL), 500);
  assert_int_equal(nc_llm_backoff_ms(1, 500, NULL, NULL), 1000);
  assert_int_equal(nc_llm_backoff_ms(3, 500, NULL, NULL), 4000);
  assert_int_equal(nc_llm_backoff_ms(10, 500, NULL, NULL), NC_LLM_BACKOFF_CAP_MS);
  assert_int_equal(nc_llm_backoff_ms(63, 500, NULL, NULL), NC_LLM_BACKOFF_CAP_MS);
  assert_int_equal(nc_llm_backoff_ms(0, 0, NULL, NULL), NC_LLM_DEFAULT_BACKOFF_MS);
  assert_int_equal(nc_llm_backoff_ms(0, 500, "0", NULL), 0);
  assert_int_equal(nc_llm_backoff_ms(0, 500, "2", NULL), 2000);
  assert_int_equal(nc_llm_backoff_ms(0, 500, "3600", NULL), NC_LLM_BACKOFF_CAP_MS);
  assert_int_equal(nc_llm_backoff_ms(2, 500, "Wed, 21 Oct 2015 07:28:00 GMT", NULL), 2000);
  assert_int_equal(nc_llm_backoff_ms(0, 500, "2", "150"), 150);
  assert_int_equal(nc_llm_backoff_ms(0, 500, NULL, "x"), 500);
}

static void redact(void **state) {
  (void)state;
  char s[64] = "key sk-123456 and sk-123456 again";
  nc_llm_redact(s, sizeof s, "sk-123456");
  assert_string_equal(s, "key [REDACTED] and [REDACTED] again");
  char t[16] = "ab sk-12345";
  nc_llm_redact(t, sizeof t, "sk-12345");
  assert_string_equal(t, "ab [REDACTED]");
  char u[12] = "abcdef k123";
  nc_llm_redact(u, sizeof u, "k123");
  assert_string_equal(u, "abcdef ");
  char v[16] = "abc";
  nc_llm_redact(v, sizeof v, "abc"); /* shorter than 4: a key that short is no secret worth mangling text for */
  assert_string_equal(v, "abc");
  nc_llm_redact(v, sizeof v, NULL);
  assert_string_equal(v, "abc");
}

/* ---- whole requests against a scripted server on a loopback thread ---- */

struct answer {
  const char *head; /* status line and headers, without Content-Length and the blank line */
  const char *body;
  unsigned delay_ms;
};

struct server {
  int fd;
  int port;
  pthread_t thread;
  const struct answer *script;
  size_t n;
  unsigned served;
  char last_request[16384];
};

static void read_request(int c, char *buf, size_t cap) {
  size_t got = 0;
  long want = -1;
  while (got + 1 < cap) {
    ssize_t n = read(c, buf + got, cap - 1 - got);
    if (n <= 0) break;
    got += (size_t)n;
    buf[got] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (end && want < 0) {
      char *cl = strcasestr(buf, "Content-Length:");
      want = (long)(end + 4 - buf) + (cl ? atol(cl + 15) : 0);
    }
    if (want >= 0 && (long)got >= want) break;
  }
  buf[got] = '\0';
}

/* send, not write: the client may have hung up (a timeout), and SIGPIPE would end the test */
static void send_all(int c, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(c, p, n, MSG_NOSIGNAL);
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}

static void *serve(void *arg) {
  struct server *s = arg;
  for (size_t i = 0; i < s->n; i++) {
    int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) return NULL;
    read_request(c, s->last_request, sizeof s->last_request);
    const struct answer *a = &s->script[i];
    if (a->delay_ms) usleep(a->delay_ms * 1000);
    char head[512];
    int hn = snprintf(head, sizeof head, "%s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", a->head,
                      strlen(a->body));
    send_all(c, head, (size_t)hn);
    send_all(c, a->body, strlen(a->body));
    close(c);
    __atomic_add_fetch(&s->served, 1, __ATOMIC_SEQ_CST);
  }
  return NULL;
}

static void server_start(struct server *s, const struct answer *script, size_t n) {
  memset(s, 0, sizeof *s);
  s->script = script;
  s->n = n;
  s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(s->fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(s->fd, 16), 0);
  assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
  s->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s) {
  shutdown(s->fd, SHUT_RDWR);
  pthread_join(s->thread, NULL);
  close(s->fd);
}

static const char ok_body[] = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"done\"},"
                              "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}";

static int chat(struct server *s, struct nc_llm_config *cfg, struct nc_llm_reply *r, nc_error *err) {
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/", s->port);
  cfg->base_url = url;
  if (!cfg->model) cfg->model = "gpt-test";
  struct nc_llm *llm;
  memset(err, 0, sizeof *err);
  int rc = nc_llm_new(cfg, &llm, err);
  if (rc < 0) return rc;
  json_t *msgs = json_pack("[{s:s, s:s}]", "role", "user", "content", "hi");
  rc = nc_llm_chat(llm, msgs, NULL, r, err);
  json_decref(msgs);
  nc_llm_free(llm);
  return rc;
}

static void request_ok_with_key(void **state) {
  (void)state;
  struct answer a[] = {{"HTTP/1.1 200 OK\r\nContent-Type: application/json", ok_body, 0}};
  struct server s;
  server_start(&s, a, 1);
  struct nc_llm_config cfg = {.api_key = "sk-test-1234"};
  struct nc_llm_reply r;
  nc_error err;
  assert_int_equal(chat(&s, &cfg, &r, &err), 0);
  server_stop(&s);
  assert_string_equal(json_string_value(json_object_get(r.message, "content")), "done");
  assert_int_equal(r.status, 200);
  assert_int_equal(r.attempts, 1);
  assert_int_equal(r.usage.total_tokens, 6);
  nc_llm_reply_clear(&r);
  assert_true(!strncmp(s.last_request, "POST /v1/chat/completions HTTP/1.1\r\n", 36));
  assert_non_null(strstr(s.last_request, "\r\nAuthorization: Bearer sk-test-1234\r\n"));
  assert_non_null(strstr(s.last_request, "\r\nContent-Type: application/json\r\n"));
  assert_non_null(
      strstr(s.last_request, "{\"model\":\"gpt-test\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"));
}

static void request_without_key(void **state) {
  (void)state;
  struct answer a[] = {{"HTTP/1.1 200 OK", ok_body, 0}};
  struct server s;
  server_start(&s, a, 1);
  struct nc_llm_config cfg = {0};
  struct nc_llm_reply r;
  nc_error err;
  assert_int_equal(chat(&s, &cfg, &r, &err), 0);
  server_stop(&s);
  nc_llm_reply_clear(&r);
  assert_null(strcasestr(s.last_request, "Authorization"));
}

static void retries_429_then_ok(void **state) {
  (void)state;
  struct answer a[] = {
      {"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0", "{\"error\":{\"message\":\"slow\"}}", 0},
      {"HTTP/1.1 503 Service Unavailable", "", 0},
      {"HTTP/1.1 200 OK", ok_body, 0},
  };
  struct server s;
  server_start(&s, a, 3);
  struct nc_llm_config cfg = {.api_key = "k-xyz", .backoff_ms = 20};
  struct nc_llm_reply r;
  nc_error err;
  uint64_t t0 = nc_now_ns();
  assert_int_equal(chat(&s, &cfg, &r, &err), 0);
  uint64_t ms = (nc_now_ns() - t0) / 1000000;
  server_stop(&s);
  assert_int_equal(r.attempts, 3);
  assert_int_equal(s.served, 3);
  /* Retry-After: 0, then 20 << 1 = 40 ms */
  assert_true(ms >= 40);
  nc_llm_reply_clear(&r);
}

static void retries_exhausted(void **state) {
  (void)state;
  struct answer a[] = {
      {"HTTP/1.1 429 Too Many Requests", "{}", 0},
      {"HTTP/1.1 429 Too Many Requests", "{}", 0},
      {"HTTP/1.1 429 Too Many Requests", "{\"error\":{\"message\":\"Rate limit reached for k-xyz-secret\"}}", 0},
  };
  struct server s;
  server_start(&s, a, 3);
  struct nc_llm_config cfg = {.api_key = "k-xyz-secret", .backoff_ms = 1, .max_retries = 2};
  struct nc_llm_reply r;
  nc_error err;
  assert_int_equal(chat(&s, &cfg, &r, &err), -EAGAIN);
  server_stop(&s);
  char want[128];
  snprintf(want, sizeof want, "127.0.0.1:%d answered 429 (rate limited) 3 times; giving up: Rate limit reached for "
                              "[REDACTED]", s.port);
  assert_string_equal(err.msg, want);
  assert_int_equal(r.attempts, 3);
  assert_null(r.message);
}

static void no_retry_on_401_or_bad_json(void **state) {
  (void)state;
  struct answer a[] = {{"HTTP/1.1 401 Unauthorized", "{\"error\":{\"message\":\"Incorrect API key\"}}", 0}};
  struct server s;
  server_start(&s, a, 1);
  struct nc_llm_config cfg = {.api_key = "k", .backoff_ms = 1, .api_key_env = "OPENAI_API_KEY"};
  struct nc_llm_reply r;
  nc_error err;
  assert_int_equal(chat(&s, &cfg, &r, &err), -EACCES);
  server_stop(&s);
  char want[128];
  snprintf(want, sizeof want, "API key rejected by 127.0.0.1:%d (401): check OPENAI_API_KEY", s.port);
  assert_string_equal(err.msg, want);
  assert_int_equal(r.attempts, 1);

  struct answer b[] = {{"HTTP/1.1 200 OK", "{\"choices\": [{\"message\": oops}]}", 0}};
  server_start(&s, b, 1);
  assert_int_equal(chat(&s, &cfg, &r, &err), -EBADMSG);
  server_stop(&s);
  assert_non_null(strstr(err.msg, ": response was not valid JSON at byte 29 ("));
  assert_int_equal(r.status, 200);
}

static void timeout_and_unreachable(void **state) {
  (void)state;
  struct answer a[] = {{"HTTP/1.1 200 OK", ok_body, 1500}};
  struct server s;
  server_start(&s, a, 1);
  struct nc_llm_config cfg = {.timeout_ms = 300};
  struct nc_llm_reply r;
  nc_error err;
  assert_int_equal(chat(&s, &cfg, &r, &err), -ETIMEDOUT);
  server_stop(&s);
  char want[128];
  snprintf(want, sizeof want, "no answer from 127.0.0.1:%d within 0.300s", s.port);
  assert_string_equal(err.msg, want);

  /* the task's deadline is shorter than the request timeout */
  server_start(&s, a, 1);
  struct nc_llm_config d = {.timeout_ms = 10000, .deadline_ns = nc_now_ns() + 200000000ull};
  assert_int_equal(chat(&s, &d, &r, &err), -ETIMEDOUT);
  server_stop(&s);
  assert_true(!strncmp(err.msg, "the task's deadline passed waiting for 127.0.0.1:", 49));

  /* nobody listens on the port any more: refused at once, not retried */
  struct nc_llm_config u = {.backoff_ms = 1000};
  uint64_t t0 = nc_now_ns();
  assert_int_equal(chat(&s, &u, &r, &err), -ECONNREFUSED);
  assert_true(nc_now_ns() - t0 < 900000000ull);
  snprintf(want, sizeof want, "cannot reach 127.0.0.1:%d: ", s.port);
  assert_true(!strncmp(err.msg, want, strlen(want)));
}

static void body_bounded(void **state) {
  (void)state;
  size_t n = NC_LLM_BODY_MAX + 10;
  char *big = malloc(n + 1);
  assert_non_null(big);
  memset(big, ' ', n);
  big[n] = '\0';
  struct answer a[] = {{"HTTP/1.1 200 OK", big, 0}};
  struct server s;
  server_start(&s, a, 1);
  struct nc_llm_config cfg = {0};
  struct nc_llm_reply r;
  nc_error err;
  assert_int_equal(chat(&s, &cfg, &r, &err), -EFBIG);
  server_stop(&s);
  free(big);
  assert_non_null(strstr(err.msg, ": response larger than 8 MiB"));
}

static void config_refused(void **state) {
  (void)state;
  struct nc_llm *llm = NULL;
  nc_error err = {0};
  struct nc_llm_config cfg = {.base_url = "file:///etc/passwd", .model = "m"};
  assert_int_equal(nc_llm_new(&cfg, &llm, &err), -EINVAL);
  assert_string_equal(err.msg, "base_url \"file:///etc/passwd\": not an http:// or https:// URL");
  struct nc_llm_config nomodel = {.base_url = "http://127.0.0.1/v1"};
  assert_int_equal(nc_llm_new(&nomodel, &llm, &err), -EINVAL);
  assert_string_equal(err.msg, "no model given (agent.model or --model)");
  assert_null(llm);
}

/* ---- the agent's pure parts ---- */

static void tools_schema(void **state) {
  (void)state;
  json_t *t = nc_tools_schema();
  assert_int_equal(json_array_size(t), 4);
  const char *names[] = {"run_command", "read_file", "write_file", "list_dir"};
  for (size_t i = 0; i < 4; i++) {
    json_t *f = json_object_get(json_array_get(t, i), "function");
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, i), "type")), "function");
    assert_string_equal(json_string_value(json_object_get(f, "name")), names[i]);
    assert_string_equal(json_string_value(json_object_get(json_object_get(f, "parameters"), "type")), "object");
  }
  json_t *wf = json_object_get(json_array_get(t, 2), "function");
  assert_int_equal(json_array_size(json_object_get(json_object_get(wf, "parameters"), "required")), 2);
  json_decref(t);
}

static int plan(const char *name, const char *args_json, struct nc_tool_plan *p, char **why) {
  json_t *a = json_string(args_json);
  int r = nc_tool_plan(name, a, p, why);
  json_decref(a);
  return r;
}

static void tools_planned(void **state) {
  (void)state;
  struct nc_tool_plan p;
  char *why;
  assert_int_equal(plan("run_command", "{\"command\": \"ls -l | wc -l\"}", &p, &why), 0);
  assert_null(why);
  assert_string_equal(p.argv[0], "/bin/sh");
  assert_string_equal(p.argv[1], "-c");
  assert_string_equal(p.argv[2], "ls -l | wc -l");
  assert_null(p.argv[3]);
  assert_int_equal(p.output_cap, NC_TOOL_OUTPUT_CAP);
  nc_tool_plan_free(&p);
  assert_int_equal(plan("read_file", "{\"path\": \"-n\"}", &p, &why), 0);
  assert_string_equal(p.argv[0], "cat");
  assert_string_equal(p.argv[1], "--"); /* a path that looks like an option stays a path */
  assert_string_equal(p.argv[2], "-n");
  assert_int_equal(p.output_cap, NC_TOOL_READ_CAP);
  nc_tool_plan_free(&p);
  assert_int_equal(plan("write_file", "{\"path\": \"/tmp/a b\", \"content\": \"x\\u0000y\"}", &p, &why), 0);
  assert_string_equal(p.argv[2], "cat > \"$1\"");
  assert_string_equal(p.argv[4], "/tmp/a b");
  assert_int_equal(p.stdin_len, 3); /* the NUL is content */
  assert_memory_equal(p.stdin_data, "x\0y", 3);
  nc_tool_plan_free(&p);
  assert_int_equal(plan("list_dir", "{\"path\": \"/\"}", &p, &why), 0);
  assert_string_equal(p.argv[0], "ls");
  assert_string_equal(p.argv[3], "/");
  nc_tool_plan_free(&p);
  /* arguments as an object (some servers send one) */
  json_t *obj = json_pack("{s:s}", "command", "true");
  assert_int_equal(nc_tool_plan("run_command", obj, &p, &why), 0);
  json_decref(obj);
  nc_tool_plan_free(&p);
}

static void tools_refused(void **state) {
  (void)state;
  struct nc_tool_plan p;
  char *why;
  struct {
    const char *name, *args, *why;
  } cases[] = {
      {"rm_rf", "{}", "error: unknown tool \"rm_rf\"; the tools are run_command, read_file, write_file, list_dir"},
      {"run_command", "{oops", "error: the arguments of run_command are not valid JSON ("},
      {"run_command", "[1]", "error: the arguments of run_command are not a JSON object"},
      {"run_command", "{}", "error: run_command needs a \"command\" string argument"},
      {"run_command", "{\"command\": 7}", "error: run_command needs a \"command\" string argument"},
      {"read_file", "{\"path\": \"a\\u0000b\"}", "error: read_file: the \"path\" argument contains a NUL byte"},
      {"write_file", "{\"path\": \"/tmp/x\"}", "error: write_file needs a \"content\" string argument"},
      {"list_dir", "{\"path\": \"\"}", "error: list_dir: the path is empty"},
  };
  for (size_t i = 0; i < NC_ARRAY_SIZE(cases); i++) {
    print_message("%s %s\n", cases[i].name, cases[i].args);
    assert_int_equal(plan(cases[i].name, cases[i].args, &p, &why), -EINVAL);
    assert_non_null(why);
    assert_true(!strncmp(why, cases[i].why, strlen(cases[i].why)));
    free(why);
  }
}

static char *result_of(const char *tool, const char *args, nc_exec_result *res) {
  struct nc_tool_plan p;
  char *why;
  assert_int_equal(plan(tool, args, &p, &why), 0);
  char *t = nc_tool_result_text(&p, res, 1500);
  nc_tool_plan_free(&p);
  return t;
}

static void tool_results(void **state) {
  (void)state;
  char out[] = "ok\n\xff", err[] = "warn\n";
  nc_exec_result r = {.exit_code = 3, .out = out, .out_len = 4, .err = err, .err_len = 5};
  char *t = result_of("run_command", "{\"command\": \"x\"}", &r);
  assert_string_equal(t, "{\"exit_code\":3,\"stdout\":\"ok\\n\xef\xbf\xbd\",\"stderr\":\"warn\\n\"}");
  free(t);
  r.out_truncated = true;
  r.timed_out = true;
  r.signal = 9;
  r.exit_code = 124;
  t = result_of("run_command", "{\"command\": \"x\"}", &r);
  assert_string_equal(t, "{\"exit_code\":124,\"timed_out\":true,\"signal\":9,\"stdout\":\"ok\\n\xef\xbf\xbd"
                         "\\n[... output truncated at 65536 bytes]\",\"stderr\":\"warn\\n\"}");
  free(t);
  nc_exec_result ok = {.out = out, .out_len = 3, .err = err, .err_len = 0};
  t = result_of("read_file", "{\"path\": \"/f\"}", &ok);
  assert_string_equal(t, "ok\n");
  free(t);
  t = result_of("write_file", "{\"path\": \"/tmp/f\", \"content\": \"hello\"}", &ok);
  assert_string_equal(t, "wrote 5 bytes to /tmp/f");
  free(t);
  char e2[] = "cat: /f: No such file or directory\n";
  nc_exec_result bad = {.exit_code = 1, .out = out, .out_len = 0, .err = e2, .err_len = strlen(e2)};
  t = result_of("read_file", "{\"path\": \"/f\"}", &bad);
  assert_string_equal(t, "error: reading /f failed (exit 1): cat: /f: No such file or directory");
  free(t);
  bad.timed_out = true, bad.err_len = 0;
  t = result_of("list_dir", "{\"path\": \"/big\"}", &bad);
  assert_string_equal(t, "error: listing /big failed (timed out after 1.500s)");
  free(t);
}

static void utf8(void **state) {
  (void)state;
  const unsigned char ok[][4] = {{'a'}, {0xc3, 0xa9}, {0xe2, 0x82, 0xac}, {0xf0, 0x9f, 0x98, 0x80}};
  const size_t okn[] = {1, 2, 3, 4};
  for (size_t i = 0; i < 4; i++) assert_int_equal(nc_text_utf8_seq(ok[i], okn[i]), okn[i]);
  const unsigned char bad[][4] = {{0xc0, 0xaf}, {0xed, 0xa0, 0x80}, {0xf4, 0x90, 0x80, 0x80}, {0x80}, {0xe2, 0x82},
                                  {0}};
  const size_t badn[] = {2, 3, 4, 1, 2, 1};
  for (size_t i = 0; i < NC_ARRAY_SIZE(badn); i++) assert_int_equal(nc_text_utf8_seq(bad[i], badn[i]), 0);
  size_t n;
  char *c = nc_text_clean("a\xff" "b\0c\xe2\x82", 7, &n);
  assert_string_equal(c, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd");
  assert_int_equal(n, strlen(c));
  free(c);
  assert_int_equal(nc_text_utf8_cut("ab\xe2\x82\xac", 5, 4), 2);
  assert_int_equal(nc_text_utf8_cut("ab\xe2\x82\xac", 5, 5), 5);
  assert_int_equal(nc_text_utf8_cut("abc", 3, 2), 2);
  json_t *j = nc_text_json("\xff", 1);
  assert_string_equal(json_string_value(j), "\xef\xbf\xbd");
  json_decref(j);
}

static void audit_fit(void **state) {
  (void)state;
  /* the secret is replaced wherever it is, arrays and nested objects too */
  json_t *f = json_pack("{s:s, s:[s, {s:s}], s:i}", "a", "key=sk-secret-1 here", "b", "sk-secret-1", "c",
                        "x sk-secret-1", "n", 5);
  f = nc_text_audit_fit(f, 60000, "sk-secret-1");
  char *s = json_dumps(f, JSON_COMPACT);
  assert_string_equal(s, "{\"a\":\"key=[REDACTED api key] here\",\"b\":[\"[REDACTED api key]\",{\"c\":\"x [REDACTED "
                         "api key]\"}],\"n\":5}");
  free(s);
  json_decref(f);
  /* too big: strings are cut with a marker until it fits; small ones stay */
  char *big = malloc(100001);
  memset(big, 'z', 100000);
  big[100000] = '\0';
  f = json_pack("{s:s, s:s, s:[s]}", "small", "tiny", "big", big, "list", big);
  f = nc_text_audit_fit(f, 60000, NULL);
  s = json_dumps(f, JSON_COMPACT);
  assert_true(strlen(s) <= 60000);
  assert_string_equal(json_string_value(json_object_get(f, "small")), "tiny");
  const char *cut = json_string_value(json_object_get(f, "big"));
  assert_non_null(strstr(cut, "zzz [... "));
  assert_non_null(strstr(cut, " bytes not recorded]"));
  assert_non_null(strstr(json_string_value(json_array_get(json_object_get(f, "list"), 0)), "bytes not recorded]"));
  free(s);
  json_decref(f);
  /* a cut never splits a UTF-8 sequence */
  for (size_t i = 0; i < 100000; i += 4) memcpy(big + i, "\xf0\x9f\x98\x80", 4);
  f = json_pack("{s:s}", "emoji", big);
  f = nc_text_audit_fit(f, 20000, NULL);
  assert_non_null(f);
  assert_non_null(json_string_value(json_object_get(f, "emoji")));
  json_decref(f);
  /* nothing fits: a count instead */
  json_t *many = json_array();
  for (int i = 0; i < 20000; i++) json_array_append_new(many, json_integer(i));
  f = json_pack("{s:o}", "many", many);
  f = nc_text_audit_fit(f, 1000, NULL);
  assert_true(json_integer_value(json_object_get(f, "not_recorded_bytes")) > 1000);
  json_decref(f);
  free(big);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(url_host),
      cmocka_unit_test(url_loopback),
      cmocka_unit_test(endpoint_and_body),
      cmocka_unit_test(reply_parsed),
      cmocka_unit_test(reply_refused),
      cmocka_unit_test(http_errors),
      cmocka_unit_test(retryable),
      cmocka_unit_test(backoff),
      cmocka_unit_test(redact),
      cmocka_unit_test(request_ok_with_key),
      cmocka_unit_test(request_without_key),
      cmocka_unit_test(retries_429_then_ok),
      cmocka_unit_test(retries_exhausted),
      cmocka_unit_test(no_retry_on_401_or_bad_json),
      cmocka_unit_test(timeout_and_unreachable),
      cmocka_unit_test(body_bounded),
      cmocka_unit_test(config_refused),
      cmocka_unit_test(tools_schema),
      cmocka_unit_test(tools_planned),
      cmocka_unit_test(tools_refused),
      cmocka_unit_test(tool_results),
      cmocka_unit_test(utf8),
      cmocka_unit_test(audit_fit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
