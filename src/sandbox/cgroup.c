/* cgroup.c — the sandbox cgroup: mode detection, placement helpers, attach,
 * kill loop, destroy and gc shared by the v1 and v2 backends (ops dispatch). */
#include "sandbox/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>

#include "core/error.h"
#include "core/util.h"
#include "sandbox/cgroup-internal.h"

#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define NC_CG_DEFAULT_ROOT "/sys/fs/cgroup"
#define NC_CG_EMPTY_TIMEOUT_MS 2000u
#define NC_CG_GC_MIN_AGE_S 5

const char *const nc_cg_ctl_names[NC_CG_NCTL] = {"memory", "cpu", "cpuacct", "pids", "freezer"};

/* ---- small helpers ------------------------------------------------------ */

int nc_cg_path(char *out, size_t cap, nc_error *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out, cap, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= cap) {
    char q[128];
    return nc_error_set(err, ENAMETOOLONG, "cgroup: path too long: `%s`", nc_quote(q, sizeof q, out));
  }
  return 0;
}

int nc_cg_join(char *out, size_t cap, const char *base, const char *rel, nc_error *err) {
  char q[256];
  if (rel[0] != '/')
    return nc_error_set(err, EINVAL, "cgroup: caller's cgroup path `%s` is not absolute", nc_quote(q, sizeof q, rel));
  /* A cgroup outside our cgroup namespace reads as "/../..": we cannot place
   * anything relative to it. */
  for (const char *p = rel; (p = strstr(p, "/..")) != NULL; p += 3)
    if (p[3] == '/' || p[3] == '\0')
      return nc_error_set(err, EINVAL,
                          "cgroup: caller's cgroup `%s` is outside this cgroup namespace",
                          nc_quote(q, sizeof q, rel));
  if (strcmp(rel, "/") == 0) rel = "";
  return nc_cg_path(out, cap, err, "%s%s", base, rel);
}

int nc_cg_self_path(const struct nc_cg_ctx *ctx, const char *ctl, char *out, size_t cap, nc_error *err) {
  const char *line = ctx->self;
  while (*line) {
    const char *eol = strchr(line, '\n');
    size_t len = eol ? (size_t)(eol - line) : strlen(line);
    const char *c1 = memchr(line, ':', len);
    const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
    if (c2) {
      const char *list = c1 + 1;
      size_t llen = (size_t)(c2 - list);
      bool match = false;
      if (!ctl) {
        match = (c1 - line == 1 && line[0] == '0' && llen == 0);
      } else {
        size_t cl = strlen(ctl);
        for (const char *t = list; t < c2;) {
          const char *comma = memchr(t, ',', (size_t)(c2 - t));
          size_t tl = comma ? (size_t)(comma - t) : (size_t)(c2 - t);
          if (tl == cl && memcmp(t, ctl, cl) == 0) match = true;
          t += tl + 1;
        }
      }
      if (match) {
        size_t plen = len - (size_t)(c2 + 1 - line);
        if (plen + 1 > cap) return nc_error_set(err, ENAMETOOLONG, "cgroup: caller's cgroup path too long");
        memcpy(out, c2 + 1, plen);
        out[plen] = '\0';
        return 0;
      }
    }
    if (!eol) break;
    line = eol + 1;
  }
  return nc_error_set(err, ENOENT, "cgroup: no %s%s%s line in /proc/self/cgroup", ctl ? "\"" : "",
                      ctl ? ctl : "v2 (0::)", ctl ? "\"" : "");
}

int nc_cg_write(const struct nc_cg_ctx *ctx, const char *dir, const char *file, const char *val) {
  char p[PATH_MAX];
  int n = snprintf(p, sizeof p, "%s/%s", dir, file);
  if (n < 0 || (size_t)n >= sizeof p) return -ENAMETOOLONG;
  if (!ctx->fake) return nc_write_file_at(AT_FDCWD, p, val);
  /* Test mode: only files that "the kernel" created (mirrored at mkdir) exist;
   * truncate so the file holds the last value written, as a reader expects. */
  nc_autoclose int fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return -errno;
  return nc_write_all(fd, val, strlen(val));
}

