/* rootfs.c — the sandbox's root: the parent opens every host source as a detached
 * mount (open_tree), the child builds a fresh tmpfs root from them without ever
 * following a symlink it did not create, masks /proc, pivots and makes it read-only. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/error.h"
#include "core/util.h"
#include "image/image.h"
#include "sandbox/sandbox.h"

/* ------------------------------------------------------------------ */
/* Parent side: the plan.                                              */
/* ------------------------------------------------------------------ */

static const char *plan_keep(struct nc_rootfs_plan *plan, char *s) {
  if (!s) return NULL;
  if (plan->n_strings == plan->cap_strings) {
    size_t cap = plan->cap_strings ? plan->cap_strings * 2 : 32;
    char **v = realloc(plan->strings, cap * sizeof *v);
    if (!v) {
      free(s);
      return NULL;
    }
    plan->strings = v;
    plan->cap_strings = cap;
  }
  plan->strings[plan->n_strings++] = s;
  return s;
}

static const char *plan_strdup(struct nc_rootfs_plan *plan, const char *s) {
  return plan_keep(plan, strdup(s));
}

static int plan_add(struct nc_rootfs_plan *plan, enum nc_step_kind kind, const char *dst, const char *data,
                    int fd, bool dir, nc_error *err) {
  if (plan->n == plan->cap) {
    size_t cap = plan->cap ? plan->cap * 2 : 64;
    struct nc_step *v = realloc(plan->steps, cap * sizeof *v);
    if (!v) {
      if (fd >= 0) close(fd);
      return nc_error_set(err, ENOMEM, "rootfs plan: out of memory");
    }
    plan->steps = v;
    plan->cap = cap;
  }
  const char *d = plan_strdup(plan, dst);
  const char *x = data ? plan_strdup(plan, data) : NULL;
  if (!d || (data && !x)) {
    if (fd >= 0) close(fd);
    return nc_error_set(err, ENOMEM, "rootfs plan: out of memory");
  }
  plan->steps[plan->n++] = (struct nc_step){.kind = kind, .dst = d, .data = x, .fd = fd, .dir = dir};
  return 0;
}

void nc_rootfs_plan_free(struct nc_rootfs_plan *plan) {
  if (!plan) return;
  for (size_t i = 0; i < plan->n; i++)
    if (plan->steps[i].fd >= 0) close(plan->steps[i].fd);
  for (size_t i = 0; i < plan->n_strings; i++) free(plan->strings[i]);
  for (size_t i = 0; i < plan->n_held; i++) nc_closep(&plan->held[i]);
  free(plan->held);
  free(plan->steps);
  free(plan->strings);
  memset(plan, 0, sizeof *plan);
}

/* Clone the host tree at dirfd/path as a detached mount with attributes set,
 * and add a step moving it onto dst. The path is the operator's (trusted);
 * the tree's content may be sandbox-controlled, which is why nothing below is
 * ever resolved on the host side again. */
static int plan_tree(struct nc_rootfs_plan *plan, const char *dst, int dirfd, const char *path, uint64_t attr,
                     nc_error *err) {
  char q[NC_MAX_PATH + 64];
  struct stat st;
  if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW | (path[0] ? 0 : AT_EMPTY_PATH)) < 0)
    return nc_error_sys(err, errno, "stat `%s`", nc_quote(q, sizeof q, path[0] ? path : dst));
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW;
  if (!path[0]) flags |= AT_EMPTY_PATH;
  int fd = open_tree(dirfd, path, flags);
  if (fd < 0) return nc_error_sys(err, errno, "open_tree `%s`", nc_quote(q, sizeof q, path[0] ? path : dst));
  struct mount_attr ma = {.attr_set = attr, .propagation = MS_PRIVATE};
  if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &ma, sizeof ma) < 0) {
    int e = errno;
    close(fd);
    return nc_error_sys(err, e, "mount_setattr on the copy of `%s`", nc_quote(q, sizeof q, path[0] ? path : dst));
  }
  return plan_add(plan, NC_STEP_TREE, dst, NULL, fd, S_ISDIR(st.st_mode), err);
}

#define RO_ATTR (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)

