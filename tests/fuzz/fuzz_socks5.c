/* fuzz_socks5.c — libFuzzer target for the SOCKS5 greeting and request parsers, fed as a client sends them:
 * the greeting, then the request in what follows it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/proxy-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) \
  do {           \
    if (!(c)) abort(); \
  } while (0)

static void request(const uint8_t *data, size_t size) {
  struct nc_socks5_request r, p;
  int full = nc_socks5_parse_request(data, size, &r);
  if (full == NC_PARSE_OK) {
    CHECK(r.len >= 4 + 1 + 1 + 2 && r.len <= size && r.len <= 4 + 1 + 255 + 2);
    CHECK(r.cmd == 1 && (r.atyp == 1 || r.atyp == 3 || r.atyp == 4));
    CHECK(r.port != 0);
    size_t hl = strnlen(r.host, sizeof r.host);
    CHECK(hl > 0 && hl < sizeof r.host);
    for (size_t i = 0; i < hl; i++) CHECK((unsigned char)r.host[i] >= 0x20 && r.host[i] != 0x7f);
    for (size_t n = 0; n < r.len; n++) CHECK(nc_socks5_parse_request(data, n, &p) == NC_PARSE_INCOMPLETE);
  } else if (full == NC_PARSE_BAD) {
    CHECK(r.reply == NC_SOCKS5_FAILURE || r.reply == NC_SOCKS5_BAD_COMMAND || r.reply == NC_SOCKS5_BAD_ATYP);
  } else {
    CHECK(full == NC_PARSE_INCOMPLETE && size < 4 + 1 + 255 + 2);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct nc_socks5_greeting g, p;
  int r = nc_socks5_parse_greeting(data, size, &g);
  if (r == NC_PARSE_OK) {
    CHECK(g.len >= 3 && g.len <= size && g.len <= 257);
    for (size_t n = 0; n < g.len; n++) CHECK(nc_socks5_parse_greeting(data, n, &p) == NC_PARSE_INCOMPLETE);
    request(data + g.len, size - g.len);
  } else {
    CHECK(r == NC_PARSE_BAD || (r == NC_PARSE_INCOMPLETE && size < 257));
  }
  request(data, size);
  return 0;
}
