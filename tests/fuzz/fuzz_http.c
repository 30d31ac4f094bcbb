/* fuzz_http.c — libFuzzer target for nc_http_parse_request: every verdict is consistent across prefixes of the
 * input, and a forward request's upstream head is one well-formed head with our Host and Connection. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/proxy-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) \
  do {           \
    if (!(c)) abort(); \
  } while (0)

/* Header lines (not the request line) starting with name. */
static size_t count_lines(const char *h, size_t n, const char *name) {
  size_t k = 0, l = strlen(name);
  for (size_t i = 1; i + l <= n; i++)
    if (h[i - 1] == '\n' && strncasecmp(h + i, name, l) == 0) k++;
  return k;
}

static void check_ok(const struct nc_http_request *req, size_t size) {
  CHECK(req->why == NULL);
  CHECK(req->head_len > 0 && req->head_len <= size && req->head_len <= NC_PROXY_HEAD_MAX);
  CHECK(req->port != 0);
  CHECK(strnlen(req->host, sizeof req->host) < sizeof req->host && req->host[0]);
  CHECK(strnlen(req->method, sizeof req->method) < sizeof req->method && req->method[0]);
  if (req->connect) {
    CHECK(req->upstream_head == NULL);
    return;
  }
  const char *h = req->upstream_head;
  size_t n = req->upstream_len;
  CHECK(h != NULL && n >= 4 && h[n] == '\0');
  CHECK(memchr(h, '\0', n) == NULL);
  for (size_t i = 0; i < n; i++) {
    if (h[i] == '\n') CHECK(i > 0 && h[i - 1] == '\r');
    if (h[i] == '\r') CHECK(i + 1 < n && h[i + 1] == '\n');
  }
  const char *end = strstr(h, "\r\n\r\n");
  CHECK(end != NULL && (size_t)(end - h) == n - 4); /* exactly one head */
  CHECK(count_lines(h, n, "host:") == 1);
  CHECK(count_lines(h, n, "connection:") == 1);
  CHECK(count_lines(h, n, "proxy-") == 0);
  CHECK(strncmp(h, req->method, strlen(req->method)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *buf = (const char *)data;
  struct nc_http_request req, p;
  int full = nc_http_parse_request(buf, size, &req);
  CHECK(full == NC_PARSE_OK || full == NC_PARSE_INCOMPLETE || full == NC_PARSE_BAD || full == NC_PARSE_TOO_BIG);
  if (full == NC_PARSE_OK) check_ok(&req, size);
  if (full == NC_PARSE_BAD || full == NC_PARSE_TOO_BIG) CHECK(req.why != NULL && req.upstream_head == NULL);
  if (full == NC_PARSE_INCOMPLETE) CHECK(size < NC_PROXY_HEAD_MAX && req.upstream_head == NULL);

  /* incremental use: a prefix is either still incomplete or already has the final verdict */
  size_t step = size <= 256 ? 1 : size / 256;
  for (size_t n = 0; n < size; n += step) {
    int r = nc_http_parse_request(buf, n, &p);
    CHECK(r == NC_PARSE_INCOMPLETE || r == full);
    if (r == NC_PARSE_OK) {
      CHECK(p.head_len == req.head_len);
      CHECK(p.upstream_len == req.upstream_len);
      CHECK(p.upstream_len == 0 || memcmp(p.upstream_head, req.upstream_head, p.upstream_len) == 0);
    }
    nc_http_request_free(&p);
  }
  nc_http_request_free(&req);
  return 0;
}