/* Recreate a host symlink (its target string, not what it points to). */
static int plan_symlink_of(struct nc_rootfs_plan *plan, const char *dst, int dirfd, const char *name, nc_error *err) {
  char target[NC_MAX_PATH];
  ssize_t n = readlinkat(dirfd, name, target, sizeof target - 1);
  if (n < 0) return nc_error_sys(err, errno, "readlink `%s`", name);
  target[n] = '\0';
  return plan_add(plan, NC_STEP_SYMLINK, dst, target, -1, false, err);
}

/* One host entry (file, dir or symlink) at dirfd/name mirrored at dst. */
static int plan_mirror(struct nc_rootfs_plan *plan, const char *dst, int dirfd, const char *name, bool *found,
                       nc_error *err) {
  struct stat st;
  *found = false;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return 0;
    return nc_error_sys(err, errno, "stat `%s`", name);
  }
  *found = true;
  if (S_ISLNK(st.st_mode)) return plan_symlink_of(plan, dst, dirfd, name, err);
  if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) return plan_tree(plan, dst, dirfd, name, RO_ATTR, err);
  *found = false; /* devices, fifos, sockets: never */
  return 0;
}

/* /etc entries of the host that a program may need and that reveal nothing
 * secret. Never shadow, gshadow, sudoers, ssh, machine-id, ... */
static const char *const etc_allow[] = {
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "ssl", "ca-certificates", "ca-certificates.conf",
    "alternatives", "localtime", "timezone", "mime.types", "os-release", "debian_version",
    "protocols", "services", "gai.conf", "bash.bashrc", "inputrc", "mke2fs.conf", "magic",
};

static int plan_etc(struct nc_rootfs_plan *plan, const struct nc_profile *p, nc_error *err) {
  int r;
  char *s = NULL;
  if ((r = plan_add(plan, NC_STEP_DIR, "/etc", NULL, -1, true, err)) < 0) return r;

#define ETC_FILE(path, ...)                                                    \
  do {                                                                         \
    if (asprintf(&s, __VA_ARGS__) < 0) return nc_error_set(err, ENOMEM, "/etc: out of memory"); \
    r = plan_add(plan, NC_STEP_FILE, path, s, -1, false, err);                 \
    free(s);                                                                   \
    if (r < 0) return r;                                                       \
  } while (0)

  ETC_FILE("/etc/passwd",
           "root:x:0:0:root:/root:/usr/sbin/nologin\n"
           "sandbox:x:%u:%u:nanoclaw sandbox user:/tmp:/bin/sh\n"
           "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
           (unsigned)p->uid, (unsigned)p->gid);
  ETC_FILE("/etc/group", "root:x:0:\nsandbox:x:%u:\nnogroup:x:65534:\n", (unsigned)p->gid);
  ETC_FILE("/etc/hostname", "%s\n", p->hostname);
  ETC_FILE("/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\nservices: files\nprotocols: files\n");
  ETC_FILE("/etc/resolv.conf", "# nanoclaw: no DNS inside the sandbox; names are resolved by the egress proxy.\n");
  /* hosts: the fixed part plus add_hosts (NAME:IP) */
  size_t cap = 256;
  for (size_t i = 0; i < p->add_hosts.n; i++) cap += strlen(p->add_hosts.v[i]) + 4;
  s = malloc(cap + strlen(p->hostname) * 2);
  if (!s) return nc_error_set(err, ENOMEM, "/etc/hosts: out of memory");
  size_t o = (size_t)sprintf(s, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n",
                             p->hostname);
  for (size_t i = 0; i < p->add_hosts.n; i++) {
    const char *e = p->add_hosts.v[i], *colon = strchr(e, ':');
    if (!colon) continue; /* validated by config: NAME:IP */
    const char *ip = colon + 1;
    size_t iplen = strlen(ip);
    if (ip[0] == '[' && iplen > 2 && ip[iplen - 1] == ']') ip++, iplen -= 2;
    o += (size_t)sprintf(s + o, "%.*s\t%.*s\n", (int)iplen, ip, (int)(colon - e), e);
  }
  r = plan_add(plan, NC_STEP_FILE, "/etc/hosts", s, -1, false, err);
  free(s);
  if (r < 0) return r;
#undef ETC_FILE

  nc_autoclose int etc = open("/etc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (etc < 0) return nc_error_sys(err, errno, "open host `/etc`");
  for (size_t i = 0; i < NC_ARRAY_SIZE(etc_allow); i++) {
    char dst[128];
    bool found;
    snprintf(dst, sizeof dst, "/etc/%s", etc_allow[i]);
    if ((r = plan_mirror(plan, dst, etc, etc_allow[i], &found, err)) < 0) return r;
  }
  return 0;
}

/* The host view: /usr and the top-level /bin, /sbin, /lib* (dirs or merged-usr symlinks). */
static int plan_host_image(struct nc_rootfs_plan *plan, const struct nc_profile *p, nc_error *err) {
  static const char *const top[] = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"};
  nc_autoclose int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return nc_error_sys(err, errno, "open host `/`");
  for (size_t i = 0; i < NC_ARRAY_SIZE(top); i++) {
    char dst[32];
    bool found;
    snprintf(dst, sizeof dst, "/%s", top[i]);
    int r = plan_mirror(plan, dst, root, top[i], &found, err);
    if (r < 0) return r;
  }
  return plan_etc(plan, p, err);
}

/* Every top-level entry of the tree at dfd (consumed; entries are opened
 * relative to base, or dfd when base is -1), read-only; we provide /proc,
 * /dev, /sys (absent) and the tmpfs mounts ourselves. */
static int plan_tree_entries(struct nc_rootfs_plan *plan, int dfd, int base, const char *label, nc_error *err) {
  char q[NC_MAX_PATH + 64];
  DIR *d = fdopendir(dfd);
  if (!d) {
    int e = errno;
    close(dfd);
    return nc_error_sys(err, e, "image `%s`", nc_quote(q, sizeof q, label));
  }
  int r = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    const char *n = de->d_name;
    if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "proc") || !strcmp(n, "dev") || !strcmp(n, "sys"))
      continue;
    char dst[NAME_MAX + 2];
    bool found;
    snprintf(dst, sizeof dst, "/%s", n);
    if ((r = plan_mirror(plan, dst, base >= 0 ? base : dirfd(d), n, &found, err)) < 0) {
      nc_error_wrap(err, "image `%s`", nc_quote(q, sizeof q, label));
      break;
    }
  }
  closedir(d);
  return r;
}

