/* fuzz_allowlist.c — libFuzzer target for allowed_hosts entries and host names: canonical forms round-trip,
 * normalisation is idempotent, and an entry allows what it names. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/allowlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) \
  do {           \
    if (!(c)) abort(); \
  } while (0)

static void entry(const char *text) {
  struct nc_allow_entry e, again;
  nc_error err = {0};
  char canon[512], canon2[512];
  if (nc_allow_entry_parse(text, &e, &err) < 0) {
    CHECK(err.code != 0 && err.msg[0] == '"' && strchr(err.msg, '\n') == NULL);
    return;
  }
  nc_allow_entry_format(&e, canon, sizeof canon);
  CHECK(nc_allow_entry_parse(canon, &again, &err) == 0);
  nc_allow_entry_format(&again, canon2, sizeof canon2);
  CHECK(strcmp(canon, canon2) == 0);
  struct nc_allowlist al = {.v = &e, .n = 1};
  uint16_t port = e.port ? e.port : 443;
  if (e.kind == NC_ALLOW_NAME) {
    CHECK(nc_allowlist_allows_name(&al, e.name, port));
  } else if (e.kind == NC_ALLOW_WILDCARD) {
    char sub[NC_HOST_MAX + 2];
    CHECK(!nc_allowlist_allows_name(&al, e.name, port)); /* never the apex */
    if (strlen(e.name) + 2 < NC_HOST_MAX) {
      sub[0] = 'a';
      sub[1] = '.';
      strcpy(sub + 2, e.name);
      CHECK(nc_allowlist_allows_name(&al, sub, port));
    }
  } else {
    CHECK(e.family == AF_INET || e.family == AF_INET6);
    CHECK(nc_allowlist_allows_addr(&al, e.family, e.addr, port));
  }
}

static void name(const char *in, size_t len) {
  char out[NC_HOST_MAX], out2[NC_HOST_MAX];
  nc_error err = {0};
  if (nc_host_normalize(in, len, out, &err) < 0) {
    CHECK(strchr(err.msg, '\n') == NULL);
    return;
  }
  size_t n = strnlen(out, sizeof out);
  CHECK(n > 0 && n <= 253);
  CHECK(nc_host_normalize(out, n, out2, &err) == 0); /* idempotent */
  CHECK(strcmp(out, out2) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  entry(s);
  name(s, size);
  uint8_t addr[16];
  int f = nc_ip_literal(s, size, addr);
  CHECK(f == 0 || f == AF_INET || f == AF_INET6);
  if (f) (void)nc_addr_is_reserved(f, addr);
  if (size >= 16) {
    (void)nc_addr_is_reserved(AF_INET, data);
    (void)nc_addr_is_reserved(AF_INET6, data);
  }
  free(s);
  return 0;
}
