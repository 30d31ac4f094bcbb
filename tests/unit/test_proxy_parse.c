/* test_proxy_parse.c — the egress proxy's HTTP and SOCKS5 request parsers, fed what a hostile sandbox sends:
 * spoofed Host headers, CRLF and NUL injection, smuggling, oversized heads and malformed SOCKS frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/proxy-parse.h"

/* ---- helpers ---- */

static int parse(const char *s, struct nc_http_request *req) { return nc_http_parse_request(s, strlen(s), req); }

/* Parse s, which must be OK; every strict prefix of the head must be INCOMPLETE. */
static void parse_ok(const char *s, struct nc_http_request *req) {
  size_t len = strlen(s);
  print_message("ok: %s\n", s);
  int r = nc_http_parse_request(s, len, req);
  if (r != NC_PARSE_OK) fail_msg("result %d (%s)", r, req->why ? req->why : "");
  size_t head = req->head_len;
  char *copy = malloc(len);
  assert_non_null(copy);
  memcpy(copy, s, len);
  for (size_t n = 0; n < head; n++) {
    struct nc_http_request p;
    assert_int_equal(nc_http_parse_request(copy, n, &p), NC_PARSE_INCOMPLETE);
    assert_null(p.upstream_head);
  }
  free(copy);
  if (req->upstream_head) {
    assert_int_equal(strlen(req->upstream_head), req->upstream_len);
    assert_non_null(strstr(req->upstream_head, "\r\n\r\n"));
    assert_string_equal(strstr(req->upstream_head, "\r\n\r\n"), "\r\n\r\n"); /* one head, nothing after */
  }
}

static void expect_bad(const char *s, size_t len, int want, const char *why) {
  struct nc_http_request req;
  print_message("bad: %.*s\n", (int)(len > 200 ? 200 : len), s);
  int r = nc_http_parse_request(s, len, &req);
  assert_int_equal(r, want);
  assert_non_null(req.why);
  assert_null(req.upstream_head);
  if (why) assert_string_equal(req.why, why);
}

#define BAD(s, why) expect_bad((s), strlen(s), NC_PARSE_BAD, (why))

/* ---- CONNECT ---- */

static void connect_ok(void **state) {
  (void)state;
  struct nc_http_request req;
  const char *s = "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\nUser-Agent: curl\r\n\r\n";
  parse_ok(s, &req);
  assert_true(req.connect);
  assert_string_equal(req.method, "CONNECT");
  assert_string_equal(req.host, "api.openai.com");
  assert_int_equal(req.port, 443);
  assert_int_equal(req.head_len, strlen(s));
  assert_null(req.upstream_head);
  nc_http_request_free(&req);

  /* tunnel bytes that follow the head are not part of it */
  const char *t = "CONNECT a.example:8443 HTTP/1.0\r\n\r\n\x16\x03\x01\x00\x05hello";
  assert_int_equal(nc_http_parse_request(t, 40, &req), NC_PARSE_OK);
  assert_int_equal(req.head_len, 35);
  assert_int_equal(req.port, 8443);

  parse_ok("CONNECT [2001:db8::1]:443 HTTP/1.1\r\n\r\n", &req);
  assert_string_equal(req.host, "2001:db8::1");
  parse_ok("CONNECT 10.0.0.1:1 HTTP/1.1\n\n", &req); /* bare LF line ends */
  assert_string_equal(req.host, "10.0.0.1");
  assert_int_equal(req.port, 1);
  parse_ok("CONNECT Example.COM:65535 HTTP/1.1\r\n\r\n", &req); /* as written: the proxy normalises */
  assert_string_equal(req.host, "Example.COM");
  assert_int_equal(req.port, 65535);
  parse_ok("CONNECT a.b:443 HTTP/1.1\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\n", &req); /* mixed line ends */

  char host[300];
  memset(host, 'a', sizeof host);
  char line[400];
  snprintf(line, sizeof line, "CONNECT %.255s:443 HTTP/1.1\r\n\r\n", host);
  parse_ok(line, &req);
  assert_int_equal(strlen(req.host), 255);
  snprintf(line, sizeof line, "CONNECT %.256s:443 HTTP/1.1\r\n\r\n", host);
  BAD(line, "host name too long");
}