ssize_t nc_cg_read(const char *dir, const char *file, char *buf, size_t cap) {
  char p[PATH_MAX];
  int n = snprintf(p, sizeof p, "%s/%s", dir, file);
  if (n < 0 || (size_t)n >= sizeof p) return -ENAMETOOLONG;
  return nc_read_file_at(AT_FDCWD, p, buf, cap);
}

bool nc_cg_exists(const char *dir, const char *file) {
  char p[PATH_MAX];
  int n = snprintf(p, sizeof p, "%s/%s", dir, file);
  if (n < 0 || (size_t)n >= sizeof p) return false;
  return faccessat(AT_FDCWD, p, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static int parse_u64(const char *s, uint64_t *ret) {
  while (*s == ' ' || *s == '\t') s++;
  if (*s < '0' || *s > '9') return -EINVAL;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno) return -errno;
  *ret = v;
  return 0;
}

int nc_cg_read_u64(const char *dir, const char *file, uint64_t *ret) {
  char buf[64];
  ssize_t n = nc_cg_read(dir, file, buf, sizeof buf);
  if (n < 0) return (int)n;
  return parse_u64(buf, ret);
}

int nc_cg_read_key(const char *dir, const char *file, const char *key, uint64_t *ret) {
  char buf[4096];
  ssize_t n = nc_cg_read(dir, file, buf, sizeof buf);
  if (n < 0) return (int)n;
  size_t kl = strlen(key);
  for (char *line = buf; line && *line;) {
    char *eol = strchr(line, '\n');
    if (eol) *eol = '\0';
    if (strncmp(line, key, kl) == 0 && line[kl] == ' ') return parse_u64(line + kl + 1, ret);
    line = eol ? eol + 1 : NULL;
  }
  return -ENOENT;
}

bool nc_cg_has_word(const char *list, const char *word) {
  size_t wl = strlen(word);
  for (const char *p = list; *p;) {
    while (*p == ' ' || *p == '\n' || *p == '\t') p++;
    size_t l = strcspn(p, " \n\t");
    if (l == wl && memcmp(p, word, wl) == 0) return true;
    p += l;
  }
  return false;
}

void nc_cg_sleep_ms(unsigned ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

bool nc_cg_host_has_swap(void) {
  char buf[4096];
  if (nc_read_file_at(AT_FDCWD, "/proc/swaps", buf, sizeof buf) < 0) return false;
  const char *nl = strchr(buf, '\n'); /* skip the header line */
  return nl && nl[1] != '\0';
}

void nc_cg_appendf(char *buf, size_t cap, size_t *len, bool *trunc, const char *fmt, ...) {
  if (*len >= cap) {
    *trunc = true;
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= cap - *len) {
    *trunc = true;
    *len = cap;
    return;
  }
  *len += (size_t)n;
}

/* Test mode: copy the parent's regular files into dir, as the kernel
 * populates a new cgroup with its control files. */
static int fake_populate(const char *dir, nc_error *err) {
  char parent[PATH_MAX];
  if (nc_cg_path(parent, sizeof parent, err, "%s", dir) < 0) return -ENAMETOOLONG;
  char *slash = strrchr(parent, '/');
  if (!slash || slash == parent) return nc_error_set(err, EINVAL, "cgroup: `%s` has no parent", dir);
  *slash = '\0';
  DIR *d = opendir(parent);
  if (!d) return nc_error_sys(err, errno, "cgroup: opendir `%s`", parent);
  int r = 0;
  struct dirent *e;
  while (r == 0 && (e = readdir(d)) != NULL) {
    if (e->d_type != DT_REG) continue;
    char buf[4096];
    ssize_t n = nc_cg_read(parent, e->d_name, buf, sizeof buf);
    if (n < 0) n = 0, buf[0] = '\0';
    char p[PATH_MAX];
    if ((r = nc_cg_path(p, sizeof p, err, "%s/%s", dir, e->d_name)) < 0) break;
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
      r = nc_error_sys(err, errno, "cgroup: creating `%s`", p);
      break;
    }
    r = nc_write_all(fd, buf, (size_t)n);
    close(fd);
    if (r < 0) r = nc_error_sys(err, -r, "cgroup: writing `%s`", p);
  }
  closedir(d);
  return r;
}

int nc_cg_mkdir(const struct nc_cg_ctx *ctx, const char *dir, nc_error *err) {
  if (mkdir(dir, 0755) < 0) return nc_error_sys(err, errno, "cgroup: mkdir `%s`", dir);
  if (ctx->fake) {
    int r = fake_populate(dir, err);
    if (r < 0) {
      nc_cg_rmdir(ctx, dir);
      return r;
    }
  }
  return 0;
}

int nc_cg_rmdir(const struct nc_cg_ctx *ctx, const char *dir) {
  if (ctx->fake) {
    /* Plain directories: remove the fake control files first. (On a real
     * cgroupfs unlink is refused anyway; we never get here for one.) */
    DIR *d = opendir(dir);
    if (d) {
      struct dirent *e;
      while ((e = readdir(d)) != NULL)
        if (e->d_type == DT_REG) unlinkat(dirfd(d), e->d_name, 0);
      closedir(d);
    }
  }
  return rmdir(dir) < 0 ? -errno : 0;
}

int nc_cg_add_dir(struct nc_cgroup *cg, const char *dir) {
  if (cg->ndirs >= NC_CG_NCTL) return -ENOSPC;
  size_t i = cg->ndirs++;
  snprintf(cg->dirs[i], sizeof cg->dirs[i], "%s", dir); /* same size: cannot truncate */
  return (int)i;
}

/* ---- killing ------------------------------------------------------------ */

int nc_cg_kill_listed(struct nc_cgroup *cg, bool *ret_empty, nc_error *err) {
  enum { CAP = 64 * 1024 };
  nc_autofree char *buf = malloc(CAP);
  if (!buf) return nc_error_set(err, ENOMEM, "cgroup: out of memory");
  bool empty = true, found_self = false;
  pid_t self = getpid();
  for (size_t i = 0; i < cg->ndirs; i++) {
    ssize_t n = nc_cg_read(cg->dirs[i], "cgroup.procs", buf, CAP);
    if (n == -ENOENT && access(cg->dirs[i], F_OK) < 0) continue; /* already removed */
    if (n < 0) return nc_error_sys(err, (int)-n, "cgroup: reading `%s/cgroup.procs`", cg->dirs[i]);
    for (char *p = buf; *p;) {
      char *end;
      long v = strtol(p, &end, 10);
      if (end == p) break;
      p = end;
      while (*p == '\n' || *p == ' ') p++;
      if (v <= 0) continue;
      empty = false;
      if ((pid_t)v == self) {
        /* Never kill ourselves; the cgroup cannot become empty either. */
        found_self = true;
        continue;
      }
      if (kill((pid_t)v, SIGKILL) < 0 && errno != ESRCH)
        return nc_error_sys(err, errno, "cgroup: kill %ld in `%s`", v, cg->dirs[i]);
    }
  }
  *ret_empty = empty;
  if (found_self)
    return nc_error_set(err, EBUSY, "cgroup: the calling process (pid %d) is in the sandbox cgroup `%s`",
                        (int)self, cg->dirs[0]);
  return 0;
}

int nc_cg_kill_until_empty(struct nc_cgroup *cg, unsigned timeout_ms, nc_error *err) {
  uint64_t deadline = nc_now_ns() + (uint64_t)timeout_ms * 1000000ull;
  for (;;) {
    bool empty;
    int r = nc_cg_kill_listed(cg, &empty, err);
    if (r < 0) return r;
    if (empty) return 0;
    if (nc_now_ns() > deadline)
      return nc_error_set(err, EBUSY, "cgroup: `%s` still has processes after %u ms of SIGKILL", cg->dirs[0],
                          timeout_ms);
    nc_cg_sleep_ms(1);
  }
}

/* ---- mode detection ----------------------------------------------------- */

static int load_self(struct nc_cg_ctx *ctx, bool explicit_root, nc_error *err) {
  /* Test hook: with an explicit root, NANOCLAW_CGROUP_SELF replaces the
   * contents of /proc/self/cgroup (e.g. "0::/" or "4:memory:/\n1:cpu:/"). */
  const char *over = explicit_root ? getenv("NANOCLAW_CGROUP_SELF") : NULL;
  if (over) {
    if (strlen(over) >= sizeof ctx->self) return nc_error_set(err, E2BIG, "cgroup: NANOCLAW_CGROUP_SELF too long");
    snprintf(ctx->self, sizeof ctx->self, "%s", over);
    return 0;
  }
  ssize_t n = nc_read_file_at(AT_FDCWD, "/proc/self/cgroup", ctx->self, sizeof ctx->self);
  if (n < 0) return nc_error_sys(err, (int)-n, "cgroup: reading /proc/self/cgroup");
  if ((size_t)n >= sizeof ctx->self - 1) return nc_error_set(err, E2BIG, "cgroup: /proc/self/cgroup too long");
  return 0;
}

static int detect(const char *root, struct nc_cg_ctx *ctx, const struct nc_cgroup_ops **ret_ops, nc_error *err) {
  memset(ctx, 0, sizeof *ctx);
  if (nc_cg_path(ctx->root, sizeof ctx->root, err, "%s", root ? root : NC_CG_DEFAULT_ROOT) < 0) return -ENAMETOOLONG;
  size_t rl = strlen(ctx->root);
  while (rl > 1 && ctx->root[rl - 1] == '/') ctx->root[--rl] = '\0';
  int r = load_self(ctx, root != NULL, err);
  if (r < 0) return r;

  /* Test hook: NANOCLAW_CGROUP_MODE=v1|v2 forces the mode for a fake
   * hierarchy of plain directories; honoured only with an explicit root so
   * it can never redirect a real run. */
  const char *mode = root ? getenv("NANOCLAW_CGROUP_MODE") : NULL;
  if (mode && *mode) {
    ctx->fake = true;
    if (strcmp(mode, "v2") == 0) *ret_ops = &nc_cgroup_ops_v2;
    else if (strcmp(mode, "v1") == 0) *ret_ops = &nc_cgroup_ops_v1;
    else {
      char q[64];
      return nc_error_set(err, EINVAL, "cgroup: NANOCLAW_CGROUP_MODE `%s`: expected v1 or v2", nc_quote(q, sizeof q, mode));
    }
    return 0;
  }

  struct statfs sf;
  if (statfs(ctx->root, &sf) < 0) return nc_error_sys(err, errno, "cgroup: statfs `%s`", ctx->root);
  if ((unsigned long)sf.f_type == (unsigned long)CGROUP2_SUPER_MAGIC) {
    *ret_ops = &nc_cgroup_ops_v2;
    return 0;
  }
  /* v1 or hybrid: per-controller cgroup v1 mounts under root. In hybrid mode
   * the cgroup2 at root/unified normally has no controllers; we use v1. */
  for (int c = 0; c < NC_CG_NCTL; c++) {
    char p[PATH_MAX];
    if (nc_cg_path(p, sizeof p, err, "%s/%s", ctx->root, nc_cg_ctl_names[c]) < 0) return -ENAMETOOLONG;
    if (statfs(p, &sf) == 0 && (unsigned long)sf.f_type == (unsigned long)CGROUP_SUPER_MAGIC) {
      *ret_ops = &nc_cgroup_ops_v1;
      return 0;
    }
  }
  return nc_error_set(err, ENOTSUP, "cgroup: `%s` is neither a cgroup2 mount nor holds cgroup v1 controller mounts",
                      ctx->root);
}

/* ---- public API --------------------------------------------------------- */

static bool valid_id(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > 64) return false;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  }
  return true;
}

