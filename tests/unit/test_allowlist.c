/* test_allowlist.c — allowed_hosts entries, host name normalisation, allow decisions and reserved addresses,
 * including the ways a sandbox would try to name a host it was not given. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "config/profile.h"
#include "net/allowlist.h"

/* ---- helpers ---- */

static const char *canon(const char *text) {
  static char buf[512];
  struct nc_allow_entry e;
  nc_error err = {0};
  if (nc_allow_entry_parse(text, &e, &err) != 0) fail_msg("\"%s\" refused: %s", text, err.msg);
  nc_allow_entry_format(&e, buf, sizeof buf);
  return buf;
}

static void expect_refused(const char *text, const char *msg) {
  struct nc_allow_entry e;
  nc_error err = {0};
  print_message("entry %s\n", text);
  assert_int_equal(nc_allow_entry_parse(text, &e, &err), -EINVAL);
  assert_int_equal(err.code, EINVAL);
  assert_null(strchr(err.msg, '\n'));
  if (msg) assert_string_equal(err.msg, msg);
}

static const char *norm(const char *in) {
  static char out[NC_HOST_MAX];
  nc_error err = {0};
  if (nc_host_normalize(in, strlen(in), out, &err) != 0) fail_msg("\"%s\" refused: %s", in, err.msg);
  return out;
}

static int norm_fails(const char *in, size_t len) {
  char out[NC_HOST_MAX];
  nc_error err = {0};
  int r = nc_host_normalize(in, len, out, &err);
  if (r < 0) {
    assert_int_equal(r, -EINVAL);
    assert_non_null(strstr(err.msg, "is not a host name"));
    assert_null(strchr(err.msg, '\n'));
  }
  return r < 0;
}

static int family_of(const char *s, uint8_t a[16]) {
  memset(a, 0, 16);
  if (inet_pton(AF_INET, s, a) == 1) return AF_INET;
  if (inet_pton(AF_INET6, s, a) == 1) return AF_INET6;
  fail_msg("bad test address %s", s);
  return 0;
}

static bool reserved(const char *s) {
  uint8_t a[16];
  int f = family_of(s, a);
  return nc_addr_is_reserved(f, a);
}

/* An allowlist from allowed_hosts entries, through the profile as a user writes them. */
static nc_profile *profile_with(const char *const *hosts, const char *const *add) {
  nc_error err = {0};
  nc_profile *p = nc_profile_new();
  assert_non_null(p);
  for (size_t i = 0; hosts && hosts[i]; i++)
    if (nc_profile_set(p, "allowed_hosts", hosts[i], NULL, &err) != 0) fail_msg("%s: %s", hosts[i], err.msg);
  for (size_t i = 0; add && add[i]; i++)
    if (nc_profile_set(p, "add_hosts", add[i], NULL, &err) != 0) fail_msg("%s: %s", add[i], err.msg);
  return p;
}

static bool allows_addr(const struct nc_allowlist *al, const char *s, uint16_t port) {
  uint8_t a[16];
  int f = family_of(s, a);
  return nc_allowlist_allows_addr(al, f, a, port);
}

/* ---- normalisation ---- */

static void normalize_names(void **state) {
  (void)state;
  assert_string_equal(norm("api.openai.com"), "api.openai.com");
  assert_string_equal(norm("API.OpenAI.COM"), "api.openai.com");
  assert_string_equal(norm("example.com."), "example.com"); /* one trailing dot: the root */
  assert_string_equal(norm("bücher.example"), "xn--bcher-kva.example");
  assert_string_equal(norm("BÜCHER.example"), "xn--bcher-kva.example");
  assert_string_equal(norm("bücher.example."), "xn--bcher-kva.example");
  assert_string_equal(norm("xn--bcher-kva.example"), "xn--bcher-kva.example");
  assert_string_equal(norm("XN--BCHER-KVA.example"), "xn--bcher-kva.example");
  assert_string_equal(norm("faß.de"), "xn--fa-hia.de"); /* non-transitional: not fass.de */
  assert_string_equal(norm("_dmarc.example.com"), "_dmarc.example.com");
  assert_string_equal(norm("r3---sn-abc.googlevideo.com"), "r3---sn-abc.googlevideo.com"); /* real, not IDNA */
  assert_string_equal(norm("a--b.example"), "a--b.example");
  assert_string_equal(norm("localhost"), "localhost");
  assert_string_equal(norm("1password.com"), "1password.com");
  char l63[64], n253[254];
  memset(l63, 'a', 63);
  l63[63] = '\0';
  assert_string_equal(norm(l63), l63);
  memset(n253, 'a', 253); /* 63.63.63.61 */
  n253[63] = n253[127] = n253[191] = '.';
  n253[253] = '\0';
  assert_string_equal(norm(n253), n253);
}

