/* unpack.c — one layer tarball into one directory, safely: libarchive only
 * reads the stream; every file is created by us relative to the layer's
 * directory fd, never following a symlink, and whatever could reach outside
 * the layer, cross sandboxes or raise privileges is refused or neutralised.
 *
 *   absolute names          leading '/' dropped (relative to the layer, as GNU tar and Docker do)
 *   a ".." component        the layer is refused
 *   a parent that is (or passes through) a symlink or a non-directory: refused
 *   hardlinks               only to a regular file of this layer, reached without symlinks; else refused
 *   devices, fifos, sockets skipped and counted (a fifo in a shared layer would be a channel between sandboxes)
 *   setuid/setgid/sticky    stripped and counted; modes & 0777; owner root (the caller rootless)
 *   xattrs, ACLs, file caps not restored
 *   sizes and counts        bounded (NC_IMAGE_MAX_FILE, _LAYER_BYTES, _ENTRIES)
 *   whiteouts               ".wh.NAME" -> an overlayfs whiteout (char 0/0), ".wh..wh..opq" -> opaque xattr
 *
 * Symlinks are created with their target as written: they may point anywhere,
 * since they are resolved inside the sandbox's own root at run time. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/archive-lazy.h"
#include "core/util.h"
#include "image/image.h"

#define Q(buf, s) nc_quote((buf), sizeof(buf), (s))

int nc_image_clean_path(const char *name, char *out, size_t cap) {
  size_t o = 0;
  const char *c = name;
  while (*c) {
    while (*c == '/') c++;
    const char *e = c;
    while (*e && *e != '/') e++;
    size_t n = (size_t)(e - c);
    if (n == 0) break;
    if (n == 1 && c[0] == '.') {
      c = e;
      continue;
    }
    if (n == 2 && c[0] == '.' && c[1] == '.') return -EINVAL;
    if (n > 255) return -ENAMETOOLONG;
    if (o + (o ? 1 : 0) + n + 1 > cap) return -ENAMETOOLONG;
    if (o) out[o++] = '/';
    memcpy(out + o, c, n);
    o += n;
    c = e;
  }
  if (cap) out[o] = '\0';
  return o == 0 ? 1 : 0;
}

struct dirmeta {
  char *path; /* relative, "" for the root */
  mode_t mode;
  struct timespec mtime;
};

struct unpack {
  int root;
  struct archive *outer, *inner;
  struct nc_sha256 *h;
  uint64_t bytes;
  struct nc_unpack_stats *st;
  struct dirmeta *dirs;
  size_t n_dirs, cap_dirs;
  char cache_path[NC_IMAGE_PATH_MAX];
  int cache_fd;
  bool privileged;
  nc_error *err;
  char buf[128 * 1024];
};

/* openat2 of one component beneath dirfd, never following a symlink. */
static int open_beneath(int dirfd, const char *name, int flags, mode_t mode) {
  struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
                         .mode = (flags & O_CREAT) ? mode : 0,
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
  int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof how);
  if (fd >= 0 || errno != ENOSYS) return fd;
  if (strchr(name, '/') || !strcmp(name, "..")) {
    errno = EINVAL;
    return -1;
  }
  return openat(dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW, mode);
}

static int refuse(struct unpack *u, int code, const char *entry, const char *why) {
  char q[600];
  return nc_error_set(u->err, code, "entry `%s`: %s (the layer is refused)", Q(q, entry), why);
}

/* A system call on an entry failed: say which, with the (untrusted) name quoted. */
static int sysfail(struct unpack *u, int code, const char *what, const char *entry) {
  char q[600];
  return nc_error_sys(u->err, code, "%s `%s`", what, Q(q, entry));
}

/* The parent directory of rel (an O_PATH fd, owned by the cache: do not
 * close) and the last component. Missing directories are created 0755. */