static void remove_dirs(struct nc_cgroup *cg) {
  for (size_t i = cg->ndirs; i-- > 0;) nc_cg_rmdir(&cg->ctx, cg->dirs[i]);
  cg->ndirs = 0;
}

int nc_cgroup_create(const char *root, const char *id, const struct nc_cgroup_limits *lim, struct nc_cgroup **ret,
                     nc_error *err) {
  *ret = NULL;
  char q[160];
  if (!id || !valid_id(id))
    return nc_error_set(err, EINVAL, "cgroup: sandbox id `%s` must be 1-64 of [A-Za-z0-9_-]", nc_quote(q, sizeof q, id));
  static const struct nc_cgroup_limits none = {0};
  if (!lim) lim = &none;
  nc_autofree struct nc_cgroup *cg = calloc(1, sizeof *cg);
  if (!cg) return nc_error_set(err, ENOMEM, "cgroup: out of memory");
  cg->leaf_fd = -1;
  for (int c = 0; c < NC_CG_NCTL; c++) cg->ctl_dir[c] = -1;
  snprintf(cg->id, sizeof cg->id, "%s", id);
  int r = detect(root, &cg->ctx, &cg->ops, err);
  if (r < 0) return r;
  r = cg->ops->create(cg, lim, err);
  if (r < 0) {
    /* Fail closed and leave nothing behind. */
    if (cg->leaf_fd >= 0) close(cg->leaf_fd);
    remove_dirs(cg);
    return r;
  }
  *ret = nc_steal_ptr(&cg);
  return 0;
}

