/* proxy-parse.h — parsers for what a client sends the egress proxy: an HTTP
 * request head (CONNECT or an absolute-form forward request) and the SOCKS5
 * greeting and request. Pure functions over a buffer, fuzzed in CI. */
#ifndef NC_NET_PROXY_PARSE_H
#define NC_NET_PROXY_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NC_PROXY_HEAD_MAX 16384 /* bytes of an HTTP request head */
#define NC_PROXY_HEADERS_MAX 100

enum { NC_PARSE_INCOMPLETE = 0, NC_PARSE_OK = 1, NC_PARSE_BAD = -1, NC_PARSE_TOO_BIG = -2 };

struct nc_http_request {
  bool connect;        /* CONNECT authority-form */
  char method[24];
  char host[256];      /* as the client wrote it, IPv6 without brackets, not normalised */
  uint16_t port;       /* from the target, else 80 for http:// */
  size_t head_len;     /* bytes of the head in the buffer, final CRLFCRLF included */
  /* Forward requests: the head to send the origin server, malloc'd: origin-form
   * target, Host set to the checked authority (a client Host header never
   * wins), Proxy-* and hop-by-hop headers dropped, "Connection: close". */
  char *upstream_head;
  size_t upstream_len;
  const char *why;     /* NC_PARSE_BAD/TOO_BIG: a short static reason for the 400 body */
};

/* Parse buf[0..len). INCOMPLETE: need more bytes (len < NC_PROXY_HEAD_MAX);
 * OK: *req filled; BAD / TOO_BIG: req->why says why. Accepts CRLF and bare LF
 * line ends; refuses obsolete line folding, NUL and other control bytes,
 * more than NC_PROXY_HEADERS_MAX headers, origin-form and https:// targets,
 * userinfo and fragments, and (forward requests) Content-Length together with
 * Transfer-Encoding or conflicting Content-Lengths. *req is overwritten on
 * every call (nothing is freed): after OK, call nc_http_request_free. A
 * control byte before the head ends gives BAD without waiting for the rest. */
int nc_http_parse_request(const char *buf, size_t len, struct nc_http_request *req);
void nc_http_request_free(struct nc_http_request *req);

/* SOCKS5 (RFC 1928). Greeting: VER=5 NMETHODS METHODS... */
struct nc_socks5_greeting {
  size_t len;          /* bytes consumed */
  bool noauth;         /* method 0x00 offered */
};
int nc_socks5_parse_greeting(const uint8_t *buf, size_t len, struct nc_socks5_greeting *g);

enum {
  NC_SOCKS5_OK = 0x00, NC_SOCKS5_FAILURE = 0x01, NC_SOCKS5_NOT_ALLOWED = 0x02, NC_SOCKS5_NET_UNREACH = 0x03,
  NC_SOCKS5_HOST_UNREACH = 0x04, NC_SOCKS5_REFUSED = 0x05, NC_SOCKS5_TTL = 0x06, NC_SOCKS5_BAD_COMMAND = 0x07,
  NC_SOCKS5_BAD_ATYP = 0x08,
};

/* Request: VER=5 CMD RSV ATYP DST.ADDR DST.PORT. OK only for CMD=CONNECT;
 * otherwise BAD with *reply set to the SOCKS5 reply code to send. */
struct nc_socks5_request {
  size_t len;          /* bytes consumed */
  uint8_t cmd, atyp;
  char host[256];      /* domain as sent (ATYP 3), or the address in text */
  uint16_t port;
  uint8_t reply;       /* on BAD */
};
int nc_socks5_parse_request(const uint8_t *buf, size_t len, struct nc_socks5_request *r);

#endif
