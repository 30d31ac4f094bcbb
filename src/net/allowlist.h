/* allowlist.h — the egress allowlist: parsing profile entries, normalising
 * names, and the decisions the proxy takes. Pure code (no I/O), fuzzable. */
#ifndef NC_NET_ALLOWLIST_H
#define NC_NET_ALLOWLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

struct nc_profile;

#define NC_HOST_MAX 254 /* a normalised DNS name (253) + NUL */

enum nc_allow_kind {
  NC_ALLOW_NAME,     /* exact name: api.openai.com */
  NC_ALLOW_WILDCARD, /* *.example.com: any subdomain, not the apex */
  NC_ALLOW_CIDR,     /* an address (prefix = full length) or a network */
};

struct nc_allow_entry {
  enum nc_allow_kind kind;
  char name[NC_HOST_MAX]; /* NAME: the normalised name; WILDCARD: the suffix without "*." */
  int family;             /* CIDR: AF_INET or AF_INET6 */
  uint8_t addr[16];       /* CIDR: network address, host bits zero */
  unsigned prefix;        /* CIDR: 0..32 or 0..128 */
  uint16_t port;          /* 0: any port */
};

struct nc_static_host { /* one add_hosts entry */
  char name[NC_HOST_MAX];
  int family;
  uint8_t addr[16];
};

struct nc_allowlist {
  struct nc_allow_entry *v;
  size_t n;
  struct nc_static_host *hosts;
  size_t n_hosts;
};

/* Normalise a host name as the proxy compares it: lower case, one trailing
 * dot dropped, IDNA (UTS#46 non-transitional) to its ASCII form, every label
 * 1..63 of [a-z0-9-_] not starting or ending with '-', total <= 253.
 * IDNA runs only on non-ASCII input (ASCII names like r3---sn-x.example are
 * valid DNS names IDNA2008 would refuse); "xn--" labels are still checked.
 * A name whose last label is numeric ("127.1", "2130706433", "a.0x7f") is
 * refused: resolvers read those as addresses. So an IP literal is not a name:
 * test nc_ip_literal first. Returns 0, or -EINVAL with err naming the value
 * and what is wrong. */
int nc_host_normalize(const char *in, size_t len, char out[NC_HOST_MAX], nc_error *err);

/* Parse an IP literal: "1.2.3.4", "::1" or "[::1]". Returns AF_INET/AF_INET6, or 0. */
int nc_ip_literal(const char *s, size_t len, uint8_t addr[16]);

/* Parse one allowed_hosts entry: NAME, *.NAME, IPv4, [IPv6] or bare IPv6
 * without a port, IPv4/N, [IPv6]/N or IPv6/N, each with an optional :PORT
 * (1..65535) (a bare IPv6 has none: "2001:db8::1:443" is an address). A
 * network with host bits set is refused. Returns 0, or -EINVAL with err
 * saying what is wrong with `text` as "\"TEXT\" what" (the caller prefixes
 * where it came from). */
int nc_allow_entry_parse(const char *text, struct nc_allow_entry *out, nc_error *err);

/* The canonical text of an entry ("*.example.com:443", "10.0.0.0/8", "[::1]:80"). */
void nc_allow_entry_format(const struct nc_allow_entry *e, char *buf, size_t size);

/* Build from a validated profile's allowed_hosts and add_hosts. */
int nc_allowlist_build(struct nc_allowlist *al, const struct nc_profile *p, nc_error *err);
void nc_allowlist_free(struct nc_allowlist *al);

/* A normalised name requested on `port`: is it named by a NAME or WILDCARD entry? */
bool nc_allowlist_allows_name(const struct nc_allowlist *al, const char *name, uint16_t port);
/* An address on `port`: is it inside a CIDR entry? (::ffff:a.b.c.d also matches IPv4 entries.) */
bool nc_allowlist_allows_addr(const struct nc_allowlist *al, int family, const uint8_t addr[16], uint16_t port);
/* add_hosts lookup of a normalised name: fills up to max addresses, returns how many. */
size_t nc_allowlist_static(const struct nc_allowlist *al, const char *name, int *families, uint8_t (*addrs)[16],
                           size_t max);

/* Loopback, link-local, unspecified, cloud metadata (169.254.169.254,
 * fd00:ec2::254, 100.100.100.200) — also as IPv4-mapped/compatible IPv6,
 * SIIT ::ffff:0:a.b.c.d and NAT64 64:ff9b::a.b.c.d. Unknown families: true.
 * A name that resolves here is refused unless add_hosts or a CIDR entry says so. */
bool nc_addr_is_reserved(int family, const uint8_t addr[16]);

#endif