static void normalize_refuses(void **state) {
  (void)state;
  const char *bad[] = {"", ".", "example..com", ".example.com", "example.com..", "-a.com", "a-.com", "a b.com",
                       "a/b.com", "a:b", "[::1]", "a\r\nb.com", "xn--zz.com", "xn--a.com", "*.example.com",
                       "a%2eb.com", "1.2.3.4", "127.1", "2130706433", "0x7f.1", "example.0x7f", "a.123",
                       "a@b.com", "\xff.com", "exam\xc3ple.com"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    print_message("name %s\n", bad[i]);
    assert_true(norm_fails(bad[i], strlen(bad[i])));
  }
  assert_true(norm_fails("a.com\0.evil.com", 15)); /* NUL truncation */
  char l64[65], n254[255], huge[2000];
  memset(l64, 'a', 64);
  l64[64] = '\0';
  assert_true(norm_fails(l64, 64));
  memset(n254, 'a', 254);
  n254[63] = n254[127] = n254[191] = '.';
  n254[254] = '\0';
  assert_true(norm_fails(n254, 254));
  memset(huge, 'a', sizeof huge);
  assert_true(norm_fails(huge, sizeof huge));
  nc_error err = {0};
  char out[NC_HOST_MAX];
  assert_int_equal(nc_host_normalize("a b", 3, out, &err), -EINVAL);
  assert_string_equal(err.msg, "\"a b\" is not a host name: it has a character other than letters, digits, '-', '_' "
                               "and '.'");
  assert_int_equal(nc_host_normalize("x\n", 2, out, &err), -EINVAL);
  assert_string_equal(err.msg, "\"x\\x0a\" is not a host name: it has a character other than letters, digits, "
                               "'-', '_' and '.'");
}

static void ip_literals(void **state) {
  (void)state;
  uint8_t a[16];
  assert_int_equal(nc_ip_literal("1.2.3.4", 7, a), AF_INET);
  assert_memory_equal(a, ((uint8_t[]){1, 2, 3, 4}), 4);
  assert_int_equal(nc_ip_literal("::1", 3, a), AF_INET6);
  assert_int_equal(a[15], 1);
  assert_int_equal(nc_ip_literal("[::1]", 5, a), AF_INET6);
  assert_int_equal(nc_ip_literal("[fe80::1%25eth0]", 16, a), 0); /* no zone ids */
  assert_int_equal(nc_ip_literal("[1.2.3.4]", 9, a), 0);
  assert_int_equal(nc_ip_literal("127.1", 5, a), 0);                /* inet_aton shorthands are not literals */
  assert_int_equal(nc_ip_literal("0177.0.0.1", 10, a), 0);          /* octal */
  assert_int_equal(nc_ip_literal("2130706433", 10, a), 0);
  assert_int_equal(nc_ip_literal("1.2.3.4 ", 8, a), 0);
  assert_int_equal(nc_ip_literal("1.2.3.4\0", 8, a), 0);
  assert_int_equal(nc_ip_literal("1.2.3.4", 5, a), 0); /* "1.2.3" */
  assert_int_equal(nc_ip_literal("", 0, a), 0);
  assert_int_equal(nc_ip_literal("[]", 2, a), 0);
  assert_int_equal(nc_ip_literal("::ffff:127.0.0.1", 16, a), AF_INET6);
}

/* ---- entries ---- */