static int parent_of(struct unpack *u, const char *entry, const char *rel, bool create, int *ret_fd,
                     const char **ret_base) {
  const char *slash = strrchr(rel, '/');
  *ret_base = slash ? slash + 1 : rel;
  size_t plen = slash ? (size_t)(slash - rel) : 0;
  if (u->cache_fd >= 0 && strlen(u->cache_path) == plen && !strncmp(u->cache_path, rel, plen)) {
    *ret_fd = u->cache_fd;
    return 0;
  }
  nc_closep(&u->cache_fd);
  u->cache_fd = -1;
  int cur = (int)fcntl(u->root, F_DUPFD_CLOEXEC, 3);
  if (cur < 0) return nc_error_sys(u->err, errno, "dup");
  size_t i = 0;
  while (i < plen) {
    size_t j = i;
    while (j < plen && rel[j] != '/') j++;
    char comp[256];
    memcpy(comp, rel + i, j - i);
    comp[j - i] = '\0';
    int next = open_beneath(cur, comp, O_PATH | O_DIRECTORY, 0);
    if (next < 0 && errno == ENOENT && create) {
      if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
        int e = errno;
        close(cur);
        return sysfail(u, e, "mkdir for entry", entry);
      }
      next = open_beneath(cur, comp, O_PATH | O_DIRECTORY, 0);
    }
    int e = errno;
    struct stat st;
    if (next < 0 && e == ENOTDIR && fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) e = ELOOP;
    close(cur);
    if (next < 0) {
      if (e == ELOOP || e == EXDEV) return refuse(u, EXDEV, entry, "its parent is or passes through a symlink");
      if (e == ENOTDIR) return refuse(u, ENOTDIR, entry, "its parent is not a directory");
      if (e == ENOENT && !create) return refuse(u, ENOENT, entry, "no such path in this layer");
      return sysfail(u, e, "open the parent of entry", entry);
    }
    cur = next;
    i = j + 1;
  }
  memcpy(u->cache_path, rel, plen);
  u->cache_path[plen] = '\0';
  u->cache_fd = cur;
  *ret_fd = cur;
  return 0;
}

int nc_rm_rf_at(int dir, const char *name) {
  struct stat st;
  if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return errno == ENOENT ? 0 : -errno;
  if (!S_ISDIR(st.st_mode)) return unlinkat(dir, name, 0) < 0 && errno != ENOENT ? -errno : 0;
  int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -errno;
  fchmod(fd, 0700); /* a rootless caller may have left it unwritable */
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return -errno;
  }
  int r = 0;
  for (struct dirent *de; (de = readdir(d));) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    int x = nc_rm_rf_at(dirfd(d), de->d_name);
    if (x < 0 && r == 0) r = x;
  }
  closedir(d);
  if (unlinkat(dir, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0) r = -errno;
  return r;
}

/* Make room for a new entry at pfd/base: a directory stays when the new
 * entry is one too; anything else there goes. */
static int clear_at(struct unpack *u, int pfd, const char *base, bool keep_dir, const char *entry) {
  struct stat st;
  if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) return errno == ENOENT ? 0 : sysfail(u, errno, "stat", entry);
  if (S_ISDIR(st.st_mode) && keep_dir) return 1;
  int r = nc_rm_rf_at(pfd, base);
  return r < 0 ? sysfail(u, -r, "replace", entry) : 0;
}

static int remember_dir(struct unpack *u, const char *rel, mode_t mode, const struct timespec *mt) {
  if (u->n_dirs == u->cap_dirs) {
    size_t cap = u->cap_dirs ? u->cap_dirs * 2 : 256;
    struct dirmeta *v = realloc(u->dirs, cap * sizeof *v);
    if (!v) return nc_error_set(u->err, ENOMEM, "unpack: out of memory");
    u->dirs = v;
    u->cap_dirs = cap;
  }
  char *p = strdup(rel);
  if (!p) return nc_error_set(u->err, ENOMEM, "unpack: out of memory");
  u->dirs[u->n_dirs++] = (struct dirmeta){.path = p, .mode = mode, .mtime = *mt};
  return 0;
}

static mode_t safe_mode(struct unpack *u, mode_t m) {
  if (m & 07000) u->st->stripped_modes++;
  return m & 0777;
}