/* --image DIR */
static int plan_dir_image(struct nc_rootfs_plan *plan, const char *dir, nc_error *err) {
  char q[NC_MAX_PATH + 64];
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return nc_error_sys(err, errno, "image `%s`", nc_quote(q, sizeof q, dir));
  return plan_tree_entries(plan, dfd, -1, dir, err);
}

/* --image NAME[:TAG|@DIGEST]: the store image's layers stacked (overlayfs,
 * read-only, a detached mount made here) and planned like a directory. The
 * plan keeps the layers' locks so `image rm` cannot pull them from under us. */
static int plan_store_image(struct nc_rootfs_plan *plan, const struct nc_profile *p, nc_error *err) {
  int mnt;
  int r = nc_image_mount(p->image, p->image_digest, &mnt, &plan->held, &plan->n_held, err);
  if (r < 0) return r;
  /* the detached mount lives as long as its fd: clone the entries from it before closing it */
  int dfd = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) r = nc_error_sys(err, errno, "open the image's overlay");
  else r = plan_tree_entries(plan, dfd, mnt, p->image, err);
  close(mnt);
  return r;
}

static int plan_dev(struct nc_rootfs_plan *plan, bool pts, nc_error *err) {
  static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
  static const char *const links[][2] = {
      {"/dev/fd", "/proc/self/fd"}, {"/dev/stdin", "/proc/self/fd/0"},
      {"/dev/stdout", "/proc/self/fd/1"}, {"/dev/stderr", "/proc/self/fd/2"},
  };
  int r;
  if ((r = plan_add(plan, NC_STEP_TMPFS, "/dev", "mode=0755,size=64k,nr_inodes=64", -1, true, err)) < 0) return r;
  nc_autoclose int dev = open("/dev", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dev < 0) return nc_error_sys(err, errno, "open host `/dev`");
  for (size_t i = 0; i < NC_ARRAY_SIZE(nodes); i++) {
    char dst[32];
    snprintf(dst, sizeof dst, "/dev/%s", nodes[i]);
    /* device nodes need a mount without nodev; nosuid/noexec/ro still apply */
    if ((r = plan_tree(plan, dst, dev, nodes[i], MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, err)) < 0)
      return r;
  }
  for (size_t i = 0; i < NC_ARRAY_SIZE(links); i++)
    if ((r = plan_add(plan, NC_STEP_SYMLINK, links[i][0], links[i][1], -1, false, err)) < 0) return r;
  if (pts) {
    if ((r = plan_add(plan, NC_STEP_DEVPTS, "/dev/pts", "ptmxmode=0666,mode=0620", -1, true, err)) < 0) return r;
    if ((r = plan_add(plan, NC_STEP_SYMLINK, "/dev/ptmx", "pts/ptmx", -1, false, err)) < 0) return r;
  }
  return plan_add(plan, NC_STEP_READONLY, "/dev", NULL, -1, true, err);
}