int nc_cgroup_clone_fd(const struct nc_cgroup *cg) { return cg ? cg->leaf_fd : -1; }

int nc_cgroup_attach(struct nc_cgroup *cg, pid_t pid, nc_error *err) {
  if (!cg || pid <= 0) return nc_error_set(err, EINVAL, "cgroup: attach: bad arguments");
  char val[32];
  snprintf(val, sizeof val, "%d", (int)pid);
  for (size_t i = 0; i < cg->ndirs; i++) {
    int r = nc_cg_write(&cg->ctx, cg->dirs[i], "cgroup.procs", val);
    if (r < 0) return nc_error_sys(err, -r, "cgroup %s: moving pid %d into `%s/cgroup.procs`", cg->ops->name,
                                   (int)pid, cg->dirs[i]);
  }
  return 0;
}

void nc_cgroup_enforced(const struct nc_cgroup *cg, struct nc_cgroup_enforced *ret) {
  if (cg) *ret = cg->enf;
  else memset(ret, 0, sizeof *ret);
}

int nc_cgroup_kill(struct nc_cgroup *cg, nc_error *err) {
  if (!cg) return nc_error_set(err, EINVAL, "cgroup: kill: no cgroup");
  return cg->ops->kill(cg, err);
}

int nc_cgroup_stats(struct nc_cgroup *cg, struct nc_cgroup_stats *ret, nc_error *err) {
  memset(ret, 0, sizeof *ret);
  if (!cg) return nc_error_set(err, EINVAL, "cgroup: stats: no cgroup");
  return cg->ops->stats(cg, ret, err);
}