static void entries_canonical(void **state) {
  (void)state;
  assert_string_equal(canon("api.openai.com"), "api.openai.com");
  assert_string_equal(canon("API.OpenAI.com:443"), "api.openai.com:443");
  assert_string_equal(canon("example.com.:8080"), "example.com:8080");
  assert_string_equal(canon("*.Example.COM"), "*.example.com");
  assert_string_equal(canon("*.bücher.example:443"), "*.xn--bcher-kva.example:443");
  assert_string_equal(canon("bücher.example"), "xn--bcher-kva.example");
  assert_string_equal(canon("10.1.2.3"), "10.1.2.3");
  assert_string_equal(canon("10.1.2.3:65535"), "10.1.2.3:65535");
  assert_string_equal(canon("10.1.2.3/32"), "10.1.2.3");
  assert_string_equal(canon("10.0.0.0/8"), "10.0.0.0/8");
  assert_string_equal(canon("10.0.0.0/8:443"), "10.0.0.0/8:443");
  assert_string_equal(canon("0.0.0.0/0"), "0.0.0.0/0");
  assert_string_equal(canon("::1"), "[::1]");
  assert_string_equal(canon("[::1]"), "[::1]");
  assert_string_equal(canon("[::1]:443"), "[::1]:443");
  assert_string_equal(canon("[2001:DB8:0:0::1]:1"), "[2001:db8::1]:1");
  assert_string_equal(canon("2001:db8::1"), "[2001:db8::1]");
  assert_string_equal(canon("fd00::/8"), "[fd00::]/8");
  assert_string_equal(canon("[fd00::]/8"), "[fd00::]/8");
  assert_string_equal(canon("[fd00::]/8:443"), "[fd00::]/8:443");
  assert_string_equal(canon("fd00::/8:443"), "[fd00::]/8:443");
  assert_string_equal(canon("::/0"), "[::]/0");
  assert_string_equal(canon("[2001:db8::1]/128"), "[2001:db8::1]");
  assert_string_equal(canon("::ffff:1.2.3.4"), "[::ffff:1.2.3.4]");
  /* a bare IPv6 never carries a port: the last group is part of the address */
  assert_string_equal(canon("2001:db8::1:443"), "[2001:db8::1:443]");
  /* every canonical form parses back to itself */
  const char *round[] = {"*.example.com:443", "10.0.0.0/8:443", "[fd00::]/8:443", "[::1]", "a.b:1"};
  for (size_t i = 0; i < sizeof round / sizeof round[0]; i++) assert_string_equal(canon(round[i]), round[i]);
}

static void entry_fields(void **state) {
  (void)state;
  struct nc_allow_entry e;
  nc_error err = {0};
  assert_int_equal(nc_allow_entry_parse("*.example.com:443", &e, &err), 0);
  assert_int_equal(e.kind, NC_ALLOW_WILDCARD);
  assert_string_equal(e.name, "example.com");
  assert_int_equal(e.port, 443);
  assert_int_equal(nc_allow_entry_parse("example.com", &e, &err), 0);
  assert_int_equal(e.kind, NC_ALLOW_NAME);
  assert_int_equal(e.port, 0); /* any port */
  assert_int_equal(nc_allow_entry_parse("192.168.0.0/16:22", &e, &err), 0);
  assert_int_equal(e.kind, NC_ALLOW_CIDR);
  assert_int_equal(e.family, AF_INET);
  assert_int_equal(e.prefix, 16);
  assert_int_equal(e.port, 22);
  assert_memory_equal(e.addr, ((uint8_t[]){192, 168, 0, 0}), 4);
  assert_int_equal(nc_allow_entry_parse("[fd00::]/8", &e, &err), 0);
  assert_int_equal(e.family, AF_INET6);
  assert_int_equal(e.prefix, 8);
  assert_int_equal(e.addr[0], 0xfd);
}

