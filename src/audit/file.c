/* file.c — the audit log file: safe open and atomic creation, append-only attribute, locked appends that find
 * seq and prev in the file's tail and repair a torn tail. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit-internal.h"
#include "core/error.h"
#include "core/util.h"

/* The tail read by an append: the torn region, the last record and the newline before it. */
#define TAIL_MAX (NC_AUDIT_TORN_MAX + NC_AUDIT_RECORD_MAX + 2)

static const char zeros[NC_AUDIT_HEX_LEN + 1] = "0000000000000000000000000000000000000000000000000000000000000000";

static int mkdir_p(const char *dir, nc_error *err) {
  char p[4096];
  size_t n = strlen(dir);
  if (n >= sizeof p) return nc_error_set(err, ENAMETOOLONG, "audit log directory `%s`: path too long", dir);
  memcpy(p, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (p[i] != '/' && p[i] != '\0') continue;
    char c = p[i];
    p[i] = '\0';
    if (mkdir(p, 0700) < 0 && errno != EEXIST)
      return nc_error_sys(err, errno, "creating audit log directory `%s`", dir);
    p[i] = c;
  }
  return 0;
}

static int build_genesis(json_t *torn, const char *time, char **ret, size_t *ret_len, nc_error *err) {
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) < 0) host[0] = '\0';
  json_t *f = json_pack("{s:i,s:s,s:s}", "version", NC_AUDIT_VERSION, "created", time, "host", host);
  if (!f) f = json_pack("{s:i,s:s}", "version", NC_AUDIT_VERSION, "created", time); /* a non-UTF-8 hostname */
  if (!f) return nc_error_set(err, ENOMEM, "building the genesis record");
  if (torn) json_object_update(f, torn);
  int r = nc_audit_record_format(0, time, NULL, "genesis", f, false, zeros, ret, ret_len, err);
  json_decref(f);
  return r;
}

/* Create base in dfd holding a genesis record, atomically: a temp file, fsynced, then linked into place
 * (linkat fails with EEXIST rather than replace a log another process created meanwhile). 1 created, 0 it
 * existed already. */
static int create_log(int dfd, const char *base, const char *path, char **ret_genesis, nc_error *err) {
  char tmp[300], rnd[33], time[NC_AUDIT_TIME_LEN + 1];
  if (nc_random_id(rnd) < 0) return nc_error_sys(err, errno, "creating audit log `%s`: getrandom", path);
  snprintf(tmp, sizeof tmp, ".%.200s.%s.tmp", base, rnd);
  nc_autofree char *g = NULL;
  size_t glen = 0;
  nc_audit_now(time);
  int r = build_genesis(NULL, time, &g, &glen, err);
  if (r < 0) return r;
  g[glen] = '\n'; /* the buffer has room: formatted lines are NUL-terminated */
  int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return nc_error_sys(err, errno, "creating audit log `%s`", path);
  r = nc_write_all(fd, g, glen + 1);
  if (r == 0 && fsync(fd) < 0) r = -errno;
  close(fd);
  if (r == 0 && linkat(dfd, tmp, dfd, base, 0) < 0) r = -errno;
  unlinkat(dfd, tmp, 0);
  if (r == -EEXIST) return 0;
  if (r < 0) return nc_error_sys(err, -r, "creating audit log `%s`", path);
  if (fsync(dfd) < 0) return nc_error_sys(err, errno, "syncing the directory of audit log `%s`", path);
  g[glen] = '\0';
  free(*ret_genesis);
  *ret_genesis = nc_steal_ptr(&g);
  return 1;
}

static int set_append_only(int fd, const char *path, nc_error *err) {
  int flags = 0;
  if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0) {
    if (errno == ENOTTY || errno == EOPNOTSUPP || errno == EINVAL)
      return nc_error_set(err, EOPNOTSUPP, "audit.append_only: the file system of `%s` has no append-only attribute",
                          path);
    return nc_error_sys(err, errno, "audit.append_only: reading the attributes of `%s`", path);
  }
  if (flags & FS_APPEND_FL) return 0;
  flags |= FS_APPEND_FL;
  if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0) {
    if (errno == EPERM)
      return nc_error_set(err, EPERM,
                          "audit.append_only: setting the append-only attribute of `%s` needs root "
                          "(CAP_LINUX_IMMUTABLE)",
                          path);
    if (errno == ENOTTY || errno == EOPNOTSUPP || errno == EINVAL)
      return nc_error_set(err, EOPNOTSUPP, "audit.append_only: the file system of `%s` has no append-only attribute",
                          path);
    return nc_error_sys(err, errno, "audit.append_only: setting the append-only attribute of `%s`", path);
  }
  return 0;
}