static size_t depth_of(const char *path) {
  size_t d = 0;
  for (const char *c = path; *c; c++) d += (*c == '/');
  return d;
}

/* The profile's tmpfs mounts and binds, parents before children. */
static int plan_user_mounts(struct nc_rootfs_plan *plan, const struct nc_profile *p, nc_error *err) {
  size_t maxd = 0;
  for (size_t i = 0; i < p->n_tmpfs; i++) maxd = depth_of(p->tmpfs[i].path) > maxd ? depth_of(p->tmpfs[i].path) : maxd;
  for (size_t i = 0; i < p->n_binds; i++) maxd = depth_of(p->binds[i].dst) > maxd ? depth_of(p->binds[i].dst) : maxd;
  for (size_t d = 1; d <= maxd; d++) {
    for (size_t i = 0; i < p->n_tmpfs; i++) {
      if (depth_of(p->tmpfs[i].path) != d) continue;
      char opts[64];
      snprintf(opts, sizeof opts, "mode=1777,size=%llu", (unsigned long long)p->tmpfs[i].size);
      int r = plan_add(plan, NC_STEP_TMPFS, p->tmpfs[i].path, opts, -1, true, err);
      if (r < 0) return r;
    }
    for (size_t i = 0; i < p->n_binds; i++) {
      const struct nc_bind *b = &p->binds[i];
      if (depth_of(b->dst) != d) continue;
      uint64_t attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (b->rw ? 0 : MOUNT_ATTR_RDONLY);
      /* src was realpath'd when the profile was read, so it has no symlink
       * left: one now means it was swapped since (a sandbox writing into a
       * shared rw bind). Open it without following any. */
      struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
      int sfd = (int)syscall(SYS_openat2, AT_FDCWD, b->src, &how, sizeof how);
      if (sfd < 0 && errno == ENOSYS) sfd = open(b->src, O_PATH | O_CLOEXEC | O_NOFOLLOW);
      if (sfd < 0) {
        char q[NC_MAX_PATH + 64];
        return nc_error_sys(err, errno, "bind source `%s` (changed since it was resolved?)",
                            nc_quote(q, sizeof q, b->src));
      }
      int r = plan_tree(plan, b->dst, sfd, "", attr, err);
      close(sfd);
      if (r < 0) {
        char q[NC_MAX_PATH + 64];
        return nc_error_wrap(err, "bind `%s`", nc_quote(q, sizeof q, b->src));
      }
    }
  }
  return 0;
}

int nc_rootfs_plan_build(struct nc_rootfs_plan *plan, const struct nc_profile *p, bool pts, nc_error *err) {
  int r;
  memset(plan, 0, sizeof *plan);
  if (!strcmp(p->image, "host"))
    r = plan_host_image(plan, p, err);
  else if (p->image[0] == '/')
    r = plan_dir_image(plan, p->image, err);
  else
    r = plan_store_image(plan, p, err);
  if (r >= 0) r = plan_dev(plan, pts, err);
  if (r >= 0) r = plan_add(plan, NC_STEP_PROC, "/proc", NULL, -1, true, err);
  if (r >= 0) r = plan_user_mounts(plan, p, err);
  if (r >= 0) r = plan_add(plan, NC_STEP_READONLY, "/", NULL, -1, true, err);
  if (r < 0) nc_rootfs_plan_free(plan);
  return r;
}