static void entries_refused(void **state) {
  (void)state;
  expect_refused("10.0.0.1/8", "\"10.0.0.1/8\" has host bits set; did you mean 10.0.0.0/8?");
  expect_refused("10.0.0.1/8:443", "\"10.0.0.1/8:443\" has host bits set; did you mean 10.0.0.0/8:443?");
  expect_refused("[fd00::1]/8", "\"[fd00::1]/8\" has host bits set; did you mean [fd00::]/8?");
  expect_refused("192.168.1.0/23", "\"192.168.1.0/23\" has host bits set; did you mean 192.168.0.0/23?");
  expect_refused("10.0.0.0/33", "\"10.0.0.0/33\" is not HOST[:PORT]: the prefix length is not a number from 0 to 32");
  expect_refused("[::]/129", "\"[::]/129\" is not HOST[:PORT]: the prefix length is not a number from 0 to 128");
  expect_refused("a.com:0", "\"a.com:0\" is not HOST[:PORT]: the port is not a number from 1 to 65535");
  expect_refused("a.com:65536", "\"a.com:65536\" is not HOST[:PORT]: the port is not a number from 1 to 65535");
  expect_refused("a b", "\"a b\" is not HOST[:PORT]: the name has a character other than letters, digits, '-', '_' "
                        "and '.'");
  expect_refused("", NULL);
  expect_refused("a.com:", NULL);
  expect_refused("a.com:+80", NULL);
  expect_refused("a.com:080000", NULL);
  expect_refused("a.com:http", NULL);
  expect_refused("a.com:80:80", NULL);
  expect_refused("*", NULL);
  expect_refused("*.", NULL);
  expect_refused("**.example.com", NULL);
  expect_refused("*example.com", NULL);
  expect_refused("a.*.example.com", NULL);
  expect_refused("*.*.example.com", NULL);
  expect_refused("example.*", NULL);
  expect_refused("[::1", NULL);
  expect_refused("[::1]x", NULL);
  expect_refused("[::1]:", NULL);
  expect_refused("[::1]:0", NULL);
  expect_refused("[1.2.3.4]", NULL);
  expect_refused("[example.com]:443", NULL);
  expect_refused("[]", NULL);
  expect_refused("::1:0:0:0:0:0:0:443", NULL); /* nine groups */
  expect_refused("1.2.3.4/", NULL);
  expect_refused("1.2.3.4/08", NULL);
  expect_refused("1.2.3.4/-1", NULL);
  expect_refused("example.com/8", NULL);
  expect_refused("http://example.com", NULL);
  expect_refused("user@example.com", NULL);
  expect_refused("127.1", NULL);      /* would resolve to 127.0.0.1 */
  expect_refused("2130706433", NULL); /* ditto */
  expect_refused("example.com\n", NULL);
  expect_refused("exa\tmple.com", NULL);
  expect_refused("xn--zz.example", NULL);
  char big[1200];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  expect_refused(big, NULL);
  /* the message quotes an untrusted value: no line forging */
  struct nc_allow_entry e;
  nc_error err = {0};
  assert_int_equal(nc_allow_entry_parse("a.com\n2024 audit: ok", &e, &err), -EINVAL);
  assert_null(strchr(err.msg, '\n'));
  assert_non_null(strstr(err.msg, "\"a.com\\x0a2024 audit: ok\""));
}

/* ---- profile integration ---- */

static void profile_stores_canonical(void **state) {
  (void)state;
  /* spellings of the same entry are stored once, canonically */
  const char *hosts[] = {"*.EXAMPLE.com", "*.example.com.", "Bücher.example", "xn--bcher-kva.example", "::1",
                         "[::1]", "10.0.0.0/8", "fd00::/8", "[fd00::]/8", "[0:0::1]", "10.0.0.0/8:443", NULL};
  nc_profile *p = profile_with(hosts, NULL);
  assert_int_equal(p->allowed_hosts.n, 6);
  assert_string_equal(p->allowed_hosts.v[0], "*.example.com");
  assert_string_equal(p->allowed_hosts.v[1], "xn--bcher-kva.example");
  assert_string_equal(p->allowed_hosts.v[2], "[::1]");
  assert_string_equal(p->allowed_hosts.v[3], "10.0.0.0/8");
  assert_string_equal(p->allowed_hosts.v[4], "[fd00::]/8");
  assert_string_equal(p->allowed_hosts.v[5], "10.0.0.0/8:443");
  nc_profile_free(p);
}

static void profile_errors(void **state) {
  (void)state;
  nc_error err = {0};
  nc_profile *p = nc_profile_new();
  assert_int_equal(nc_profile_set(p, "allowed_hosts", "10.0.0.1/8", NULL, &err), -EINVAL);
  assert_string_equal(err.msg, "allowed_hosts: \"10.0.0.1/8\" has host bits set; did you mean 10.0.0.0/8?");
  assert_int_equal(nc_profile_set(p, "allowed_hosts", "a.com:99999", "--allow-host", &err), -EINVAL);
  assert_string_equal(err.msg,
                      "--allow-host: \"a.com:99999\" is not HOST[:PORT]: the port is not a number from 1 to 65535");
  assert_int_equal(p->allowed_hosts.n, 0);
  nc_profile_free(p);
}

