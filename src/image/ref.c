/* ref.c — image references as Docker reads them (registry/repo:tag@digest),
 * the registry's API host, loopback checks and digest syntax. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "image/image.h"

#define Q(buf, s) nc_quote((buf), sizeof(buf), (s))

static bool lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
static bool alnum_lower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool nc_digest_valid(const char *s) {
  if (!s || strncmp(s, "sha256:", 7) != 0) return false;
  for (int i = 0; i < 64; i++)
    if (!lower_hex(s[7 + i])) return false;
  return s[71] == '\0';
}

/* A path component: [a-z0-9]+ separated by '.', '_', '__' or runs of '-'. */
static bool component_ok(const char *s, size_t n) {
  if (n == 0 || !alnum_lower(s[0]) || !alnum_lower(s[n - 1])) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (alnum_lower(c)) continue;
    if (c == '.' || c == '_') {
      /* one '.', one '_' or "__", always between alnums */
      if (c == '_' && i + 1 < n && s[i + 1] == '_') i++;
      if (!alnum_lower(s[i + 1])) return false;
      continue;
    }
    if (c == '-') {
      while (i + 1 < n && s[i + 1] == '-') i++;
      if (!alnum_lower(s[i + 1])) return false;
      continue;
    }
    return false;
  }
  return true;
}

/* host[:port]: DNS labels or an IPv4 address, or [v6]; port 1..65535. */
static bool registry_ok(const char *s, size_t n) {
  if (n == 0 || n > 255) return false;
  size_t i = 0;
  if (s[0] == '[') {
    while (i < n && s[i] != ']') {
      char c = s[i];
      if (i > 0 && !lower_hex(c) && !(c >= 'A' && c <= 'F') && c != ':' && c != '.') return false;
      i++;
    }
    if (i == n || i < 3) return false;
    i++;
  } else {
    size_t label = 0;
    for (; i < n && s[i] != ':'; i++) {
      char c = s[i];
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (c == '.') {
        if (label == 0) return false;
        label = 0;
        continue;
      }
      if (!ok || ++label > 63) return false;
    }
    if (label == 0) return false;
  }
  if (i == n) return true;
  if (s[i] != ':' || i + 1 == n || n - i - 1 > 5) return false;
  unsigned port = 0;
  for (i++; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    port = port * 10 + (unsigned)(s[i] - '0');
  }
  return port >= 1 && port <= 65535;
}

static bool tag_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 128) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    bool w = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!w && (i == 0 || (c != '.' && c != '-'))) return false;
  }
  return true;
}