/* ------------------------------------------------------------------ */
/* Child side: runs between clone and exec. No allocation, no locks.   */
/* ------------------------------------------------------------------ */

static int fail_at(struct nc_frame *f, int e, const char *what, const char *path) {
  snprintf(f->msg, sizeof f->msg, "%s `%s`: %s", what, path, strerror(e));
  f->code = e;
  return -e;
}

/* openat2 beneath `dirfd`, never following a symlink; falls back to a plain
 * O_NOFOLLOW open plus a type check where openat2 is missing. */
static int open_nofollow(int dirfd, const char *name, int flags) {
  struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
  int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof how);
  if (fd >= 0 || errno != ENOSYS) return fd;
  fd = openat(dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return fd;
  struct stat st;
  if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode) || ((flags & O_DIRECTORY) && !S_ISDIR(st.st_mode))) {
    int e = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

/* Walk `path` (absolute, normalised by config) beneath rootfd one component
 * at a time, creating missing directories; returns an O_PATH fd of the last
 * directory. A symlink anywhere on the way is refused: the sandbox may have
 * planted it (in an image or an rw bind). */
static int walk_dirs(int rootfd, const char *path, size_t len, bool create, struct nc_frame *fail) {
  int cur = (int)fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
  if (cur < 0) return fail_at(fail, errno, "dup root fd for", path);
  size_t i = 0;
  while (i < len) {
    while (i < len && path[i] == '/') i++;
    size_t j = i;
    while (j < len && path[j] != '/') j++;
    if (j == i) break;
    char comp[NAME_MAX + 1];
    if (j - i > NAME_MAX) {
      close(cur);
      return fail_at(fail, ENAMETOOLONG, "path component in", path);
    }
    memcpy(comp, path + i, j - i);
    comp[j - i] = '\0';
    int next = open_nofollow(cur, comp, O_PATH | O_DIRECTORY);
    if (next < 0 && errno == ENOENT && create) {
      if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
        int e = errno;
        close(cur);
        return fail_at(fail, e, e == EROFS ? "cannot create mount point (read-only tree)" : "mkdir", path);
      }
      next = open_nofollow(cur, comp, O_PATH | O_DIRECTORY);
    }
    if (next < 0) {
      int e = errno;
      close(cur);
      if (e == ELOOP || e == EXDEV)
        return fail_at(fail, ELOOP, "refusing a mount destination that is or passes through a symlink:", path);
      return fail_at(fail, e, "open mount destination", path);
    }
    close(cur);
    cur = next;
    i = j;
  }
  return cur;
}

/* The O_PATH fd of dst beneath rootfd, created as a dir or an empty file. */
static int make_target(int rootfd, const char *dst, bool dir, struct nc_frame *fail) {
  if (dir) return walk_dirs(rootfd, dst, strlen(dst), true, fail);
  const char *slash = strrchr(dst, '/');
  int parent = walk_dirs(rootfd, dst, (size_t)(slash - dst), true, fail);
  if (parent < 0) return parent;
  const char *base = slash + 1;
  int fd = open_nofollow(parent, base, O_PATH);
  if (fd < 0 && errno == ENOENT) {
    int c = openat(parent, base, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (c >= 0) close(c);
    else if (errno != EEXIST) {
      int e = errno;
      close(parent);
      return fail_at(fail, e, "create mount point", dst);
    }
    fd = open_nofollow(parent, base, O_PATH);
  }
  int e = errno;
  close(parent);
  if (fd < 0) return fail_at(fail, e == EXDEV ? ELOOP : e, "open mount destination", dst);
  struct stat st;
  if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
    close(fd);
    return fail_at(fail, EISDIR, "a file bind needs a file destination; not a file:", dst);
  }
  return fd;
}