static void connect_bad(void **state) {
  (void)state;
  BAD("CONNECT api.openai.com HTTP/1.1\r\n\r\n", "CONNECT needs host:port");
  BAD("CONNECT api.openai.com: HTTP/1.1\r\n\r\n", NULL);
  BAD("CONNECT api.openai.com:0 HTTP/1.1\r\n\r\n", NULL);
  BAD("CONNECT api.openai.com:65536 HTTP/1.1\r\n\r\n", NULL);
  BAD("CONNECT api.openai.com:+443 HTTP/1.1\r\n\r\n", NULL);
  BAD("CONNECT api.openai.com:0443x HTTP/1.1\r\n\r\n", NULL);
  BAD("CONNECT api.openai.com:443:443 HTTP/1.1\r\n\r\n", NULL);
  BAD("CONNECT :443 HTTP/1.1\r\n\r\n", "missing host");
  BAD("CONNECT ::1:443 HTTP/1.1\r\n\r\n", NULL);
  BAD("CONNECT [::1] HTTP/1.1\r\n\r\n", "CONNECT needs host:port");
  BAD("CONNECT [::1:443 HTTP/1.1\r\n\r\n", NULL);
  BAD("CONNECT [::1]x:443 HTTP/1.1\r\n\r\n", NULL);
  BAD("CONNECT [fe80::1%25eth0]:443 HTTP/1.1\r\n\r\n", "bad IPv6 host");
  BAD("CONNECT [1.2.3.4]:443 HTTP/1.1\r\n\r\n", "bad IPv6 host");
  BAD("CONNECT [zz::1]:443 HTTP/1.1\r\n\r\n", "bad IPv6 host");
  BAD("CONNECT user@evil.example:443 HTTP/1.1\r\n\r\n", "userinfo in the URI");
  BAD("CONNECT http://a.example:443 HTTP/1.1\r\n\r\n", NULL);
  BAD("CONNECT a%2eexample:443 HTTP/1.1\r\n\r\n", "bad host");
  BAD("CONNECT a.example/x:443 HTTP/1.1\r\n\r\n", "bad host");
}

/* ---- forward requests ---- */

/* Attack: the absolute URI names an allowed host, the Host header another; the origin must see the first. */
static void host_header_spoofing(void **state) {
  (void)state;
  struct nc_http_request req;
  parse_ok("GET http://allowed.example/x HTTP/1.1\r\nHost: evil.example\r\nHOST: evil2.example\r\n\r\n", &req);
  assert_false(req.connect);
  assert_string_equal(req.host, "allowed.example");
  assert_int_equal(req.port, 80);
  assert_string_equal(req.upstream_head, "GET /x HTTP/1.1\r\nHost: allowed.example\r\nConnection: close\r\n\r\n");
  nc_http_request_free(&req);
  nc_http_request_free(&req); /* idempotent */
  assert_null(req.upstream_head);
  /* the userinfo trick: "allowed.example@evil.example" connects to evil.example */
  BAD("GET http://allowed.example@evil.example/ HTTP/1.1\r\n\r\n", "userinfo in the URI");
  BAD("GET http://allowed.example:80@evil.example/ HTTP/1.1\r\n\r\n", "userinfo in the URI");
  BAD("GET http://evil.example#@allowed.example/ HTTP/1.1\r\n\r\n", "fragment in the request target");
  BAD("GET http://evil.example\\@allowed.example/ HTTP/1.1\r\n\r\n", NULL);
}