int nc_cgroup_destroy(struct nc_cgroup *cg, nc_error *err) {
  if (!cg) return 0;
  int r = 0;
  nc_error e2;
  if (cg->ndirs > 0) {
    r = cg->ops->kill(cg, err);
    int r2 = nc_cg_kill_until_empty(cg, NC_CG_EMPTY_TIMEOUT_MS, r < 0 ? &e2 : err);
    if (r == 0) r = r2;
    uint64_t deadline = nc_now_ns() + (uint64_t)NC_CG_EMPTY_TIMEOUT_MS * 1000000ull;
    for (size_t i = cg->ndirs; i-- > 0;) {
      int rr;
      /* EBUSY can linger a moment after the last task exits. */
      while ((rr = nc_cg_rmdir(&cg->ctx, cg->dirs[i])) == -EBUSY && nc_now_ns() < deadline) nc_cg_sleep_ms(2);
      if (rr < 0 && rr != -ENOENT && r == 0) r = nc_error_sys(err, -rr, "cgroup: rmdir `%s`", cg->dirs[i]);
    }
  }
  if (cg->leaf_fd >= 0) close(cg->leaf_fd);
  free(cg);
  return r;
}

/* Remember name; 0 when it is new, 1 when already seen, -ENOMEM. */
static int note_removed(char (**names)[NAME_MAX + 1], size_t *n, const char *name) {
  for (size_t i = 0; i < *n; i++)
    if (strcmp((*names)[i], name) == 0) return 1;
  char(*grown)[NAME_MAX + 1] = realloc(*names, (*n + 1) * sizeof **names);
  if (!grown) return -ENOMEM;
  *names = grown;
  snprintf(grown[*n], sizeof grown[*n], "%s", name);
  (*n)++;
  return 0;
}