static int attach(int mfd, int target, const char *dst, struct nc_frame *fail) {
  if (move_mount(mfd, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return fail_at(fail, errno, "move_mount onto", dst);
  return 0;
}

/* fsopen/fsconfig/fsmount a new filesystem with "k=v,k=v" options. */
static int new_fs(const char *type, const char *opts, unsigned attrs, const char *dst, struct nc_frame *fail) {
  int fs = fsopen(type, FSOPEN_CLOEXEC);
  if (fs < 0) return fail_at(fail, errno, type[0] == 'p' ? "fsopen proc for" : "fsopen for", dst);
  char buf[256];
  const char *p = opts ? opts : "";
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len >= sizeof buf) len = sizeof buf - 1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *eq = strchr(buf, '=');
    int r;
    if (eq) {
      *eq = '\0';
      r = fsconfig(fs, FSCONFIG_SET_STRING, buf, eq + 1, 0);
    } else {
      r = fsconfig(fs, FSCONFIG_SET_FLAG, buf, NULL, 0);
    }
    if (r < 0) {
      int e = errno;
      close(fs);
      return fail_at(fail, e, "fsconfig option for", dst);
    }
    p += len + (end ? 1 : 0);
  }
  if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
    int e = errno;
    close(fs);
    return fail_at(fail, e, "create filesystem for", dst);
  }
  int mfd = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
  int e = errno;
  close(fs);
  if (mfd < 0) return fail_at(fail, e, "fsmount for", dst);
  return mfd;
}

static int set_readonly(int rootfd, const char *dst, struct nc_frame *fail) {
  int fd = dst[1] ? walk_dirs(rootfd, dst, strlen(dst), false, fail) : (int)fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) return fd;
  struct mount_attr ma = {.attr_set = MOUNT_ATTR_RDONLY};
  int r = mount_setattr(fd, "", AT_EMPTY_PATH, &ma, sizeof ma);
  int e = errno;
  close(fd);
  return r < 0 ? fail_at(fail, e, "make read-only", dst) : 0;
}

static int run_step(int rootfd, const struct nc_step *s, struct nc_frame *fail) {
  int r = 0, t = -1, m = -1;
  switch (s->kind) {
    case NC_STEP_TREE:
      if ((t = make_target(rootfd, s->dst, s->dir, fail)) < 0) return t;
      r = attach(s->fd, t, s->dst, fail);
      break;
    case NC_STEP_DIR:
      if ((t = walk_dirs(rootfd, s->dst, strlen(s->dst), true, fail)) < 0) return t;
      break;
    case NC_STEP_SYMLINK:
    case NC_STEP_FILE: {
      const char *slash = strrchr(s->dst, '/');
      if ((t = walk_dirs(rootfd, s->dst, (size_t)(slash - s->dst), true, fail)) < 0) return t;
      if (s->kind == NC_STEP_SYMLINK) {
        if (symlinkat(s->data, t, slash + 1) < 0) r = fail_at(fail, errno, "symlink", s->dst);
      } else {
        int fd = openat(t, slash + 1, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) r = fail_at(fail, errno, "create", s->dst);
        else {
          if (nc_write_all(fd, s->data, strlen(s->data)) < 0) r = fail_at(fail, errno, "write", s->dst);
          close(fd);
        }
      }
      break;
    }
    case NC_STEP_TMPFS:
    case NC_STEP_PROC:
    case NC_STEP_DEVPTS: {
      const char *type = s->kind == NC_STEP_TMPFS ? "tmpfs" : s->kind == NC_STEP_PROC ? "proc" : "devpts";
      unsigned attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (s->kind != NC_STEP_TMPFS ? MOUNT_ATTR_NOEXEC : 0);
      if ((t = walk_dirs(rootfd, s->dst, strlen(s->dst), true, fail)) < 0) return t;
      if ((m = new_fs(type, s->data, attrs, s->dst, fail)) < 0) r = m;
      else r = attach(m, t, s->dst, fail);
      break;
    }
    case NC_STEP_READONLY:
      return set_readonly(rootfd, s->dst, fail);
  }
  if (t >= 0) close(t);
  if (m >= 0) close(m);
  return r;
}

/* /proc: files that reveal or touch the host are masked with /dev/null or an
 * empty read-only tmpfs; knobs are read-only (runc's default lists). */