static void build_and_match(void **state) {
  (void)state;
  const char *hosts[] = {"api.openai.com:443", "*.example.com", "example.org", "10.0.0.0/8:5432", "[fd00::]/8",
                         "192.168.1.7", NULL};
  const char *add[] = {"db.internal:10.1.2.3", "v6.internal:[2001:db8::5]", NULL};
  nc_profile *p = profile_with(hosts, add);
  struct nc_allowlist al;
  nc_error err = {0};
  assert_int_equal(nc_allowlist_build(&al, p, &err), 0);
  assert_int_equal(al.n, 6);
  assert_int_equal(al.n_hosts, 2);

  /* exact names, port narrowing */
  assert_true(nc_allowlist_allows_name(&al, "api.openai.com", 443));
  assert_false(nc_allowlist_allows_name(&al, "api.openai.com", 80));
  assert_false(nc_allowlist_allows_name(&al, "x.api.openai.com", 443));
  assert_false(nc_allowlist_allows_name(&al, "openai.com", 443));
  assert_true(nc_allowlist_allows_name(&al, "example.org", 1));
  assert_true(nc_allowlist_allows_name(&al, "example.org", 65535));
  assert_false(nc_allowlist_allows_name(&al, "www.example.org", 443));
  /* wildcards: subdomains only, not the apex, not a lookalike suffix */
  assert_true(nc_allowlist_allows_name(&al, "a.example.com", 443));
  assert_true(nc_allowlist_allows_name(&al, "a.b.example.com", 8080));
  assert_false(nc_allowlist_allows_name(&al, "example.com", 443));
  assert_false(nc_allowlist_allows_name(&al, "badexample.com", 443));
  assert_false(nc_allowlist_allows_name(&al, ".example.com", 443));
  assert_false(nc_allowlist_allows_name(&al, "example.com.evil.net", 443));
  assert_false(nc_allowlist_allows_name(&al, "", 443));
  assert_false(nc_allowlist_allows_name(&al, NULL, 443));
  /* names are compared normalised: the caller normalises first */
  char n[NC_HOST_MAX];
  assert_int_equal(nc_host_normalize("A.Example.COM.", 14, n, &err), 0);
  assert_true(nc_allowlist_allows_name(&al, n, 443));

  /* addresses */
  assert_true(allows_addr(&al, "10.200.3.4", 5432));
  assert_false(allows_addr(&al, "10.200.3.4", 5433));
  assert_false(allows_addr(&al, "11.0.0.1", 5432));
  assert_true(allows_addr(&al, "::ffff:10.1.1.1", 5432)); /* the same destination */
  assert_true(allows_addr(&al, "fdff::1", 1));
  assert_false(allows_addr(&al, "fe00::1", 1));
  assert_true(allows_addr(&al, "192.168.1.7", 22));
  assert_false(allows_addr(&al, "192.168.1.8", 22));
  assert_false(allows_addr(&al, "::ffff:192.168.1.8", 22));
  assert_false(nc_allowlist_allows_addr(&al, AF_UNIX, (uint8_t[16]){10}, 5432));

  /* add_hosts */
  int fam[4];
  uint8_t addrs[4][16];
  assert_int_equal(nc_allowlist_static(&al, "db.internal", fam, addrs, 4), 1);
  assert_int_equal(fam[0], AF_INET);
  assert_memory_equal(addrs[0], ((uint8_t[]){10, 1, 2, 3}), 4);
  assert_int_equal(nc_allowlist_static(&al, "v6.internal", fam, addrs, 4), 1);
  assert_int_equal(fam[0], AF_INET6);
  assert_int_equal(addrs[0][15], 5);
  assert_int_equal(nc_allowlist_static(&al, "db.internal", fam, addrs, 0), 0);
  assert_int_equal(nc_allowlist_static(&al, "other.internal", fam, addrs, 4), 0);
  nc_allowlist_free(&al);
  assert_null(al.v);
  assert_int_equal(al.n, 0);
  nc_allowlist_free(&al); /* twice is harmless */
  nc_profile_free(p);

  /* the empty list allows nothing */
  p = profile_with(NULL, NULL);
  assert_int_equal(nc_allowlist_build(&al, p, &err), 0);
  assert_false(nc_allowlist_allows_name(&al, "example.com", 443));
  assert_false(allows_addr(&al, "1.1.1.1", 443));
  nc_allowlist_free(&al);
  nc_profile_free(p);
}