static int write_data(struct unpack *u, int fd, struct archive_entry *e, const char *entry) {
  const void *blk;
  size_t sz;
  la_int64_t off;
  int r;
  while ((r = archive_read_data_block(u->inner, &blk, &sz, &off)) == ARCHIVE_OK) {
    if (off < 0 || (uint64_t)off + sz > NC_IMAGE_MAX_FILE) return refuse(u, EFBIG, entry, "larger than 8 GiB");
    const char *p = blk;
    while (sz > 0) {
      ssize_t n = pwrite(fd, p, sz, off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return sysfail(u, errno, "write", entry);
      }
      p += n, sz -= (size_t)n, off += n;
    }
  }
  if (r != ARCHIVE_EOF) return nc_error_set(u->err, EIO, "read `%s`: %s", entry, archive_error_string(u->inner));
  if (archive_entry_size_is_set(e)) {
    la_int64_t size = archive_entry_size(e);
    if (size < 0 || (uint64_t)size > NC_IMAGE_MAX_FILE) return refuse(u, EFBIG, entry, "larger than 8 GiB");
    if (ftruncate(fd, size) < 0) return sysfail(u, errno, "truncate", entry);
  }
  return 0;
}

static int do_whiteout(struct unpack *u, int pfd, const char *base, const char *entry) {
  const char *target = base + 4;
  if (!strcmp(base, ".wh..wh..opq")) {
    int d = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0) return sysfail(u, errno, "open the dir of", entry);
    const char *name = u->privileged ? "trusted.overlay.opaque" : "user.overlay.opaque";
    int r = fsetxattr(d, name, "y", 1, 0);
    int e = errno;
    close(d);
    if (r < 0) return sysfail(u, e, "mark opaque for", entry);
    u->st->opaques++;
    return 0;
  }
  if (!strncmp(base, ".wh..wh.", 8)) return 0; /* aufs bookkeeping (.wh..wh.plnk, ...): meaningless here */
  if (!*target || !strcmp(target, ".") || !strcmp(target, ".."))
    return refuse(u, EINVAL, entry, "a whiteout of nothing");
  int r = clear_at(u, pfd, target, false, entry);
  if (r < 0) return r;
  if (mknodat(pfd, target, S_IFCHR | 0, makedev(0, 0)) < 0) return sysfail(u, errno, "whiteout", entry);
  u->st->whiteouts++;
  return 0;
}

