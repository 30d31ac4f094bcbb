/* proxy-parse.c — what a sandboxed client sends the egress proxy: an HTTP/1.x request head (CONNECT or an
 * absolute-form forward request, rewritten for the origin) and the SOCKS5 greeting and request (RFC 1928). */
#include "net/proxy-parse.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

struct span {
  const char *p;
  size_t n;
};

struct header {
  struct span name, value;
};

/* ---- characters ---- */

static bool is_tchar(unsigned char c) { /* RFC 9110 token */
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static bool is_host_char(unsigned char c) { /* a reg-name we will resolve: no %-escapes, no sub-delims */
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '.' || c == '_';
}

static bool is_v6_char(unsigned char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

/* Bytes never allowed in a head: NUL, controls other than HTAB/CR/LF, DEL. */
static bool is_bad_byte(unsigned char c) { return (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f; }

static bool span_is(struct span s, const char *lit) { return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0; }

static bool span_ieq(struct span s, const char *lit) { return s.n == strlen(lit) && strncasecmp(s.p, lit, s.n) == 0; }

static struct span trim_ows(struct span s) {
  while (s.n && (s.p[0] == ' ' || s.p[0] == '\t')) s.p++, s.n--;
  while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t')) s.n--;
  return s;
}

/* ---- HTTP ---- */

static int fail(struct nc_http_request *req, int code, const char *why) {
  free(req->upstream_head);
  req->upstream_head = NULL;
  req->upstream_len = 0;
  req->why = why;
  return code;
}

/* Find the empty line ending the head within buf[0..n). 1: found (*ret_len includes it); 0: not yet;
 * -1: a byte that can never be in a head came first (so a stray TLS or binary client fails fast). */
static int find_head_end(const char *buf, size_t n, size_t *ret_len) {
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)buf[i];
    if (is_bad_byte(c)) return -1;
    if (c == '\r' && i + 1 < n && buf[i + 1] != '\n') return -1; /* bare CR: a line-end desync */
    if (c != '\n') continue;
    size_t line = i - start - (i > start && buf[i - 1] == '\r');
    if (line == 0) {
      *ret_len = i + 1;
      return 1;
    }
    start = i + 1;
  }
  return 0;
}

/* The next line of head[*pos..end), without its CRLF or LF. */
static struct span next_line(const char *head, size_t end, size_t *pos) {
  struct span l = {head + *pos, 0};
  const char *nl = memchr(l.p, '\n', end - *pos);
  size_t n = nl ? (size_t)(nl - l.p) : end - *pos;
  *pos += n + (nl != NULL);
  if (n && l.p[n - 1] == '\r') n--;
  l.n = n;
  return l;
}

static bool parse_port(struct span s, uint16_t *ret) {
  unsigned v = 0;
  if (s.n == 0 || s.n > 5) return false;
  for (size_t i = 0; i < s.n; i++) {
    if (!is_digit((unsigned char)s.p[i])) return false;
    v = v * 10 + (unsigned)(s.p[i] - '0');
  }
  if (v == 0 || v > 65535) return false;
  *ret = (uint16_t)v;
  return true;
}

/* host[:port], [v6][:port]: fills req->host (v6 unbracketed) and req->port. NULL or why not. */
static const char *parse_authority(struct span a, bool need_port, struct nc_http_request *req) {
  struct span host, port = {NULL, 0};
  bool has_port;
  if (a.n == 0) return "missing host";
  if (a.p[0] == '[') {
    const char *close = memchr(a.p, ']', a.n);
    if (!close) return "bad IPv6 host";
    host = (struct span){a.p + 1, (size_t)(close - a.p) - 1};
    size_t used = (size_t)(close - a.p) + 1;
    if (used < a.n && a.p[used] != ':') return "bad host";
    has_port = used < a.n;
    if (has_port) port = (struct span){a.p + used + 1, a.n - used - 1};
    if (host.n < 2 || host.n > 45) return "bad IPv6 host";
    for (size_t i = 0; i < host.n; i++)
      if (!is_v6_char((unsigned char)host.p[i])) return "bad IPv6 host";
    uint8_t addr[16];
    memcpy(req->host, host.p, host.n);
    req->host[host.n] = '\0';
    if (inet_pton(AF_INET6, req->host, addr) != 1) return "bad IPv6 host";
  } else {
    const char *colon = memchr(a.p, ':', a.n);
    host = (struct span){a.p, colon ? (size_t)(colon - a.p) : a.n};
    has_port = colon != NULL;
    if (has_port) port = (struct span){colon + 1, a.n - host.n - 1};
    if (host.n == 0) return "missing host";
    if (host.n >= sizeof req->host) return "host name too long";
    for (size_t i = 0; i < host.n; i++) {
      if (host.p[i] == '@') return "userinfo in the URI";
      if (!is_host_char((unsigned char)host.p[i])) return "bad host";
    }
    memcpy(req->host, host.p, host.n);
    req->host[host.n] = '\0';
  }
  if (has_port && !parse_port(port, &req->port)) return "bad port (expected 1..65535)";
  if (!has_port && need_port) return "CONNECT needs host:port";
  return NULL;
}

/* Does some Connection header name this header (RFC 9110 7.6.1)? Framing headers never count: the
 * proxy relays the body as sent, so dropping them would desync the origin's view of it. */
static bool nominated(struct span name, const struct header *h, size_t nh) {
  if (span_ieq(name, "content-length") || span_ieq(name, "transfer-encoding")) return false;
  for (size_t i = 0; i < nh; i++) {
    if (!span_ieq(h[i].name, "connection")) continue;
    struct span v = h[i].value;
    while (v.n) {
      const char *comma = memchr(v.p, ',', v.n);
      struct span tok = trim_ows((struct span){v.p, comma ? (size_t)(comma - v.p) : v.n});
      if (tok.n == name.n && strncasecmp(tok.p, name.p, name.n) == 0) return true;
      if (!comma) break;
      v.n -= (size_t)(comma - v.p) + 1;
      v.p = comma + 1;
    }
  }
  return false;
}

static bool hop_by_hop(struct span name, const struct header *h, size_t nh) {
  static const char *const drop[] = {"host", "connection", "keep-alive", "te", "trailer", "upgrade"};
  if (name.n >= 6 && strncasecmp(name.p, "proxy-", 6) == 0) return true; /* Proxy-Authorization, -Connection */
  for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
    if (span_ieq(name, drop[i])) return true;
  return nominated(name, h, nh);
}

/* Content-Length and Transfer-Encoding must agree on one framing (request smuggling). */
static const char *check_framing(const struct header *h, size_t nh) {
  const struct header *cl = NULL;
  bool te = false;
  for (size_t i = 0; i < nh; i++) {
    if (span_ieq(h[i].name, "transfer-encoding")) te = true;
    if (!span_ieq(h[i].name, "content-length")) continue;
    if (h[i].value.n == 0 || h[i].value.n > 18) return "bad Content-Length";
    for (size_t j = 0; j < h[i].value.n; j++)
      if (!is_digit((unsigned char)h[i].value.p[j])) return "bad Content-Length";
    if (cl && (cl->value.n != h[i].value.n || memcmp(cl->value.p, h[i].value.p, cl->value.n) != 0))
      return "conflicting Content-Length headers";
    cl = &h[i];
  }
  return cl && te ? "both Content-Length and Transfer-Encoding" : NULL;
}

static size_t put(char *out, size_t o, const char *s, size_t n) {
  if (out) memcpy(out + o, s, n);
  return o + n;
}

/* Write (out non-NULL) or measure the head for the origin. */
static size_t emit(char *out, struct span method, struct span path, struct span version, struct span authority,
                   const struct header *h, size_t nh) {
  size_t o = 0;
  o = put(out, o, method.p, method.n);
  o = put(out, o, " ", 1);
  if (path.n == 0 || path.p[0] != '/') o = put(out, o, "/", 1); /* "" -> "/", "?q" -> "/?q" */
  o = put(out, o, path.p, path.n);
  o = put(out, o, " ", 1);
  o = put(out, o, version.p, version.n);
  o = put(out, o, "\r\nHost: ", 8);
  o = put(out, o, authority.p, authority.n); /* the authority we check, never the client's Host header */
  o = put(out, o, "\r\n", 2);
  for (size_t i = 0; i < nh; i++) {
    if (hop_by_hop(h[i].name, h, nh)) continue;
    o = put(out, o, h[i].name.p, h[i].name.n);
    o = put(out, o, ": ", 2);
    o = put(out, o, h[i].value.p, h[i].value.n);
    o = put(out, o, "\r\n", 2);
  }
  return put(out, o, "Connection: close\r\n\r\n", 21);
}

/* "Name: value", syntax only. NULL or why not. */
static const char *parse_header(struct span l, struct header *h) {
  if (l.p[0] == ' ' || l.p[0] == '\t') return "obsolete line folding";
  const char *colon = memchr(l.p, ':', l.n);
  if (!colon || colon == l.p) return "malformed header";
  h->name = (struct span){l.p, (size_t)(colon - l.p)};
  for (size_t i = 0; i < h->name.n; i++)
    if (!is_tchar((unsigned char)h->name.p[i])) return "bad header name"; /* also "Host : x" */
  h->value = trim_ows((struct span){colon + 1, l.n - h->name.n - 1});
  for (size_t i = 0; i < h->value.n; i++) {
    unsigned char c = (unsigned char)h->value.p[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f) return "control byte in a header";
  }
  return NULL;
}

/* The absolute-form target "http://authority[/path][?query]". */
static const char *parse_absolute(struct span t, struct span *authority, struct span *path,
                                  struct nc_http_request *req) {
  if (t.n >= 8 && strncasecmp(t.p, "https://", 8) == 0) return "https:// needs CONNECT";
  if (t.n == 0 || t.p[0] == '/' || span_is(t, "*")) return "not an absolute URI (this is a proxy)";
  if (t.n < 7 || strncasecmp(t.p, "http://", 7) != 0) return "unsupported URI scheme (only http://)";
  if (memchr(t.p, '#', t.n)) return "fragment in the request target";
  struct span rest = {t.p + 7, t.n - 7};
  size_t an = 0;
  while (an < rest.n && rest.p[an] != '/' && rest.p[an] != '?') an++;
  *authority = (struct span){rest.p, an};
  *path = (struct span){rest.p + an, rest.n - an};
  if (memchr(authority->p, '@', authority->n)) return "userinfo in the URI"; /* http://allowed@evil/ */
  req->port = 80;
  return parse_authority(*authority, false, req);
}

int nc_http_parse_request(const char *buf, size_t len, struct nc_http_request *req) {
  struct header h[NC_PROXY_HEADERS_MAX];
  size_t nh = 0, head_len = 0, pos = 0;
  const char *why;
  memset(req, 0, sizeof *req);
  if (!buf) return fail(req, NC_PARSE_BAD, "no request");
  int r = find_head_end(buf, len < NC_PROXY_HEAD_MAX ? len : NC_PROXY_HEAD_MAX, &head_len);
  if (r < 0) return fail(req, NC_PARSE_BAD, "control byte in the request head");
  if (r == 0) return len >= NC_PROXY_HEAD_MAX ? fail(req, NC_PARSE_TOO_BIG, "request head too large")
                                               : NC_PARSE_INCOMPLETE;
  req->head_len = head_len;

  /* request-line = method SP request-target SP HTTP-version */
  struct span line = next_line(buf, head_len, &pos);
  const char *sp1 = memchr(line.p, ' ', line.n);
  if (!sp1) return fail(req, NC_PARSE_BAD, "malformed request line");
  struct span method = {line.p, (size_t)(sp1 - line.p)};
  struct span rest = {sp1 + 1, line.n - method.n - 1};
  const char *sp2 = memchr(rest.p, ' ', rest.n);
  if (!sp2) return fail(req, NC_PARSE_BAD, "malformed request line");
  struct span target = {rest.p, (size_t)(sp2 - rest.p)};
  struct span version = {sp2 + 1, rest.n - target.n - 1};
  if (method.n == 0 || method.n >= sizeof req->method) return fail(req, NC_PARSE_BAD, "bad method");
  for (size_t i = 0; i < method.n; i++)
    if (!is_tchar((unsigned char)method.p[i])) return fail(req, NC_PARSE_BAD, "bad method");
  if (!span_is(version, "HTTP/1.1") && !span_is(version, "HTTP/1.0"))
    return fail(req, NC_PARSE_BAD, "unsupported HTTP version");
  if (target.n == 0) return fail(req, NC_PARSE_BAD, "malformed request line");
  for (size_t i = 0; i < target.n; i++) {
    unsigned char c = (unsigned char)target.p[i];
    if (c <= 0x20 || c >= 0x7f) return fail(req, NC_PARSE_BAD, "bad byte in the request target");
  }
  memcpy(req->method, method.p, method.n);
  req->method[method.n] = '\0';

  while (pos < head_len) {
    line = next_line(buf, head_len, &pos);
    if (line.n == 0) break; /* the final empty line */
    if (nh == NC_PROXY_HEADERS_MAX) return fail(req, NC_PARSE_TOO_BIG, "too many headers");
    if ((why = parse_header(line, &h[nh])) != NULL) return fail(req, NC_PARSE_BAD, why);
    nh++;
  }

  if (span_is(method, "CONNECT")) {
    req->connect = true;
    if ((why = parse_authority(target, true, req)) != NULL) return fail(req, NC_PARSE_BAD, why);
    return NC_PARSE_OK;
  }
  struct span authority, path;
  if ((why = parse_absolute(target, &authority, &path, req)) != NULL) return fail(req, NC_PARSE_BAD, why);
  if ((why = check_framing(h, nh)) != NULL) return fail(req, NC_PARSE_BAD, why);
  size_t n = emit(NULL, method, path, version, authority, h, nh);
  req->upstream_head = malloc(n + 1);
  if (!req->upstream_head) return fail(req, NC_PARSE_BAD, "out of memory");
  emit(req->upstream_head, method, path, version, authority, h, nh);
  req->upstream_head[n] = '\0';
  req->upstream_len = n;
  return NC_PARSE_OK;
}

void nc_http_request_free(struct nc_http_request *req) {
  if (!req) return;
  free(req->upstream_head);
  req->upstream_head = NULL;
  req->upstream_len = 0;
}

/* ---- SOCKS5 ---- */

int nc_socks5_parse_greeting(const uint8_t *buf, size_t len, struct nc_socks5_greeting *g) {
  memset(g, 0, sizeof *g);
  if (len >= 1 && buf[0] != 5) return NC_PARSE_BAD;
  if (len >= 2 && buf[1] == 0) return NC_PARSE_BAD; /* NMETHODS is 1..255 */
  if (len < 2 || len < 2 + (size_t)buf[1]) return NC_PARSE_INCOMPLETE;
  for (size_t i = 0; i < buf[1]; i++)
    if (buf[2 + i] == 0x00) g->noauth = true;
  g->len = 2 + (size_t)buf[1];
  return NC_PARSE_OK;
}

static int socks_bad(struct nc_socks5_request *r, uint8_t reply) {
  r->reply = reply;
  return NC_PARSE_BAD;
}

int nc_socks5_parse_request(const uint8_t *buf, size_t len, struct nc_socks5_request *r) {
  memset(r, 0, sizeof *r);
  if (len >= 1 && buf[0] != 5) return socks_bad(r, NC_SOCKS5_FAILURE);
  if (len >= 2) r->cmd = buf[1];
  if (len >= 2 && buf[1] != 0x01) return socks_bad(r, NC_SOCKS5_BAD_COMMAND); /* BIND, UDP ASSOCIATE */
  if (len >= 3 && buf[2] != 0x00) return socks_bad(r, NC_SOCKS5_FAILURE);      /* RSV */
  if (len >= 4) r->atyp = buf[3];
  if (len >= 4 && buf[3] != 1 && buf[3] != 3 && buf[3] != 4) return socks_bad(r, NC_SOCKS5_BAD_ATYP);
  if (len < 5) return NC_PARSE_INCOMPLETE;
  size_t addr_len = r->atyp == 1 ? 4 : r->atyp == 4 ? 16 : buf[4];
  size_t addr_off = r->atyp == 3 ? 5 : 4;
  if (r->atyp == 3 && addr_len == 0) return socks_bad(r, NC_SOCKS5_FAILURE);
  if (len < addr_off + addr_len + 2) return NC_PARSE_INCOMPLETE;
  const uint8_t *a = buf + addr_off;
  if (r->atyp == 3) {
    for (size_t i = 0; i < addr_len; i++)
      if (a[i] < 0x20 || a[i] == 0x7f) return socks_bad(r, NC_SOCKS5_FAILURE); /* NUL and other controls */
    memcpy(r->host, a, addr_len); /* addr_len <= 255 */
    r->host[addr_len] = '\0';
  } else if (!inet_ntop(r->atyp == 1 ? AF_INET : AF_INET6, a, r->host, sizeof r->host)) {
    return socks_bad(r, NC_SOCKS5_FAILURE);
  }
  r->port = (uint16_t)(a[addr_len] << 8 | a[addr_len + 1]);
  if (r->port == 0) return socks_bad(r, NC_SOCKS5_FAILURE);
  r->len = addr_off + addr_len + 2;
  return NC_PARSE_OK;
}