/* A file we append to must be an audit log already: its first line a genesis record (or, for a log whose
 * genesis write was interrupted, a start of one). Guards against --audit-log /etc/passwd. */
static int check_is_log(int fd, const char *path, off_t size, nc_error *err) {
  if (size == 0) return 0;
  size_t cap = NC_AUDIT_RECORD_MAX;
  nc_autofree char *buf = malloc(cap);
  if (!buf) return nc_error_set(err, ENOMEM, "reading audit log `%s`", path);
  ssize_t n;
  do n = pread(fd, buf, cap, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return nc_error_sys(err, errno, "reading audit log `%s`", path);
  char *nl = memchr(buf, '\n', (size_t)n);
  static const char start[] = "{\"seq\":0,\"time\":\"";
  bool cut_genesis = (size_t)n >= sizeof start - 1 && !memcmp(buf, start, sizeof start - 1);
  if (!nl && (size_t)n == cap)
    return nc_error_set(err, EBADMSG, "`%s` is not a nanoclaw audit log (line 1 is too long)", path);
  struct nc_audit_rec rec;
  nc_error e = {0};
  if (!nl || nc_audit_record_parse(buf, (size_t)(nl - buf), &rec, &e) < 0) {
    if (cut_genesis) return 0; /* its write was interrupted; appends repair it */
    if (!nl) return nc_error_set(err, EBADMSG, "`%s` is not a nanoclaw audit log (no genesis record on line 1)", path);
    return nc_error_set(err, EBADMSG, "`%s` is not a nanoclaw audit log (line 1: %s)", path, e.msg);
  }
  bool genesis = !strcmp(rec.event, "genesis") && rec.seq == 0;
  nc_audit_rec_free(&rec);
  if (!genesis)
    return nc_error_set(err, EBADMSG, "`%s` is not a nanoclaw audit log (no genesis record on line 1)", path);
  return 0;
}

int nc_audit_file_open(const char *path, bool append_only, int *ret_fd, char **ret_genesis, nc_error *err) {
  if (ret_genesis) *ret_genesis = NULL;
  nc_autofree char *genesis = NULL;
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  char dir[4096];
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == path)
    snprintf(dir, sizeof dir, "/");
  else if ((size_t)(slash - path) >= sizeof dir)
    return nc_error_set(err, ENAMETOOLONG, "audit log `%s`: path too long", path);
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  if (!*base || !strcmp(base, ".") || !strcmp(base, "..") || strlen(base) > 255)
    return nc_error_set(err, EINVAL, "audit log `%s`: not a file name", path);
  int r = mkdir_p(dir, err);
  if (r < 0) return r;
  nc_autoclose int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) {
    if (errno == ELOOP || errno == ENOTDIR)
      return nc_error_set(err, ELOOP, "audit log directory `%s` is a symbolic link or not a directory; refusing it",
                          dir);
    return nc_error_sys(err, errno, "opening audit log directory `%s`", dir);
  }
  nc_autoclose int fd = -1;
  for (int tries = 0; fd < 0; tries++) {
    /* O_RDWR to read the tail back; O_APPEND writes go to the end (and an append-only file allows them). */
    fd = openat(dfd, base, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (fd >= 0) break;
    if (errno == ELOOP) return nc_error_set(err, ELOOP, "audit log `%s` is a symbolic link; refusing it", path);
    if (errno != ENOENT || tries > 3) return nc_error_sys(err, errno, "opening audit log `%s`", path);
    r = create_log(dfd, base, path, &genesis, err);
    if (r < 0) return r;
  }
  struct stat st;
  if (fstat(fd, &st) < 0) return nc_error_sys(err, errno, "opening audit log `%s`", path);
  if (!S_ISREG(st.st_mode)) return nc_error_set(err, EINVAL, "audit log `%s` is not a regular file", path);
  if (fcntl(fd, F_SETFL, O_APPEND) < 0) return nc_error_sys(err, errno, "opening audit log `%s`", path);
  if ((r = check_is_log(fd, path, st.st_size, err)) < 0) return r;
  if (append_only && (r = set_append_only(fd, path, err)) < 0) return r;
  if (ret_genesis) *ret_genesis = nc_steal_ptr(&genesis);
  *ret_fd = nc_steal_fd(&fd);
  return 0;
}