static int do_hardlink(struct unpack *u, int pfd, const char *base, const char *entry, const char *link) {
  char trel[NC_IMAGE_PATH_MAX];
  int c = nc_image_clean_path(link, trel, sizeof trel);
  if (c != 0) return refuse(u, EXDEV, entry, "a hardlink whose target is outside the layer");
  /* resolve the target's parent without the cache (it may differ from ours) */
  int keep_fd = (int)fcntl(pfd, F_DUPFD_CLOEXEC, 3);
  if (keep_fd < 0) return nc_error_sys(u->err, errno, "dup");
  int tpfd;
  const char *tbase;
  int r = parent_of(u, entry, trel, false, &tpfd, &tbase);
  if (r < 0) {
    char q[600], t[600];
    r = nc_error_set(u->err, -r,
                     "entry `%s`: a hardlink to `%s`, which is not a file of this layer reached without "
                     "symlinks (the layer is refused)",
                     Q(q, entry), Q(t, link));
  }
  struct stat st;
  if (r == 0 && fstatat(tpfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
    r = errno == ENOENT ? refuse(u, ENOENT, entry, "a hardlink to a file that is not in this layer")
                        : sysfail(u, errno, "stat the target of", entry);
  if (r == 0 && !S_ISREG(st.st_mode)) r = refuse(u, EPERM, entry, "a hardlink to something not a regular file");
  if (r == 0) {
    struct stat dst;
    if (fstatat(keep_fd, base, &dst, AT_SYMLINK_NOFOLLOW) == 0 && dst.st_ino == st.st_ino && dst.st_dev == st.st_dev) {
      close(keep_fd);
      return 0;
    }
    r = clear_at(u, keep_fd, base, false, entry);
  }
  if (r == 0 && linkat(tpfd, tbase, keep_fd, base, 0) < 0) r = sysfail(u, errno, "hardlink", entry);
  close(keep_fd);
  return r < 0 ? r : 0;
}

static int one_entry(struct unpack *u, struct archive_entry *e) {
  char rel[NC_IMAGE_PATH_MAX];
  const char *name = archive_entry_pathname(e);
  if (!name) return nc_error_set(u->err, EINVAL, "an entry whose name cannot be read (the layer is refused)");
  if (++u->st->entries > NC_IMAGE_MAX_ENTRIES) return refuse(u, E2BIG, name, "more than 1000000 entries");
  int c = nc_image_clean_path(name, rel, sizeof rel);
  if (c == -EINVAL) return refuse(u, EINVAL, name, "a `..` component");
  if (c < 0) return refuse(u, ENAMETOOLONG, name, "a name too long");
  mode_t type = archive_entry_filetype(e);
  const char *hl = archive_entry_hardlink(e);
  struct timespec mt = {.tv_sec = archive_entry_mtime(e), .tv_nsec = archive_entry_mtime_nsec(e)};
  if (mt.tv_sec < 0) mt.tv_sec = 0;
  if (c == 1) { /* the layer's root */
    if (type == AE_IFDIR && !hl) return remember_dir(u, "", safe_mode(u, archive_entry_perm(e)), &mt);
    return refuse(u, EINVAL, name, "the layer's root is not a directory");
  }
  int pfd;
  const char *base;
  int r = parent_of(u, name, rel, true, &pfd, &base);
  if (r < 0) return r;
  if (!strncmp(base, ".wh.", 4)) return do_whiteout(u, pfd, base, name);
  if (hl) return do_hardlink(u, pfd, base, name, hl);
  mode_t mode = safe_mode(u, archive_entry_perm(e));
  switch (type) {
    case AE_IFDIR: {
      r = clear_at(u, pfd, base, true, name);
      if (r < 0) return r;
      if (r == 0 && mkdirat(pfd, base, 0700) < 0) return sysfail(u, errno, "mkdir", name);
      return remember_dir(u, rel, mode, &mt);
    }
    case AE_IFREG: {
      if ((r = clear_at(u, pfd, base, false, name)) < 0) return r;
      int fd = open_beneath(pfd, base, O_WRONLY | O_CREAT | O_EXCL, 0600);
      if (fd < 0) return sysfail(u, errno, "create", name);
      r = write_data(u, fd, e, name);
      if (r == 0 && fchmod(fd, mode) < 0) r = sysfail(u, errno, "chmod", name);
      struct timespec ts[2] = {mt, mt};
      if (r == 0) futimens(fd, ts);
      close(fd);
      return r;
    }
    case AE_IFLNK: {
      const char *target = archive_entry_symlink(e);
      if (!target || !*target || strlen(target) >= NC_IMAGE_PATH_MAX) return refuse(u, EINVAL, name, "a bad symlink");
      if ((r = clear_at(u, pfd, base, false, name)) < 0) return r;
      if (symlinkat(target, pfd, base) < 0) return sysfail(u, errno, "symlink", name);
      struct timespec ts[2] = {mt, mt};
      utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
      return 0;
    }
    default: /* char/block devices, fifos, sockets, unknown types */
      u->st->skipped_devices++;
      return 0;
  }
}

/* Directory modes and times last: children first, so a rootless caller can still reach them. */
static int finish_dirs(struct unpack *u) {
  bool root_seen = false;
  for (size_t k = u->n_dirs; k-- > 0;) {
    struct dirmeta *d = &u->dirs[k];
    int fd;
    if (!d->path[0]) {
      if (root_seen) continue;
      root_seen = true;
      fd = (int)fcntl(u->root, F_DUPFD_CLOEXEC, 3);
    } else {
      int pfd;
      const char *base;
      int r = parent_of(u, d->path, d->path, false, &pfd, &base);
      if (r < 0) return r;
      fd = open_beneath(pfd, base, O_RDONLY | O_DIRECTORY, 0);
    }
    if (fd < 0) {
      if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) continue; /* replaced by a later entry */
      return sysfail(u, errno, "open dir", d->path);
    }
    struct timespec ts[2] = {d->mtime, d->mtime};
    int r = fchmod(fd, d->mode);
    futimens(fd, ts);
    close(fd);
    if (r < 0) return sysfail(u, errno, "chmod dir", d->path);
  }
  if (!root_seen && fchmod(u->root, 0755) < 0) return nc_error_sys(u->err, errno, "chmod the layer root");
  return 0;
}

static la_ssize_t inner_read(struct archive *a, void *ud, const void **buf) {
  struct unpack *u = ud;
  la_ssize_t n = archive_read_data(u->outer, u->buf, sizeof u->buf);
  if (n < 0) {
    archive_set_error(a, EIO, "%s", archive_error_string(u->outer));
    return -1;
  }
  u->bytes += (uint64_t)n;
  if (u->bytes > NC_IMAGE_MAX_LAYER_BYTES) {
    archive_set_error(a, EFBIG, "the layer is larger than 8 GiB uncompressed");
    return -1;
  }
  nc_sha256_update(u->h, u->buf, (size_t)n);
  *buf = u->buf;
  return n;
}

int nc_unpack_layer(int fd, int dirfd, char ret_diff_id[NC_DIGEST_LEN], struct nc_unpack_stats *st, nc_error *err) {
  struct nc_unpack_stats dummy;
  if (!st) st = &dummy;
  memset(st, 0, sizeof *st);
  if (!nc_archive_load(err)) return -ENOTSUP;
  struct unpack *u = calloc(1, sizeof *u);
  if (!u) return nc_error_set(err, ENOMEM, "unpack: out of memory");
  u->root = dirfd;
  u->st = st;
  u->err = err;
  u->cache_fd = -1;
  u->privileged = geteuid() == 0;
  u->h = nc_sha256_new();
  u->outer = archive_read_new();
  u->inner = archive_read_new();
  int r = 0;
  if (!u->h || !u->outer || !u->inner) r = nc_error_set(err, ENOMEM, "unpack: out of memory");
  if (r == 0) {
    archive_read_support_filter_gzip(u->outer);
    archive_read_support_filter_zstd(u->outer);
    archive_read_support_format_raw(u->outer);
    archive_read_support_format_tar(u->inner);
    struct archive_entry *raw;
    if (archive_read_open_fd(u->outer, fd, 64 * 1024) != ARCHIVE_OK ||
        archive_read_next_header(u->outer, &raw) != ARCHIVE_OK)
      r = nc_error_set(err, EINVAL, "not a tar, tar+gzip or tar+zstd stream: %s", archive_error_string(u->outer));
  }
  if (r == 0 && archive_read_open(u->inner, u, NULL, inner_read, NULL) != ARCHIVE_OK)
    r = nc_error_set(err, EINVAL, "not a tar stream: %s", archive_error_string(u->inner));
  struct archive_entry *e;
  while (r == 0) {
    int a = archive_read_next_header(u->inner, &e);
    if (a == ARCHIVE_EOF) break;
    if (a != ARCHIVE_OK && a != ARCHIVE_WARN) {
      r = nc_error_set(err, EINVAL, "reading the tar stream: %s", archive_error_string(u->inner));
      break;
    }
    r = one_entry(u, e);
  }
  if (r == 0) r = finish_dirs(u);
  /* the diff_id covers the whole stream, padding after the tar's end too */
  while (r == 0) {
    la_ssize_t n = archive_read_data(u->outer, u->buf, sizeof u->buf);
    if (n < 0) r = nc_error_set(err, EIO, "reading the layer: %s", archive_error_string(u->outer));
    if (n <= 0) break;
    u->bytes += (uint64_t)n;
    if (u->bytes > NC_IMAGE_MAX_LAYER_BYTES)
      r = nc_error_set(err, EFBIG, "the layer is larger than 8 GiB uncompressed");
    else
      nc_sha256_update(u->h, u->buf, (size_t)n);
  }
  st->bytes = u->bytes;
  if (r == 0) {
    nc_sha256_final(u->h, ret_diff_id);
    u->h = NULL;
  }
  nc_sha256_free(u->h);
  if (u->inner) archive_read_free(u->inner);
  if (u->outer) archive_read_free(u->outer);
  nc_closep(&u->cache_fd);
  for (size_t i = 0; i < u->n_dirs; i++) free(u->dirs[i].path);
  free(u->dirs);
  free(u);
  return r;
}