int nc_cgroup_gc(const char *root, nc_error *err) {
  nc_autofree struct nc_cg_ctx *ctx = malloc(sizeof *ctx);
  if (!ctx) return nc_error_set(err, ENOMEM, "cgroup: out of memory");
  const struct nc_cgroup_ops *ops;
  int r = detect(root, ctx, &ops, err);
  if (r < 0) return r;
  enum { MAXB = 2 * NC_CG_NCTL };
  nc_autofree char(*bases)[PATH_MAX] = calloc(MAXB, PATH_MAX);
  if (!bases) return nc_error_set(err, ENOMEM, "cgroup: out of memory");
  int nb = ops->gc_bases(ctx, bases, MAXB, err);
  if (nb < 0) return nb;
  /* Count sandboxes, not directories: on v1 one sandbox has one directory
   * per controller hierarchy. */
  int removed = 0;
  char(*names)[NAME_MAX + 1] = NULL;
  size_t nnames = 0;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  for (int b = 0; b < nb; b++) {
    DIR *d = opendir(bases[b]);
    if (!d) continue; /* e.g. no intermediate yet */
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (strncmp(e->d_name, NC_CG_PREFIX, strlen(NC_CG_PREFIX)) != 0) continue;
      char p[PATH_MAX];
      int n = snprintf(p, sizeof p, "%s/%s", bases[b], e->d_name);
      if (n < 0 || (size_t)n >= sizeof p) continue;
      struct stat st;
      if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) continue;
      if (now.tv_sec - st.st_mtim.tv_sec < NC_CG_GC_MIN_AGE_S) continue; /* may be being set up */
      char procs[64];
      ssize_t pn = nc_cg_read(p, "cgroup.procs", procs, sizeof procs);
      if (pn != 0) continue; /* has processes, or unreadable: not ours to judge */
      if (nc_cg_rmdir(ctx, p) == 0 && note_removed(&names, &nnames, e->d_name) == 0) removed++;
    }
    closedir(d);
  }
  free(names);
  return removed;
}

int nc_cgroup_describe(const char *root, char *buf, size_t cap) {
  if (!buf || cap == 0) return -EINVAL;
  buf[0] = '\0';
  nc_autofree struct nc_cg_ctx *ctx = malloc(sizeof *ctx);
  if (!ctx) return -ENOMEM;
  const struct nc_cgroup_ops *ops;
  nc_error e = {0};
  int r = detect(root, ctx, &ops, &e);
  if (r < 0) {
    snprintf(buf, cap, "%s\n", e.msg);
    return r;
  }
  return ops->describe(ctx, buf, cap);
}