void nc_audit_written_free(struct nc_audit_written *w) {
  for (size_t i = 0; i < w->n; i++) free(w->line[i]);
  w->n = 0;
}

/* What the tail of the file says: the last record and the bytes after it. */
struct tail {
  bool have_record;
  uint64_t seq;                    /* of the last record */
  char hash[NC_AUDIT_HEX_LEN + 1]; /* sha256 of its line */
  const char *region;              /* bytes after its newline up to the end of the file */
  size_t region_len;
};

static bool is_record(const char *line, size_t len, uint64_t *seq) {
  struct nc_audit_rec rec;
  if (nc_audit_record_parse(line, len, &rec, NULL) < 0) return false;
  *seq = rec.seq;
  nc_audit_rec_free(&rec);
  return true;
}

/* buf holds the last n bytes of a file of size bytes. The last newline-terminated line that is a record is the
 * last record; a final line without newline is never one (its write was cut short). 1: look at a bigger
 * window (not when final). */
static int find_tail(const char *buf, size_t n, off_t size, bool final, struct tail *t, const char *path,
                     nc_error *err) {
  memset(t, 0, sizeof *t);
  bool whole = (off_t)n == size;
  size_t end = n; /* the candidate line ends before buf[end - 1] == '\n' */
  while (end > 0 && buf[end - 1] != '\n') end--;
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && buf[start - 1] != '\n') start--;
    if (start == 0 && !whole) break; /* the line may begin before the window */
    if (n - end > NC_AUDIT_TORN_MAX) break;
    if (is_record(buf + start, end - 1 - start, &t->seq)) {
      t->have_record = true;
      nc_audit_sha256_hex(buf + start, end - 1 - start, t->hash);
      t->region = buf + end;
      t->region_len = n - end;
      return 0;
    }
    end = start;
  }
  if (!whole && !final && n - end <= NC_AUDIT_TORN_MAX) return 1;
  if (whole && n <= NC_AUDIT_TORN_MAX) { /* no record at all: the genesis itself was cut short */
    t->region = buf;
    t->region_len = n;
    return 0;
  }
  return nc_error_set(err, EBADMSG,
                      "appending to audit log `%s`: no complete record in its last %u KiB; the log is damaged "
                      "(see `nanoclaw audit verify`)",
                      path, NC_AUDIT_TORN_MAX / 1024);
}

/* The last n bytes of the file (a file of size bytes). */
static int read_tail(int fd, off_t size, size_t n, char **ret) {
  char *buf = malloc(n + 1);
  if (!buf) return -ENOMEM;
  size_t got = 0;
  while (got < n) {
    ssize_t k = pread(fd, buf + got, n - got, size - (off_t)n + (off_t)got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      int e = k < 0 ? errno : EIO;
      free(buf);
      return -e;
    }
    got += (size_t)k;
  }
  *ret = buf;
  return 0;
}

/* Find the last record from the end of the file, reading a window that doubles from 8 KiB up to TAIL_MAX. */
static int scan_tail(int fd, off_t size, char **ret_buf, struct tail *t, const char *path, nc_error *err) {
  for (size_t want = 8192;; want *= 2) {
    size_t n = want < TAIL_MAX ? want : TAIL_MAX;
    if ((off_t)n > size) n = (size_t)size;
    char *buf = NULL;
    int r = read_tail(fd, size, n, &buf);
    if (r < 0) return nc_error_sys(err, -r, "reading the tail of audit log `%s`", path);
    r = find_tail(buf, n, size, n == TAIL_MAX, t, path, err);
    if (r <= 0) {
      *ret_buf = buf;
      return r;
    }
    free(buf);
  }
}