int nc_image_ref_parse(const char *s, struct nc_image_ref *r, nc_error *err) {
  char q[300], buf[600];
  memset(r, 0, sizeof *r);
  if (!s || !*s) return nc_error_set(err, EINVAL, "an empty image reference");
  if (strlen(s) >= sizeof buf) return nc_error_set(err, ENAMETOOLONG, "image reference `%.64s...`: too long", s);
  strcpy(buf, s);
  char *at = strchr(buf, '@');
  if (at) {
    *at = '\0';
    if (!nc_digest_valid(at + 1))
      return nc_error_set(err, EINVAL, "image reference `%s`: the digest is not sha256:<64 lower-case hex digits>",
                          Q(q, s));
    strcpy(r->digest, at + 1);
  }
  char *name = buf;
  /* the tag is after the last ':' that follows the last '/' */
  char *slash = strrchr(name, '/');
  char *colon = strrchr(slash ? slash : name, ':');
  if (colon) {
    *colon = '\0';
    if (!tag_ok(colon + 1))
      return nc_error_set(err, EINVAL, "image reference `%s`: `%s` is not a valid tag", Q(q, s), colon + 1);
    strcpy(r->tag, colon + 1);
  }
  /* registry: the first component, when it looks like a host */
  char *first_slash = strchr(name, '/');
  const char *repo = name;
  if (first_slash) {
    size_t hn = (size_t)(first_slash - name);
    bool host =
        memchr(name, '.', hn) || memchr(name, ':', hn) || (hn == 9 && !strncmp(name, "localhost", 9)) || name[0] == '[';
    for (size_t i = 0; !host && i < hn; i++)
      if (name[i] >= 'A' && name[i] <= 'Z') host = true;
    if (host) {
      if (!registry_ok(name, hn))
        return nc_error_set(err, EINVAL, "image reference `%s`: `%.*s` is not a registry host[:port]", Q(q, s), (int)hn,
                            name);
      memcpy(r->registry, name, hn);
      r->registry[hn] = '\0';
      repo = first_slash + 1;
    }
  }
  if (!r->registry[0]) strcpy(r->registry, "docker.io");
  if (!strcmp(r->registry, "index.docker.io") || !strcmp(r->registry, "registry-1.docker.io"))
    strcpy(r->registry, "docker.io");
  /* repository: lower-case components */
  size_t rn = strlen(repo);
  if (rn == 0) return nc_error_set(err, EINVAL, "image reference `%s`: no repository name", Q(q, s));
  for (const char *c = repo; *c;) {
    const char *e = strchr(c, '/');
    size_t n = e ? (size_t)(e - c) : strlen(c);
    if (!component_ok(c, n)) {
      for (size_t i = 0; i < n; i++)
        if (c[i] >= 'A' && c[i] <= 'Z')
          return nc_error_set(err, EINVAL, "image reference `%s`: the repository name must be lower-case", Q(q, s));
      return nc_error_set(err, EINVAL, "image reference `%s`: `%.*s` is not a valid repository component", Q(q, s),
                          (int)n, c);
    }
    c += n + (e ? 1 : 0);
    if (e && !*c) return nc_error_set(err, EINVAL, "image reference `%s`: a trailing '/'", Q(q, s));
  }
  bool hub = !strcmp(r->registry, "docker.io");
  if (hub && !strchr(repo, '/')) {
    if (rn + 8 >= sizeof r->repo) return nc_error_set(err, ENAMETOOLONG, "image reference `%s`: too long", Q(q, s));
    snprintf(r->repo, sizeof r->repo, "library/%s", repo);
  } else {
    if (rn >= sizeof r->repo) return nc_error_set(err, ENAMETOOLONG, "image reference `%s`: too long", Q(q, s));
    strcpy(r->repo, repo);
  }
  if (strlen(r->registry) + 1 + strlen(r->repo) > 255)
    return nc_error_set(err, ENAMETOOLONG, "image reference `%s`: the name is longer than 255 bytes", Q(q, s));
  if (!r->tag[0] && !r->digest[0]) strcpy(r->tag, "latest");
  return 0;
}

void nc_image_ref_name(const struct nc_image_ref *r, char *out, size_t n) {
  snprintf(out, n, "%s/%s", r->registry, r->repo);
}

void nc_image_ref_format(const struct nc_image_ref *r, char *out, size_t n) {
  snprintf(out, n, "%s/%s%s%s%s%s", r->registry, r->repo, r->tag[0] ? ":" : "", r->tag, r->digest[0] ? "@" : "",
           r->digest);
}

const char *nc_image_ref_api_host(const struct nc_image_ref *r) {
  return strcmp(r->registry, "docker.io") ? r->registry : "registry-1.docker.io";
}

bool nc_image_host_is_loopback(const char *host) {
  char h[256];
  size_t n = strlen(host);
  if (n >= sizeof h) return false;
  strcpy(h, host);
  if (h[0] == '[') {
    char *e = strchr(h, ']');
    if (!e) return false;
    *e = '\0';
    return !strcmp(h + 1, "::1");
  }
  char *colon = strchr(h, ':');
  if (colon) *colon = '\0';
  if (!strcmp(h, "localhost")) return true;
  unsigned a, b, c, d;
  char tail;
  if (sscanf(h, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4) return a == 127 && b < 256 && c < 256 && d < 256;
  return false;
}