static int mask_proc(int rootfd, struct nc_frame *fail) {
  static const char *const masked[] = {"kcore", "keys", "timer_list", "sched_debug", "latency_stats",
                                       "kallsyms", "kpagecount", "kpageflags", "kpagecgroup", "config.gz",
                                       "acpi", "scsi", "firmware", "asound", "sys/kernel/core_pattern"};
  static const char *const readonly[] = {"sys", "sysrq-trigger", "irq", "bus", "fs", "driver"};
  int proc = open_nofollow(rootfd, "proc", O_PATH | O_DIRECTORY);
  if (proc < 0) return fail_at(fail, errno, "open", "/proc");
  int r = 0;
  for (size_t i = 0; i < NC_ARRAY_SIZE(masked) && r == 0; i++) {
    int t = openat(proc, masked[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (t < 0) continue; /* not on this kernel */
    struct stat st;
    int m = -1;
    if (fstat(t, &st) == 0 && S_ISDIR(st.st_mode))
      m = new_fs("tmpfs", "size=0,nr_inodes=1,mode=0555", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                 MOUNT_ATTR_NOEXEC, masked[i], fail);
    else
      m = open_tree(rootfd, "dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (m < 0) r = fail_at(fail, errno, "mask /proc/", masked[i]);
    else r = attach(m, t, masked[i], fail);
    if (m >= 0) close(m);
    close(t);
  }
  for (size_t i = 0; i < NC_ARRAY_SIZE(readonly) && r == 0; i++) {
    int m = open_tree(proc, readonly[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);
    if (m < 0) {
      if (errno == ENOENT) continue;
      r = fail_at(fail, errno, "open_tree /proc/", readonly[i]);
      break;
    }
    struct mount_attr ma = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC};
    int t = openat(proc, readonly[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (mount_setattr(m, "", AT_EMPTY_PATH | AT_RECURSIVE, &ma, sizeof ma) < 0)
      r = fail_at(fail, errno, "read-only /proc/", readonly[i]);
    else if (t < 0)
      r = fail_at(fail, errno, "open /proc/", readonly[i]);
    else
      r = attach(m, t, readonly[i], fail);
    if (t >= 0) close(t);
    close(m);
  }
  close(proc);
  return r;
}

static const char *staging_dir(void) {
  struct stat st;
  if (lstat("/tmp", &st) == 0 && S_ISDIR(st.st_mode)) return "/tmp";
  return "/mnt";
}

int nc_rootfs_enter(const struct nc_rootfs_plan *plan, struct nc_frame *fail) {
  /* Nothing we mount may propagate back to the host. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return fail_at(fail, errno, "make private", "/");
  const char *staging = staging_dir();
  int root = new_fs("tmpfs", "mode=0755,size=1m,nr_inodes=4096", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, "/", fail);
  if (root < 0) return root;
  int stage = open(staging, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (stage < 0) {
    close(root);
    return fail_at(fail, errno, "open staging dir", staging);
  }
  int r = attach(root, stage, staging, fail);
  close(root);
  close(stage);
  if (r < 0) return r;
  int rootfd = open(staging, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (rootfd < 0) return fail_at(fail, errno, "open new root", staging);

  /* Read-only steps come last: run the others first, mask /proc, then seal. */
  for (size_t i = 0; i < plan->n && r == 0; i++)
    if (plan->steps[i].kind != NC_STEP_READONLY) r = run_step(rootfd, &plan->steps[i], fail);
  if (r == 0) r = mask_proc(rootfd, fail);
  for (size_t i = 0; i < plan->n && r == 0; i++)
    if (plan->steps[i].kind == NC_STEP_READONLY) r = run_step(rootfd, &plan->steps[i], fail);
  if (r < 0) {
    close(rootfd);
    return r;
  }
  /* pivot_root(".", "."): the old root ends up stacked on the new one and is
   * detached at once; no path of the host stays reachable. */
  if (fchdir(rootfd) < 0) r = fail_at(fail, errno, "chdir", "new root");
  else if (syscall(SYS_pivot_root, ".", ".") < 0) r = fail_at(fail, errno, "pivot_root", staging);
  else if (umount2(".", MNT_DETACH) < 0) r = fail_at(fail, errno, "detach old root", "/");
  else if (chdir("/") < 0) r = fail_at(fail, errno, "chdir", "/");
  close(rootfd);
  return r;
}