/* Add a line to w (taking it) and to the write buffer. */
static int add_line(struct nc_audit_written *w, char *line, size_t len, char **out, size_t *out_len) {
  char *o = realloc(*out, *out_len + len + 1);
  if (!o) {
    free(line);
    return -ENOMEM;
  }
  memcpy(o + *out_len, line, len);
  o[*out_len + len] = '\n';
  *out = o;
  *out_len += len + 1;
  w->line[w->n] = line;
  w->len[w->n++] = len;
  return 0;
}

static int append_locked(int fd, const char *path, const char *sandbox, const char *event, json_t *fields, bool sync,
                         struct nc_audit_written *w, nc_error *err) {
  struct stat st;
  if (fstat(fd, &st) < 0) return nc_error_sys(err, errno, "appending to audit log `%s`", path);
  nc_autofree char *buf = NULL;
  struct tail t = {0};
  if (st.st_size > 0) {
    int r = scan_tail(fd, st.st_size, &buf, &t, path, err);
    if (r < 0) return r;
  }
  nc_audit_now(w->time);
  nc_autofree char *out = NULL;
  size_t out_len = 0;
  if (t.region_len > 0 && t.region[t.region_len - 1] != '\n') {
    out = strdup("\n");
    if (!out) return nc_error_set(err, ENOMEM, "appending to audit log `%s`", path);
    out_len = 1;
  }
  char *line = NULL;
  size_t len = 0;
  int r = 0;
  uint64_t seq = 0;
  char prev[NC_AUDIT_HEX_LEN + 1];
  json_t *torn = NULL;
  if (t.region_len > 0) {
    size_t tl = t.region_len - (t.region[t.region_len - 1] == '\n');
    char th[NC_AUDIT_HEX_LEN + 1];
    nc_audit_sha256_hex(t.region, tl, th);
    torn = json_pack("{s:I,s:s}", "torn_bytes", (json_int_t)tl, "torn_sha256", th);
    if (!torn) return nc_error_set(err, ENOMEM, "appending to audit log `%s`", path);
  }
  if (!t.have_record) {
    r = build_genesis(torn, w->time, &line, &len, err);
    if (r == 0) r = add_line(w, line, len, &out, &out_len);
    if (r == 0) nc_audit_sha256_hex(w->line[w->n - 1], w->len[w->n - 1], prev);
    seq = 1;
  } else {
    memcpy(prev, t.hash, sizeof prev);
    seq = t.seq + 1;
    if (torn) {
      r = nc_audit_record_format(seq, w->time, NULL, "torn", torn, false, prev, &line, &len, err);
      if (r == 0) r = add_line(w, line, len, &out, &out_len);
      if (r == 0) nc_audit_sha256_hex(w->line[w->n - 1], w->len[w->n - 1], prev);
      seq++;
    }
  }
  json_decref(torn);
  if (r == 0) r = nc_audit_record_format(seq, w->time, sandbox, event, fields, true, prev, &line, &len, err);
  if (r == 0) r = add_line(w, line, len, &out, &out_len);
  if (r == -ENOMEM) return nc_error_set(err, ENOMEM, "appending to audit log `%s`", path);
  if (r < 0) return r;
  if ((r = nc_write_all(fd, out, out_len)) < 0) return nc_error_sys(err, -r, "appending to audit log `%s`", path);
  if (sync && fsync(fd) < 0) return nc_error_sys(err, errno, "syncing audit log `%s`", path);
  return 0;
}

int nc_audit_file_append(int fd, const char *path, const char *sandbox, const char *event, json_t *fields, bool sync,
                         struct nc_audit_written *w, nc_error *err) {
  memset(w, 0, sizeof *w);
  int r;
  while ((r = flock(fd, LOCK_EX)) < 0 && errno == EINTR) {
  }
  if (r < 0) return nc_error_sys(err, errno, "locking audit log `%s`", path);
  r = append_locked(fd, path, sandbox, event, fields, sync, w, err);
  flock(fd, LOCK_UN);
  if (r < 0) nc_audit_written_free(w);
  return r;
}
