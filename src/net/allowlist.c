/* allowlist.c — allowed_hosts entries (names, wildcards, addresses, CIDRs, ports), host name
 * normalisation (case, trailing dot, IDNA) and the allow/reserved decisions of the egress proxy. */
#include "net/allowlist.h"

#include <arpa/inet.h>
#include <errno.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config/profile.h"

#define Q(buf, s) nc_quote((buf), sizeof(buf), (s))
#define NAME_MAX_LEN 253
#define INPUT_MAX 1024 /* bytes of a name before IDNA; its ASCII form must still fit 253 */
#define ENTRY_MAX 1100 /* bytes of an allowed_hosts entry */
#define SYNTAX "is not HOST[:PORT] (e.g. api.openai.com, *.example.com:443, 10.0.0.0/8 or [::1]:443)"

/* ---- names ---- */

static bool is_label_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static bool is_hex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* A last label that a resolver (inet_aton) or a URL parser reads as a number: "1", "0x7f". */
static bool numeric_label(const char *l, size_t n) {
  size_t i = 0;
  if (n >= 2 && l[0] == '0' && l[1] == 'x') i = 2;
  for (size_t j = i; j < n; j++)
    if (i ? !is_hex((unsigned char)l[j]) : !is_digit((unsigned char)l[j])) return false;
  return true;
}

/* An A-label ("xn--...") must decode to a valid U-label. */
static bool a_label_ok(const char *l, size_t n) {
  char buf[64];
  char *out = NULL;
  memcpy(buf, l, n); /* n <= 63, checked by the caller */
  buf[n] = '\0';
  int r = idn2_to_ascii_8z(buf, &out, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
  free(out);
  return r == IDN2_OK;
}

/* Label rules over an ASCII name of length n; NULL or what is wrong. */
static const char *check_labels(const char *s, size_t n, bool ascii_input) {
  if (n == 0) return "is empty";
  if (n > NAME_MAX_LEN) return "is longer than 253 bytes";
  const char *label = s;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && s[i] != '.') {
      if (!is_label_char((unsigned char)s[i]))
        return "has a character other than letters, digits, '-', '_' and '.'";
      continue;
    }
    size_t len = (size_t)(s + i - label);
    if (len == 0) return "has an empty label (\"..\" or a leading dot)";
    if (len > 63) return "has a label longer than 63 bytes";
    if (label[0] == '-' || label[len - 1] == '-') return "has a label starting or ending with '-'";
    /* An ASCII name skips IDNA (which refuses real names like r3---sn-x), so check its A-labels here. */
    if (ascii_input && len >= 4 && memcmp(label, "xn--", 4) == 0 && !a_label_ok(label, len))
      return "has an invalid IDNA label (xn--...)";
    if (i == n && numeric_label(label, len)) return "ends in a number (write an IPv4 address as a.b.c.d)";
    label = s + i + 1;
  }
  return NULL;
}

/* The normalised form of in[0..len) in out, or what is wrong with it. */
static const char *normalize(const char *in, size_t len, char out[NC_HOST_MAX]) {
  char buf[INPUT_MAX + 1];
  bool ascii = true;
  if (len == 0) return "is empty";
  if (len > INPUT_MAX) return "is longer than 253 bytes";
  if (memchr(in, '\0', len)) return "contains a NUL byte";
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)in[i];
    if (c >= 0x80) ascii = false;
    buf[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  buf[len] = '\0';
  if (!ascii) {
    char *a = NULL;
    /* UTS#46 non-transitional: "faß.de" stays xn--fa-hia.de, never "fass.de". No transitional fallback. */
    int r = idn2_to_ascii_8z(buf, &a, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (r != IDN2_OK) {
      free(a);
      return "is not a valid internationalised domain name (IDNA2008, UTS#46)";
    }
    size_t n = strlen(a);
    if (n > INPUT_MAX) {
      free(a);
      return "is longer than 253 bytes";
    }
    memcpy(buf, a, n + 1);
    free(a);
    len = n;
  }
  if (len > 0 && buf[len - 1] == '.') buf[--len] = '\0'; /* one trailing dot: the root */
  const char *why = check_labels(buf, len, ascii);
  if (why) return why;
  memcpy(out, buf, len + 1); /* len <= 253 */
  return NULL;
}

int nc_host_normalize(const char *in, size_t len, char out[NC_HOST_MAX], nc_error *err) {
  char q[256], raw[INPUT_MAX + 1];
  const char *why = in ? normalize(in, len, out) : "is missing";
  if (!why) return 0;
  size_t n = in ? (len < INPUT_MAX ? len : INPUT_MAX) : 0;
  if (n) memcpy(raw, in, n);
  raw[n] = '\0';
  return nc_error_set(err, EINVAL, "\"%s\" is not a host name: it %s", Q(q, raw), why);
}

/* ---- addresses ---- */

int nc_ip_literal(const char *s, size_t len, uint8_t addr[16]) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (!s) return 0;
  if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
    s++;
    len -= 2;
    memset(addr, 0, 16);
    if (len == 0 || len >= sizeof buf || memchr(s, '\0', len)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return inet_pton(AF_INET6, buf, addr) == 1 ? AF_INET6 : 0;
  }
  memset(addr, 0, 16);
  if (len == 0 || len >= sizeof buf || memchr(s, '\0', len)) return 0;
  memcpy(buf, s, len);
  buf[len] = '\0';
  if (inet_pton(AF_INET, buf, addr) == 1) return AF_INET; /* dotted quad only: no "127.1", no octal */
  memset(addr, 0, 16);
  return inet_pton(AF_INET6, buf, addr) == 1 ? AF_INET6 : 0;
}