static void cidr_edges(void **state) {
  (void)state;
  const char *hosts[] = {"0.0.0.0/0:1", "203.0.113.9/32:2", "::/0:3", "[2001:db8::1]/128:4", "198.51.100.128/25:5",
                         "[2001:db8:ff00::]/40:6", NULL};
  nc_profile *p = profile_with(hosts, NULL);
  struct nc_allowlist al;
  nc_error err = {0};
  assert_int_equal(nc_allowlist_build(&al, p, &err), 0);
  assert_true(allows_addr(&al, "0.0.0.0", 1)); /* /0 is everything (reserved checks are separate) */
  assert_true(allows_addr(&al, "255.255.255.255", 1));
  assert_false(allows_addr(&al, "255.255.255.255", 2));
  assert_true(allows_addr(&al, "203.0.113.9", 2));
  assert_false(allows_addr(&al, "203.0.113.8", 2));
  assert_false(allows_addr(&al, "203.0.113.10", 2));
  assert_true(allows_addr(&al, "::", 3));
  assert_true(allows_addr(&al, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 3));
  assert_false(allows_addr(&al, "1.2.3.4", 3)); /* ::/0 is IPv6 only */
  assert_true(allows_addr(&al, "2001:db8::1", 4));
  assert_false(allows_addr(&al, "2001:db8::", 4));
  assert_false(allows_addr(&al, "2001:db8::2", 4));
  assert_true(allows_addr(&al, "198.51.100.128", 5));
  assert_true(allows_addr(&al, "198.51.100.255", 5));
  assert_false(allows_addr(&al, "198.51.100.127", 5));
  assert_true(allows_addr(&al, "2001:db8:ff00::", 6));
  assert_true(allows_addr(&al, "2001:db8:ffff:ffff::1", 6));
  assert_false(allows_addr(&al, "2001:db8:fe00::1", 6));
  nc_allowlist_free(&al);
  nc_profile_free(p);
}

static void build_refuses_bad_profile(void **state) {
  (void)state;
  nc_error err = {0};
  struct nc_allowlist al;
  nc_profile *p = nc_profile_new();
  assert_int_equal(nc_strv_push(&p->allowed_hosts, "ok.example"), 0);
  assert_int_equal(nc_strv_push(&p->allowed_hosts, "10.0.0.1/8"), 0); /* not through nc_profile_set */
  assert_int_equal(nc_allowlist_build(&al, p, &err), -EINVAL);
  assert_string_equal(err.msg, "allowed_hosts: \"10.0.0.1/8\" has host bits set; did you mean 10.0.0.0/8?");
  assert_null(al.v);
  nc_strv_free(&p->allowed_hosts);
  assert_int_equal(nc_strv_push(&p->add_hosts, "bad-.name:1.2.3.4"), 0);
  assert_int_equal(nc_allowlist_build(&al, p, &err), -EINVAL);
  assert_non_null(strstr(err.msg, "add_hosts: \"bad-.name:1.2.3.4\""));
  nc_strv_free(&p->add_hosts);
  assert_int_equal(nc_strv_push(&p->add_hosts, "name:1.2.3"), 0);
  assert_int_equal(nc_allowlist_build(&al, p, &err), -EINVAL);
  nc_profile_free(p);
}

/* ---- reserved ---- */

static void reserved_addresses(void **state) {
  (void)state;
  const char *yes[] = {"127.0.0.1", "127.255.255.254", "0.0.0.0", "0.1.2.3", "169.254.169.254", "169.254.0.1",
                       "100.100.100.200", "::1", "::", "fe80::1", "febf:ffff::1", "fd00:ec2::254",
                       /* IPv4 in IPv6 clothing */
                       "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0", "::ffff:100.100.100.200",
                       "::127.0.0.1", "::169.254.169.254", "::ffff:0:127.0.0.1", "64:ff9b::169.254.169.254",
                       "64:ff9b::7f00:1"};
  const char *no[] = {"1.1.1.1", "10.0.0.1", "192.168.1.1", "100.100.100.201", "169.255.0.1", "126.255.255.255",
                      "128.0.0.1", "2001:db8::1", "fec0::1", "fd00:ec2::253", "fd00::254", "::ffff:8.8.8.8",
                      "::8.8.8.8", "2606:4700::1111", "64:ff9b::8.8.8.8"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    print_message("reserved %s\n", yes[i]);
    assert_true(reserved(yes[i]));
  }
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
    print_message("not reserved %s\n", no[i]);
    assert_false(reserved(no[i]));
  }
  assert_true(nc_addr_is_reserved(AF_UNIX, (uint8_t[16]){8, 8, 8, 8})); /* unknown family: fail closed */
  assert_true(nc_addr_is_reserved(AF_INET, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(normalize_names),   cmocka_unit_test(normalize_refuses),
      cmocka_unit_test(ip_literals),       cmocka_unit_test(entries_canonical),
      cmocka_unit_test(entry_fields),      cmocka_unit_test(entries_refused),
      cmocka_unit_test(profile_stores_canonical), cmocka_unit_test(profile_errors),
      cmocka_unit_test(build_and_match),   cmocka_unit_test(cidr_edges),
      cmocka_unit_test(build_refuses_bad_profile), cmocka_unit_test(reserved_addresses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