static void forward_rewrite(void **state) {
  (void)state;
  struct nc_http_request req;
  parse_ok("POST http://api.example:8080/v1/x?q=1&r=%0d%0a HTTP/1.1\r\n"
           "Host: api.example:8080\r\n"
           "User-Agent: agent/1.0\r\n"
           "Proxy-Authorization: Basic c2VjcmV0\r\n"
           "Proxy-Connection: keep-alive\r\n"
           "Connection: keep-alive, X-Hop\r\n"
           "X-Hop: 1\r\n"
           "Keep-Alive: timeout=5\r\n"
           "TE: trailers\r\n"
           "Trailer: X-Sum\r\n"
           "Upgrade: h2c\r\n"
           "Content-Length: 5\r\n"
           "Accept:   */*   \r\n"
           "\r\n"
           "hello",
           &req);
  assert_string_equal(req.method, "POST");
  assert_string_equal(req.host, "api.example");
  assert_int_equal(req.port, 8080);
  assert_string_equal(req.upstream_head, "POST /v1/x?q=1&r=%0d%0a HTTP/1.1\r\n"
                                         "Host: api.example:8080\r\n"
                                         "User-Agent: agent/1.0\r\n"
                                         "Content-Length: 5\r\n"
                                         "Accept: */*\r\n"
                                         "Connection: close\r\n\r\n");
  nc_http_request_free(&req);

  parse_ok("GET http://a.example HTTP/1.0\n\n", &req);
  assert_string_equal(req.upstream_head, "GET / HTTP/1.0\r\nHost: a.example\r\nConnection: close\r\n\r\n");
  nc_http_request_free(&req);
  parse_ok("GET HTTP://A.example?x=1 HTTP/1.1\r\n\r\n", &req);
  assert_string_equal(req.upstream_head, "GET /?x=1 HTTP/1.1\r\nHost: A.example\r\nConnection: close\r\n\r\n");
  nc_http_request_free(&req);
  parse_ok("DELETE http://[2001:db8::1]:8080/a HTTP/1.1\r\n\r\n", &req);
  assert_string_equal(req.host, "2001:db8::1");
  assert_int_equal(req.port, 8080);
  assert_string_equal(req.upstream_head, "DELETE /a HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\nConnection: close\r\n\r\n");
  nc_http_request_free(&req);
  parse_ok("GET http://[::1]/ HTTP/1.1\r\n\r\n", &req);
  assert_string_equal(req.host, "::1");
  assert_int_equal(req.port, 80);
  nc_http_request_free(&req);
  parse_ok("get http://a.example:80/ HTTP/1.1\r\n\r\n", &req); /* methods are case-sensitive tokens */
  assert_string_equal(req.upstream_head, "get / HTTP/1.1\r\nHost: a.example:80\r\nConnection: close\r\n\r\n");
  nc_http_request_free(&req);
  /* a Connection header may not strip the body framing */
  parse_ok("POST http://a.example/ HTTP/1.1\r\nConnection: Content-Length, Transfer-Encoding\r\n"
           "Transfer-Encoding: chunked\r\n\r\n",
           &req);
  assert_string_equal(req.upstream_head,
                      "POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
  nc_http_request_free(&req);
  parse_ok("POST http://a.example/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", &req);
  nc_http_request_free(&req);
}

static void forward_refused(void **state) {
  (void)state;
  BAD("GET https://a.example/ HTTP/1.1\r\n\r\n", "https:// needs CONNECT");
  BAD("GET HTTPS://a.example/ HTTP/1.1\r\n\r\n", "https:// needs CONNECT");
  BAD("GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", "not an absolute URI (this is a proxy)");
  BAD("OPTIONS * HTTP/1.1\r\n\r\n", "not an absolute URI (this is a proxy)");
  BAD("GET ftp://a.example/ HTTP/1.1\r\n\r\n", "unsupported URI scheme (only http://)");
  BAD("GET a.example:80 HTTP/1.1\r\n\r\n", "unsupported URI scheme (only http://)");
  BAD("GET http:/a.example/ HTTP/1.1\r\n\r\n", NULL);
  BAD("GET http:///x HTTP/1.1\r\n\r\n", "missing host");
  BAD("GET http://a.example:/ HTTP/1.1\r\n\r\n", NULL);
  BAD("GET http://a.example:0/ HTTP/1.1\r\n\r\n", NULL);
  BAD("GET http://a.example:99999/ HTTP/1.1\r\n\r\n", NULL);
  BAD("GET http://a.example/\xc3\xa9 HTTP/1.1\r\n\r\n", "bad byte in the request target");
  BAD("GET http://b\xc3\xbc\x63her.example/ HTTP/1.1\r\n\r\n", NULL);
  /* request smuggling: two framings */
  BAD("POST http://a.example/ HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      "both Content-Length and Transfer-Encoding");
  BAD("POST http://a.example/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
      "conflicting Content-Length headers");
  BAD("POST http://a.example/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "bad Content-Length");
  BAD("POST http://a.example/ HTTP/1.1\r\nContent-Length: 1,1\r\n\r\n", "bad Content-Length");
  BAD("POST http://a.example/ HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", "bad Content-Length");
}

/* ---- syntax ---- */

static void request_line_syntax(void **state) {
  (void)state;
  BAD("GET  http://a.example/ HTTP/1.1\r\n\r\n", NULL);
  BAD("GET http://a.example/  HTTP/1.1\r\n\r\n", NULL);
  BAD("GET http://a.example/ HTTP/1.1 \r\n\r\n", "unsupported HTTP version");
  BAD("GET http://a.example/ HTTP/2.0\r\n\r\n", "unsupported HTTP version");
  BAD("GET http://a.example/ HTTP/1.2\r\n\r\n", "unsupported HTTP version");
  BAD("GET http://a.example/ http/1.1\r\n\r\n", "unsupported HTTP version");
  BAD("GET http://a.example/\r\n\r\n", "malformed request line"); /* HTTP/0.9 */
  BAD("GET\r\n\r\n", "malformed request line");
  BAD(" GET http://a.example/ HTTP/1.1\r\n\r\n", "bad method");
  BAD("G(T http://a.example/ HTTP/1.1\r\n\r\n", "bad method");
  BAD("GET\thttp://a.example/ HTTP/1.1\r\n\r\n", NULL);
  BAD("AVERYLONGMETHODNAMEWHICHIS http://a.example/ HTTP/1.1\r\n\r\n", "bad method");
  BAD("\r\nGET http://a.example/ HTTP/1.1\r\n\r\n", "malformed request line"); /* leading empty line */
  BAD("\r\n", "malformed request line");
  struct nc_http_request req;
  parse_ok("ABCDEFGHIJKLMNOPQRSTUVW http://a.example/ HTTP/1.1\r\n\r\n", &req); /* 23 bytes fits */
  nc_http_request_free(&req);
}

static void header_syntax(void **state) {
  (void)state;
  BAD("GET http://a.example/ HTTP/1.1\r\nHost : evil.example\r\n\r\n", "bad header name");
  BAD("GET http://a.example/ HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", "obsolete line folding");
  BAD("GET http://a.example/ HTTP/1.1\r\nX-A: 1\r\n\tfolded\r\n\r\n", "obsolete line folding");
  BAD("GET http://a.example/ HTTP/1.1\r\n X-A: 1\r\n\r\n", "obsolete line folding");
  BAD("GET http://a.example/ HTTP/1.1\r\nNoColon\r\n\r\n", "malformed header");
  BAD("GET http://a.example/ HTTP/1.1\r\n: empty-name\r\n\r\n", "malformed header");
  BAD("GET http://a.example/ HTTP/1.1\r\nX(y): 1\r\n\r\n", "bad header name");
  BAD("GET http://a.example/ HTTP/1.1\r\nX\xc3\xa9: 1\r\n\r\n", "bad header name");
  BAD("GET http://a.example/ HTTP/1.1\r\nX-A: a\x01z\r\n\r\n", "control byte in the request head");
  BAD("GET http://a.example/ HTTP/1.1\r\nX-A: a\x7fz\r\n\r\n", "control byte in the request head");
  /* obs-text in values is allowed */
  struct nc_http_request req;
  parse_ok("GET http://a.example/ HTTP/1.1\r\nX-A: caf\xc3\xa9\r\n\r\n", &req);
  assert_non_null(strstr(req.upstream_head, "X-A: caf\xc3\xa9\r\n"));
  nc_http_request_free(&req);
}

/* Attack: smuggle a second header or request through a bare CR or a NUL that a lenient parser
 * would treat as a line end or a string end. */
static void crlf_nul_injection(void **state) {
  (void)state;
  BAD("GET http://a.example/ HTTP/1.1\r\nX-A: y\rHost: evil.example\r\n\r\n", "control byte in the request head");
  BAD("GET http://a.example/\rHost: x HTTP/1.1\r\n\r\n", "control byte in the request head");
  BAD("GET http://a.example/ HTTP/1.1\r\r\n\r\n", "control byte in the request head");
  BAD("GET http://a.example/ HTTP/1.1\r\n\r\r\n", "control byte in the request head");
  const char nul1[] = "GET http://a.example/ HTTP/1.1\r\nX-A: y\0\r\nHost: evil\r\n\r\n";
  expect_bad(nul1, sizeof nul1 - 1, NC_PARSE_BAD, "control byte in the request head");
  const char nul2[] = "CONNECT a.example\0.evil.example:443 HTTP/1.1\r\n\r\n";
  expect_bad(nul2, sizeof nul2 - 1, NC_PARSE_BAD, "control byte in the request head");
  const char nul3[] = "GET http://a.example/ HTTP/1.1\0\r\n\r\n";
  expect_bad(nul3, sizeof nul3 - 1, NC_PARSE_BAD, NULL);
  /* fails fast, before the head is complete: a TLS ClientHello sent to the HTTP port */
  expect_bad("\x16\x03\x01\x02\x00\x01", 6, NC_PARSE_BAD, "control byte in the request head");
  const char early[] = "GET http://a.example/ HTTP/1.1\r\nX: \0";
  expect_bad(early, sizeof early - 1, NC_PARSE_BAD, NULL);
  /* a CR at the very end may still be followed by LF: not yet bad */
  struct nc_http_request req;
  assert_int_equal(parse("GET http://a.example/ HTTP/1.1\r", &req), NC_PARSE_INCOMPLETE);
  assert_int_equal(parse("GET http://a.example/ HTTP/1.1\r\n\r", &req), NC_PARSE_INCOMPLETE);
  assert_int_equal(parse("", &req), NC_PARSE_INCOMPLETE);
  /* the injected text in a header value is one value, on one line, upstream */
  parse_ok("GET http://a.example/ HTTP/1.1\r\nX-A: y Host: evil.example\r\n\r\n", &req);
  assert_non_null(strstr(req.upstream_head, "\r\nX-A: y Host: evil.example\r\n"));
  assert_non_null(strstr(req.upstream_head, "\r\nHost: a.example\r\n"));
  nc_http_request_free(&req);
}

/* Attack: exhaust the proxy with an endless or huge head. */
static void size_bounds(void **state) {
  (void)state;
  struct nc_http_request req;
  char *buf = malloc(NC_PROXY_HEAD_MAX * 2);
  assert_non_null(buf);
  const char *start = "GET http://a.example/ HTTP/1.1\r\nX-Pad: ";
  size_t sl = strlen(start);

  /* no end of head within NC_PROXY_HEAD_MAX bytes */
  memcpy(buf, start, sl);
  memset(buf + sl, 'a', NC_PROXY_HEAD_MAX * 2 - sl);
  assert_int_equal(nc_http_parse_request(buf, NC_PROXY_HEAD_MAX - 1, &req), NC_PARSE_INCOMPLETE);
  expect_bad(buf, NC_PROXY_HEAD_MAX, NC_PARSE_TOO_BIG, "request head too large");
  expect_bad(buf, NC_PROXY_HEAD_MAX * 2, NC_PARSE_TOO_BIG, "request head too large");

  /* a head of exactly NC_PROXY_HEAD_MAX bytes fits; one more does not */
  memcpy(buf + NC_PROXY_HEAD_MAX - 4, "\r\n\r\n", 4);
  assert_int_equal(nc_http_parse_request(buf, NC_PROXY_HEAD_MAX, &req), NC_PARSE_OK);
  assert_int_equal(req.head_len, NC_PROXY_HEAD_MAX);
  nc_http_request_free(&req);
  memset(buf + sl, 'a', NC_PROXY_HEAD_MAX * 2 - sl);
  memcpy(buf + NC_PROXY_HEAD_MAX - 3, "\r\n\r\n", 4);
  expect_bad(buf, NC_PROXY_HEAD_MAX + 1, NC_PARSE_TOO_BIG, "request head too large");

  /* NC_PROXY_HEADERS_MAX headers fit; one more does not */
  size_t o = (size_t)snprintf(buf, NC_PROXY_HEAD_MAX, "GET http://a.example/ HTTP/1.1\r\n");
  for (int i = 0; i < NC_PROXY_HEADERS_MAX; i++) o += (size_t)snprintf(buf + o, 32, "X-%d: v\r\n", i);
  memcpy(buf + o, "\r\n", 2);
  assert_int_equal(nc_http_parse_request(buf, o + 2, &req), NC_PARSE_OK);
  nc_http_request_free(&req);
  memcpy(buf + o, "Y: 1\r\n\r\n", 8);
  expect_bad(buf, o + 8, NC_PARSE_TOO_BIG, "too many headers");
  /* with bare LFs the rewrite grows each line by a CR: still bounded and exact */
  o = (size_t)snprintf(buf, NC_PROXY_HEAD_MAX, "GET http://a.example/ HTTP/1.1\n");
  for (int i = 0; i < NC_PROXY_HEADERS_MAX; i++) o += (size_t)snprintf(buf + o, 32, "X-%d:v\n", i);
  buf[o++] = '\n';
  assert_int_equal(nc_http_parse_request(buf, o, &req), NC_PARSE_OK);
  assert_int_equal(strlen(req.upstream_head), req.upstream_len);
  nc_http_request_free(&req);
  free(buf);
}

/* ---- SOCKS5 ---- */

static void socks5_greeting(void **state) {
  (void)state;
  struct nc_socks5_greeting g;
  assert_int_equal(nc_socks5_parse_greeting((const uint8_t *)"", 0, &g), NC_PARSE_INCOMPLETE);
  assert_int_equal(nc_socks5_parse_greeting((const uint8_t[]){5}, 1, &g), NC_PARSE_INCOMPLETE);
  assert_int_equal(nc_socks5_parse_greeting((const uint8_t[]){5, 2, 0}, 3, &g), NC_PARSE_INCOMPLETE);
  assert_int_equal(nc_socks5_parse_greeting((const uint8_t[]){5, 1, 0}, 3, &g), NC_PARSE_OK);
  assert_true(g.noauth);
  assert_int_equal(g.len, 3);
  assert_int_equal(nc_socks5_parse_greeting((const uint8_t[]){5, 2, 2, 0, 5, 1}, 6, &g), NC_PARSE_OK);
  assert_true(g.noauth);
  assert_int_equal(g.len, 4); /* the request that follows is not consumed */
  assert_int_equal(nc_socks5_parse_greeting((const uint8_t[]){5, 2, 1, 2}, 4, &g), NC_PARSE_OK);
  assert_false(g.noauth);
  assert_int_equal(nc_socks5_parse_greeting((const uint8_t[]){4, 1, 0}, 3, &g), NC_PARSE_BAD); /* SOCKS4 */
  assert_int_equal(nc_socks5_parse_greeting((const uint8_t[]){4}, 1, &g), NC_PARSE_BAD);
  assert_int_equal(nc_socks5_parse_greeting((const uint8_t[]){5, 0}, 2, &g), NC_PARSE_BAD);
  assert_int_equal(nc_socks5_parse_greeting((const uint8_t *)"GET ", 4, &g), NC_PARSE_BAD);
  uint8_t many[257] = {5, 255};
  many[256] = 0;
  assert_int_equal(nc_socks5_parse_greeting(many, 256, &g), NC_PARSE_INCOMPLETE);
  assert_int_equal(nc_socks5_parse_greeting(many, 257, &g), NC_PARSE_OK);
  assert_true(g.noauth);
  assert_int_equal(g.len, 257);
}

static int sreq(const uint8_t *b, size_t n, struct nc_socks5_request *r) {
  /* every strict prefix of a complete request is INCOMPLETE */
  int want = nc_socks5_parse_request(b, n, r);
  for (size_t k = 0, used = r->len; want == NC_PARSE_OK && k < used; k++) {
    struct nc_socks5_request p;
    assert_int_equal(nc_socks5_parse_request(b, k, &p), NC_PARSE_INCOMPLETE);
  }
  return nc_socks5_parse_request(b, n, r);
}

static void socks5_request(void **state) {
  (void)state;
  struct nc_socks5_request r;
  assert_int_equal(sreq((const uint8_t[]){5, 1, 0, 1, 10, 0, 0, 1, 0, 80, 0xaa}, 11, &r), NC_PARSE_OK);
  assert_int_equal(r.atyp, 1);
  assert_int_equal(r.cmd, 1);
  assert_string_equal(r.host, "10.0.0.1");
  assert_int_equal(r.port, 80);
  assert_int_equal(r.len, 10);
  const uint8_t dom[] = {5, 1, 0, 3, 11, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm', 0x01, 0xbb};
  assert_int_equal(sreq(dom, sizeof dom, &r), NC_PARSE_OK);
  assert_string_equal(r.host, "example.com");
  assert_int_equal(r.port, 443);
  assert_int_equal(r.len, sizeof dom);
  const uint8_t v6[] = {5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff};
  assert_int_equal(sreq(v6, sizeof v6, &r), NC_PARSE_OK);
  assert_string_equal(r.host, "2001:db8::1");
  assert_int_equal(r.port, 65535);
  assert_int_equal(r.len, 22);
  uint8_t big[5 + 255 + 2] = {5, 1, 0, 3, 255};
  memset(big + 5, 'a', 255);
  big[260] = 0;
  big[261] = 22;
  assert_int_equal(sreq(big, sizeof big, &r), NC_PARSE_OK);
  assert_int_equal(strlen(r.host), 255);
  assert_int_equal(r.port, 22);
}

static void socks5_request_refused(void **state) {
  (void)state;
  struct nc_socks5_request r;
  /* BIND and UDP ASSOCIATE: "command not supported", as soon as the command byte is in */
  assert_int_equal(nc_socks5_parse_request((const uint8_t[]){5, 2}, 2, &r), NC_PARSE_BAD);
  assert_int_equal(r.reply, NC_SOCKS5_BAD_COMMAND);
  assert_int_equal(nc_socks5_parse_request((const uint8_t[]){5, 3, 0, 1, 1, 2, 3, 4, 0, 53}, 10, &r), NC_PARSE_BAD);
  assert_int_equal(r.reply, NC_SOCKS5_BAD_COMMAND);
  assert_int_equal(nc_socks5_parse_request((const uint8_t[]){5, 0, 0, 1}, 4, &r), NC_PARSE_BAD);
  assert_int_equal(r.reply, NC_SOCKS5_BAD_COMMAND);
  /* unknown address types */
  assert_int_equal(nc_socks5_parse_request((const uint8_t[]){5, 1, 0, 2, 1, 2, 3, 4, 0, 80}, 10, &r), NC_PARSE_BAD);
  assert_int_equal(r.reply, NC_SOCKS5_BAD_ATYP);
  assert_int_equal(nc_socks5_parse_request((const uint8_t[]){5, 1, 0, 0}, 4, &r), NC_PARSE_BAD);
  assert_int_equal(r.reply, NC_SOCKS5_BAD_ATYP);
  assert_int_equal(nc_socks5_parse_request((const uint8_t[]){5, 1, 0, 0xff}, 4, &r), NC_PARSE_BAD);
  assert_int_equal(r.reply, NC_SOCKS5_BAD_ATYP);
  /* wrong version, reserved byte, empty domain, port 0 */
  assert_int_equal(nc_socks5_parse_request((const uint8_t[]){4, 1, 0, 1, 1, 2, 3, 4, 0, 80}, 10, &r), NC_PARSE_BAD);
  assert_int_equal(r.reply, NC_SOCKS5_FAILURE);
  assert_int_equal(nc_socks5_parse_request((const uint8_t[]){5, 1, 1, 1, 1, 2, 3, 4, 0, 80}, 10, &r), NC_PARSE_BAD);
  assert_int_equal(r.reply, NC_SOCKS5_FAILURE);
  assert_int_equal(nc_socks5_parse_request((const uint8_t[]){5, 1, 0, 3, 0, 0, 80}, 7, &r), NC_PARSE_BAD);
  assert_int_equal(r.reply, NC_SOCKS5_FAILURE);
  assert_int_equal(nc_socks5_parse_request((const uint8_t[]){5, 1, 0, 1, 1, 2, 3, 4, 0, 0}, 10, &r), NC_PARSE_BAD);
  assert_int_equal(r.reply, NC_SOCKS5_FAILURE);
  /* Attack: a NUL truncates "allowed.example\0.evil" to an allowed name in a C string. */
  const uint8_t nul[] = {5, 1, 0, 3, 9, 'a', '.', 'c', 'o', 'm', 0, '.', 'e', 'v', 1, 187};
  assert_int_equal(nc_socks5_parse_request(nul, sizeof nul, &r), NC_PARSE_BAD);
  assert_int_equal(r.reply, NC_SOCKS5_FAILURE);
  const uint8_t crlf[] = {5, 1, 0, 3, 5, 'a', '\r', '\n', 'b', 'c', 1, 187};
  assert_int_equal(nc_socks5_parse_request(crlf, sizeof crlf, &r), NC_PARSE_BAD);
  /* incomplete until the last byte, for every address type */
  assert_int_equal(nc_socks5_parse_request((const uint8_t[]){5, 1, 0, 3, 200, 'a'}, 6, &r), NC_PARSE_INCOMPLETE);
  assert_int_equal(nc_socks5_parse_request((const uint8_t[]){5, 1, 0, 4, 0, 0, 0}, 7, &r), NC_PARSE_INCOMPLETE);
  assert_int_equal(nc_socks5_parse_request((const uint8_t[]){5, 1, 0, 1, 1, 2, 3, 4, 0}, 9, &r),
                   NC_PARSE_INCOMPLETE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(connect_ok),          cmocka_unit_test(connect_bad),
      cmocka_unit_test(host_header_spoofing), cmocka_unit_test(forward_rewrite),
      cmocka_unit_test(forward_refused),     cmocka_unit_test(request_line_syntax),
      cmocka_unit_test(header_syntax),       cmocka_unit_test(crlf_nul_injection),
      cmocka_unit_test(size_bounds),         cmocka_unit_test(socks5_greeting),
      cmocka_unit_test(socks5_request),      cmocka_unit_test(socks5_request_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