static unsigned family_bits(int family) { return family == AF_INET ? 32 : 128; }

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned prefix) {
  unsigned bytes = prefix / 8, rest = prefix % 8;
  if (memcmp(a, net, bytes) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (a[bytes] & mask) == (net[bytes] & mask);
}

static void mask_host_bits(uint8_t addr[16], unsigned prefix, unsigned bits) {
  for (unsigned i = 0; i < bits / 8; i++) {
    if (prefix >= (i + 1) * 8) continue;
    if (prefix <= i * 8) addr[i] = 0;
    else addr[i] &= (uint8_t)(0xff << (8 - (prefix - i * 8)));
  }
}

/* ---- entries ---- */

/* "1".."65535", digits only. */
static bool parse_port(const char *s, size_t n, uint16_t *ret) {
  unsigned v = 0;
  if (n == 0 || n > 5) return false;
  for (size_t i = 0; i < n; i++) {
    if (!is_digit((unsigned char)s[i])) return false;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  if (v == 0 || v > 65535) return false;
  *ret = (uint16_t)v;
  return true;
}

/* "0".."max", digits only, no leading zero. */
static bool parse_prefix(const char *s, size_t n, unsigned max, unsigned *ret) {
  unsigned v = 0;
  if (n == 0 || n > 3 || (n > 1 && s[0] == '0')) return false;
  for (size_t i = 0; i < n; i++) {
    if (!is_digit((unsigned char)s[i])) return false;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  if (v > max) return false;
  *ret = v;
  return true;
}

static int entry_error(nc_error *err, const char *text, const char *what) {
  char q[256];
  return nc_error_set(err, EINVAL, "\"%s\" %s", Q(q, text), what);
}

/* addr[0..alen) an address, then optionally "/N" and ":PORT" in rest[0..rlen). */
static int parse_cidr(const char *text, const char *addr, size_t alen, const char *rest, size_t rlen,
                      struct nc_allow_entry *out, nc_error *err) {
  char what[160];
  int family = nc_ip_literal(addr, alen, out->addr);
  if (family == 0)
    return entry_error(err, text, "is not HOST[:PORT]: the address is not IPv4 (a.b.c.d) or IPv6 ([::1])");
  out->kind = NC_ALLOW_CIDR;
  out->family = family;
  out->prefix = family_bits(family);
  if (rlen > 0 && rest[0] == '/') {
    size_t n = 1;
    while (n < rlen && rest[n] != ':') n++;
    if (!parse_prefix(rest + 1, n - 1, family_bits(family), &out->prefix)) {
      snprintf(what, sizeof what, "is not HOST[:PORT]: the prefix length is not a number from 0 to %u",
               family_bits(family));
      return entry_error(err, text, what);
    }
    rest += n;
    rlen -= n;
  }
  if (rlen > 0 && (rest[0] != ':' || !parse_port(rest + 1, rlen - 1, &out->port)))
    return entry_error(err, text, rest[0] == ':' ? "is not HOST[:PORT]: the port is not a number from 1 to 65535"
                                                 : SYNTAX);
  uint8_t net[16];
  memcpy(net, out->addr, sizeof net);
  mask_host_bits(net, out->prefix, family_bits(family));
  if (memcmp(net, out->addr, sizeof net) != 0) {
    char fixed[80];
    memcpy(out->addr, net, sizeof net);
    nc_allow_entry_format(out, fixed, sizeof fixed);
    snprintf(what, sizeof what, "has host bits set; did you mean %s?", fixed);
    return entry_error(err, text, what);
  }
  return 0;
}

static int parse_name(const char *text, size_t n, const char *port, struct nc_allow_entry *out, nc_error *err) {
  char what[160];
  const char *name = text;
  out->kind = NC_ALLOW_NAME;
  if (n >= 2 && text[0] == '*' && text[1] == '.') {
    out->kind = NC_ALLOW_WILDCARD;
    name += 2;
    n -= 2;
  }
  if (memchr(name, '*', n))
    return entry_error(err, text, "is not HOST[:PORT]: '*' may only be a whole first label (*.example.com)");
  const char *why = normalize(name, n, out->name);
  if (why) {
    snprintf(what, sizeof what, "is not HOST[:PORT]: the name %s", why);
    return entry_error(err, text, what);
  }
  if (port && !parse_port(port + 1, strlen(port + 1), &out->port))
    return entry_error(err, text, "is not HOST[:PORT]: the port is not a number from 1 to 65535");
  return 0;
}

int nc_allow_entry_parse(const char *text, struct nc_allow_entry *out, nc_error *err) {
  memset(out, 0, sizeof *out);
  if (!text || !*text) return entry_error(err, text ? text : "", SYNTAX);
  size_t len = strnlen(text, ENTRY_MAX + 1);
  if (len > ENTRY_MAX) return entry_error(err, text, "is not HOST[:PORT]: it is too long");
  if (text[0] == '[') { /* [v6], [v6]/N, each with :PORT */
    const char *close = memchr(text, ']', len);
    if (!close) return entry_error(err, text, "is not HOST[:PORT]: '[' without ']'");
    size_t alen = (size_t)(close - text) + 1;
    return parse_cidr(text, text, alen, close + 1, len - alen, out, err);
  }
  const char *slash = memchr(text, '/', len);
  if (slash) /* IPv4/N[:PORT], IPv6/N[:PORT] */
    return parse_cidr(text, text, (size_t)(slash - text), slash, len - (size_t)(slash - text), out, err);
  const char *colon = memchr(text, ':', len);
  if (colon && memchr(colon + 1, ':', len - (size_t)(colon - text) - 1)) /* bare IPv6, no port */
    return parse_cidr(text, text, len, text + len, 0, out, err);
  size_t hlen = colon ? (size_t)(colon - text) : len;
  uint8_t a[16];
  if (nc_ip_literal(text, hlen, a) == AF_INET) return parse_cidr(text, text, hlen, text + hlen, len - hlen, out, err);
  return parse_name(text, hlen, colon, out, err);
}

void nc_allow_entry_format(const struct nc_allow_entry *e, char *buf, size_t size) {
  char a[INET6_ADDRSTRLEN], prefix[8] = "", port[8] = "";
  if (size == 0) return;
  if (e->port) snprintf(port, sizeof port, ":%u", (unsigned)e->port);
  switch (e->kind) {
    case NC_ALLOW_NAME: snprintf(buf, size, "%s%s", e->name, port); return;
    case NC_ALLOW_WILDCARD: snprintf(buf, size, "*.%s%s", e->name, port); return;
    case NC_ALLOW_CIDR: break;
  }
  if (e->family != AF_INET && e->family != AF_INET6) {
    buf[0] = '\0';
    return;
  }
  if (!inet_ntop(e->family, e->addr, a, sizeof a)) a[0] = '\0';
  if (e->prefix != family_bits(e->family)) snprintf(prefix, sizeof prefix, "/%u", e->prefix);
  if (e->family == AF_INET) snprintf(buf, size, "%s%s%s", a, prefix, port);
  else snprintf(buf, size, "[%s]%s%s", a, prefix, port);
}

/* ---- the list ---- */

void nc_allowlist_free(struct nc_allowlist *al) {
  if (!al) return;
  free(al->v);
  free(al->hosts);
  memset(al, 0, sizeof *al);
}

/* "name:ip" as add_add_host stores it (ip may also be bracketed). */
static int parse_static(const char *s, struct nc_static_host *h, nc_error *err) {
  char q[256];
  const char *colon = s ? strchr(s, ':') : NULL;
  if (!colon) return nc_error_set(err, EINVAL, "add_hosts: \"%s\" is not NAME:IP", Q(q, s ? s : ""));
  const char *why = normalize(s, (size_t)(colon - s), h->name);
  if (why) return nc_error_set(err, EINVAL, "add_hosts: \"%s\" is not NAME:IP: the name %s", Q(q, s), why);
  h->family = nc_ip_literal(colon + 1, strlen(colon + 1), h->addr);
  if (!h->family) return nc_error_set(err, EINVAL, "add_hosts: \"%s\" is not NAME:IP: bad address", Q(q, s));
  return 0;
}

int nc_allowlist_build(struct nc_allowlist *al, const struct nc_profile *p, nc_error *err) {
  memset(al, 0, sizeof *al);
  if (!p) return nc_error_set(err, EINVAL, "no profile");
  if (p->allowed_hosts.n > NC_MAX_LIST || p->add_hosts.n > NC_MAX_LIST)
    return nc_error_set(err, E2BIG, "allowed_hosts/add_hosts: more than %d entries", NC_MAX_LIST);
  if (p->allowed_hosts.n && !(al->v = calloc(p->allowed_hosts.n, sizeof *al->v)))
    return nc_error_set(err, ENOMEM, "out of memory");
  if (p->add_hosts.n && !(al->hosts = calloc(p->add_hosts.n, sizeof *al->hosts))) {
    nc_allowlist_free(al);
    return nc_error_set(err, ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < p->allowed_hosts.n; i++) {
    int r = nc_allow_entry_parse(p->allowed_hosts.v[i], &al->v[al->n], err);
    if (r < 0) {
      nc_allowlist_free(al);
      return nc_error_wrap(err, "allowed_hosts");
    }
    al->n++;
  }
  for (size_t i = 0; i < p->add_hosts.n; i++) {
    int r = parse_static(p->add_hosts.v[i], &al->hosts[al->n_hosts], err);
    if (r < 0) {
      nc_allowlist_free(al);
      return r;
    }
    al->n_hosts++;
  }
  return 0;
}

static bool port_ok(const struct nc_allow_entry *e, uint16_t port) { return e->port == 0 || e->port == port; }

bool nc_allowlist_allows_name(const struct nc_allowlist *al, const char *name, uint16_t port) {
  size_t n = name ? strnlen(name, NC_HOST_MAX) : NC_HOST_MAX;
  if (!al || n == 0 || n >= NC_HOST_MAX) return false;
  for (size_t i = 0; i < al->n; i++) {
    const struct nc_allow_entry *e = &al->v[i];
    if (!port_ok(e, port)) continue;
    if (e->kind == NC_ALLOW_NAME && strcmp(e->name, name) == 0) return true;
    if (e->kind == NC_ALLOW_WILDCARD) {
      size_t s = strlen(e->name);
      /* a subdomain: "a.example.com", never "example.com" itself or "badexample.com" */
      if (n > s + 1 && name[n - s - 1] == '.' && strcmp(name + n - s, e->name) == 0) return true;
    }
  }
  return false;
}

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool nc_allowlist_allows_addr(const struct nc_allowlist *al, int family, const uint8_t addr[16], uint16_t port) {
  if (!al || !addr || (family != AF_INET && family != AF_INET6)) return false;
  for (size_t i = 0; i < al->n; i++) {
    const struct nc_allow_entry *e = &al->v[i];
    if (e->kind != NC_ALLOW_CIDR || !port_ok(e, port)) continue;
    if (e->family == family && prefix_match(addr, e->addr, e->prefix)) return true;
    /* ::ffff:a.b.c.d is a.b.c.d on the wire */
    if (e->family == AF_INET && family == AF_INET6 && memcmp(addr, v4_mapped, 12) == 0 &&
        prefix_match(addr + 12, e->addr, e->prefix))
      return true;
  }
  return false;
}

size_t nc_allowlist_static(const struct nc_allowlist *al, const char *name, int *families, uint8_t (*addrs)[16],
                           size_t max) {
  size_t k = 0;
  for (size_t i = 0; al && name && i < al->n_hosts && k < max; i++) {
    if (strcmp(al->hosts[i].name, name) != 0) continue;
    families[k] = al->hosts[i].family;
    memcpy(addrs[k], al->hosts[i].addr, 16);
    k++;
  }
  return k;
}

/* ---- reserved addresses ---- */

static bool reserved4(const uint8_t a[4]) {
  if (a[0] == 127 || a[0] == 0) return true;                                   /* loopback, "this network" */
  if (a[0] == 169 && a[1] == 254) return true;                                 /* link-local, 169.254.169.254 */
  if (a[0] == 100 && a[1] == 100 && a[2] == 100 && a[3] == 200) return true;   /* Alibaba Cloud metadata */
  return false;
}

bool nc_addr_is_reserved(int family, const uint8_t addr[16]) {
  static const uint8_t zero[12] = {0};
  static const uint8_t translated[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0}; /* ::ffff:0:a.b.c.d (SIIT) */
  static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};   /* 64:ff9b::/96 */
  static const uint8_t ec2[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
  if (!addr) return true;
  if (family == AF_INET) return reserved4(addr);
  if (family != AF_INET6) return true;
  if (addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80) return true; /* fe80::/10 link-local */
  if (memcmp(addr, ec2, 16) == 0) return true;                   /* AWS metadata fd00:ec2::254 */
  /* ::, ::1 and IPv4-compatible ::a.b.c.d (reserved4 covers 0.0.0.0 and 0.0.0.1), IPv4-mapped
   * ::ffff:a.b.c.d, SIIT and NAT64 forms: an IPv4 address in IPv6 clothing. */
  if (memcmp(addr, zero, 12) == 0 || memcmp(addr, v4_mapped, 12) == 0 || memcmp(addr, translated, 12) == 0 ||
      memcmp(addr, nat64, 12) == 0)
    return reserved4(addr + 12);
  return false;
}
