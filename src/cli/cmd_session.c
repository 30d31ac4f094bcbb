/* cmd_session.c — `nanoclaw session start|exec|stop`: a sandbox that stays up
 * between commands, held by a small daemon that listens on a unix socket
 * (0600, in a 0700 directory of the caller's, peer uid checked). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/commands.h"
#include "config/flags.h"
#include "config/profile.h"
#include "core/error.h"
#include "core/parse.h"
#include "core/util.h"
#include "run/session.h"
#include "sandbox/sandbox.h"

#define MAGIC 0x5843534eu /* "NCSX" */
#define STDIN_MAX (64u << 20)
#define OUTPUT_CAP (16u << 20)
enum { OP_EXEC = 1, OP_STOP = 2 };

struct req {
  uint32_t magic, op;
  uint64_t timeout_ms, stdin_len;
  uint32_t argc, argv_len;
};
struct rep {
  uint32_t magic;
  int32_t status; /* 0, or an errno: msg says what */
  int32_t exit_code, signal;
  uint32_t timed_out, msg_len;
  uint64_t out_len, err_len;
};

static const char session_usage[] =
    "Usage: nanoclaw session start [RUN OPTIONS]        start a sandbox that stays up; prints its id\n"
    "       nanoclaw session exec [-i] [--timeout S] ID [--] CMD [ARGS...]\n"
    "                                                 run CMD inside it (-i: pass stdin); exit status is CMD's\n"
    "       nanoclaw session stop ID                    end it (everything inside is killed); prints the result\n"
    "\n"
    "The session's deadline (--timeout of start, default 60 s) covers its whole life.\n";

/* ---- the socket's place ---- */

static int session_dir(char *buf, size_t n) {
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  int r;
  if (geteuid() == 0) r = snprintf(buf, n, "/run/nanoclaw/sessions");
  else if (xdg && xdg[0] == '/') r = snprintf(buf, n, "%s/nanoclaw/sessions", xdg);
  else r = snprintf(buf, n, "/tmp/nanoclaw-%u/sessions", (unsigned)geteuid());
  return r < 0 || (size_t)r >= n ? -ENAMETOOLONG : 0;
}

/* mkdir -p with 0700 for what we create; the last one must be ours and private. */
static int make_private_dir(const char *path, nc_error *err) {
  char tmp[256];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *s = tmp + 1; *s; s++) {
    if (*s != '/') continue;
    *s = '\0';
    if (mkdir(tmp, 0700) < 0 && errno != EEXIST) return nc_error_sys(err, errno, "mkdir %s", tmp);
    *s = '/';
  }
  if (mkdir(tmp, 0700) < 0 && errno != EEXIST) return nc_error_sys(err, errno, "mkdir %s", tmp);
  struct stat st;
  if (lstat(tmp, &st) < 0) return nc_error_sys(err, errno, "stat %s", tmp);
  if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
    return nc_error_set(err, EPERM, "%s: not a private directory of uid %u", tmp, (unsigned)geteuid());
  return 0;
}

static bool id_ok(const char *id) {
  size_t n = strlen(id);
  if (n != 32) return false;
  for (size_t i = 0; i < n; i++)
    if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return false;
  return true;
}

static int socket_addr(const char *id, struct sockaddr_un *a, nc_error *err) {
  char dir[200];
  if (!id_ok(id)) return nc_error_set(err, EINVAL, "session: \"%.64s\" is not a session id (32 hex digits)", id);
  if (session_dir(dir, sizeof dir) < 0) return nc_error_set(err, ENAMETOOLONG, "session: runtime directory too long");
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  int r = snprintf(a->sun_path, sizeof a->sun_path, "%s/%s.sock", dir, id);
  if (r < 0 || (size_t)r >= sizeof a->sun_path) return nc_error_set(err, ENAMETOOLONG, "session: socket path too long");
  return 0;
}

/* ---- plumbing ---- */

static int read_full(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return r < 0 ? -errno : -EPIPE;
    got += (size_t)r;
  }
  return 0;
}

static int send_full(int fd, const void *buf, size_t n) {
  size_t off = 0;
  while (off < n) {
    ssize_t r = send(fd, (const char *)buf + off, n - off, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -errno;
    off += (size_t)r;
  }
  return 0;
}

static int send_reply(int fd, int status, const nc_exec_result *er, const char *msg) {
  struct rep h = {.magic = MAGIC, .status = status, .msg_len = msg ? (uint32_t)strlen(msg) : 0};
  if (er) {
    h.exit_code = er->exit_code, h.signal = er->signal, h.timed_out = er->timed_out;
    h.out_len = er->out_len, h.err_len = er->err_len;
  }
  int r = send_full(fd, &h, sizeof h);
  if (r == 0 && h.msg_len) r = send_full(fd, msg, h.msg_len);
  if (r == 0 && h.out_len) r = send_full(fd, er->out, h.out_len);
  if (r == 0 && h.err_len) r = send_full(fd, er->err, h.err_len);
  return r;
}

/* ---- the daemon ---- */

struct daemon {
  nc_session *ss;
  const nc_profile *p;
  int lfd;
  struct sockaddr_un addr;
  bool done;
};

static void run_exec(struct daemon *d, int c, char **argv, const char *in, size_t in_len, uint64_t timeout_ms);

static void serve_client(struct daemon *d, int c) {
  struct ucred cred;
  socklen_t cl = sizeof cred;
  if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || (cred.uid != geteuid() && cred.uid != 0)) {
    send_reply(c, EPERM, NULL, "session: not your session");
    return;
  }
  struct timeval tv = {.tv_sec = 10};
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct req q;
  if (read_full(c, &q, sizeof q) < 0 || q.magic != MAGIC) return;
  if (q.op == OP_STOP) {
    nc_run_result res;
    nc_error err = {0};
    int r = nc_session_stop(d->ss, &res, &err);
    d->ss = NULL;
    d->done = true;
    unlink(d->addr.sun_path);
    nc_autofree char *json = r == 0 ? nc_run_result_to_json(d->p, &res) : NULL;
    send_reply(c, r < 0 ? -r : 0, NULL, r < 0 ? err.msg : json ? json : "{}");
    return;
  }
  if (q.op != OP_EXEC || q.argc == 0 || q.argc > NC_EXEC_ARGC_MAX || q.argv_len == 0 ||
      q.argv_len > NC_EXEC_ARGV_MAX || q.stdin_len > STDIN_MAX) {
    send_reply(c, EINVAL, NULL, "session: bad request");
    return;
  }
  char *packed = malloc(q.argv_len + 1), **argv = calloc(q.argc + 1, sizeof *argv);
  char *in = q.stdin_len ? malloc(q.stdin_len) : NULL;
  if (!packed || !argv || (q.stdin_len && !in)) {
    send_reply(c, ENOMEM, NULL, "session: out of memory");
  } else if (read_full(c, packed, q.argv_len) == 0 && (!q.stdin_len || read_full(c, in, q.stdin_len) == 0)) {
    packed[q.argv_len] = '\0';
    size_t k = 0;
    for (size_t off = 0; off < q.argv_len && k < q.argc; k++) {
      argv[k] = packed + off;
      off += strlen(packed + off) + 1;
    }
    if (k == q.argc) run_exec(d, c, argv, in, q.stdin_len, q.timeout_ms);
    else send_reply(c, EINVAL, NULL, "session: bad argv");
  }
  free(packed);
  free(argv);
  free(in);
}

static void run_exec(struct daemon *d, int c, char **argv, const char *in, size_t in_len, uint64_t timeout_ms) {
  nc_exec_result er;
  nc_error err = {0};
  int r = nc_session_exec(d->ss, argv, in, in_len, timeout_ms, OUTPUT_CAP, &er, &err);
  if (r < 0) {
    send_reply(c, -r, NULL, err.msg);
    if (!nc_session_poll(d->ss)) d->done = true;
    return;
  }
  send_reply(c, 0, &er, err.msg[0] ? err.msg : NULL);
  nc_exec_result_free(&er);
}

static void __attribute__((noreturn)) daemon_main(nc_profile *p, int report) {
  struct daemon d = {.lfd = -1, .p = p};
  nc_error err = {0};
  char dir[200];
  int r = session_dir(dir, sizeof dir) < 0 ? nc_error_set(&err, ENAMETOOLONG, "session directory") : 0;
  if (r == 0) r = make_private_dir(dir, &err);
  if (r == 0) r = nc_session_start(p, &d.ss, &err);
  if (r == 0) r = socket_addr(nc_session_id(d.ss), &d.addr, &err);
  if (r == 0 && (d.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) r = nc_error_sys(&err, errno, "socket");
  mode_t old = umask(077);
  if (r == 0 && bind(d.lfd, (struct sockaddr *)&d.addr, sizeof d.addr) < 0) r = nc_error_sys(&err, errno, "bind %s", d.addr.sun_path);
  umask(old);
  if (r == 0 && listen(d.lfd, 16) < 0) r = nc_error_sys(&err, errno, "listen");
  char line[1100];
  snprintf(line, sizeof line, "%c%s", r == 0 ? 'O' : 'E', r == 0 ? nc_session_id(d.ss) : err.msg);
  (void)!write(report, line, strlen(line));
  close(report);
  if (r < 0) {
    if (d.ss) nc_session_stop(d.ss, NULL, &err);
    _exit(NC_EXIT_SETUP);
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event e1 = {.events = EPOLLIN, .data.fd = d.lfd}, e2 = {.events = EPOLLIN, .data.fd = -2};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, d.lfd, &e1) < 0 ||
      epoll_ctl(ep, EPOLL_CTL_ADD, nc_session_fd(d.ss), &e2) < 0)
    d.done = true;
  while (!d.done) {
    struct epoll_event ev[4];
    int n = epoll_wait(ep, ev, 4, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < n && !d.done; i++) {
      if (ev[i].data.fd == -2) {
        if (!nc_session_poll(d.ss)) d.done = true; /* the deadline, or everything inside ended */
      } else {
        int c = accept4(d.lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c >= 0) {
          serve_client(&d, c);
          close(c);
        }
      }
    }
  }
  if (d.ss) {
    unlink(d.addr.sun_path);
    nc_session_stop(d.ss, NULL, &err);
  }
  _exit(0);
}

static int cmd_start(int argc, char **argv) {
  nc_profile *p = nc_profile_new();
  nc_error err = {0};
  int next = argc, help = 0;
  if (!p) return NC_EXIT_SETUP;
  if (nc_profile_parse_args(p, argc, argv, 2, &next, &help, &err) < 0) {
    fprintf(stderr, "nanoclaw: %s\n", err.msg);
    nc_profile_free(p);
    return NC_EXIT_SETUP;
  }
  if (help || next < argc) {
    if (!help) fprintf(stderr, "nanoclaw: session start: unexpected argument `%s`\n", argv[next]);
    fputs(session_usage, help ? stdout : stderr);
    nc_profile_free(p);
    return help ? 0 : NC_EXIT_SETUP;
  }
  if (nc_profile_validate(p, &err) < 0) {
    fprintf(stderr, "nanoclaw: %s\n", err.msg);
    nc_profile_free(p);
    return NC_EXIT_SETUP;
  }
  int pp[2];
  if (pipe2(pp, O_CLOEXEC) < 0) {
    perror("nanoclaw: pipe");
    return NC_EXIT_SETUP;
  }
  fflush(stdout);
  pid_t a = fork();
  if (a < 0) {
    perror("nanoclaw: fork");
    return NC_EXIT_SETUP;
  }
  if (a == 0) { /* detach: new session, then a grandchild that nobody waits on */
    close(pp[0]);
    setsid();
    pid_t b = fork();
    if (b != 0) _exit(b < 0 ? NC_EXIT_SETUP : 0);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    if (chdir("/") < 0) _exit(NC_EXIT_SETUP);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
      dup2(null, 0), dup2(null, 1), dup2(null, 2);
      if (null > 2) close(null);
    }
    daemon_main(p, pp[1]);
  }
  close(pp[1]);
  int st;
  while (waitpid(a, &st, 0) < 0 && errno == EINTR) {}
  char line[1100];
  ssize_t n = 0, got;
  while ((got = read(pp[0], line + n, sizeof line - 1 - (size_t)n)) > 0 || (got < 0 && errno == EINTR))
    if (got > 0) n += got;
  close(pp[0]);
  nc_profile_free(p);
  line[n > 0 ? n : 0] = '\0';
  if (n > 0 && line[0] == 'O') {
    printf("%s\n", line + 1);
    return 0;
  }
  fprintf(stderr, "nanoclaw: session start: %s\n", n > 0 ? line + 1 : "the session daemon died");
  return NC_EXIT_SETUP;
}

static int connect_session(const char *id, nc_error *err) {
  struct sockaddr_un a;
  int r = socket_addr(id, &a, err);
  if (r < 0) return r;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return nc_error_sys(err, errno, "socket");
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    int e = errno;
    close(fd);
    if (e == ENOENT || e == ECONNREFUSED) return nc_error_set(err, ESRCH, "session %s: no such session (ended?)", id);
    return nc_error_sys(err, e, "session %s: connect", id);
  }
  return fd;
}

static int read_reply(int fd, struct rep *h, char **msg, char **out, char **errb) {
  *msg = *out = *errb = NULL;
  int r = read_full(fd, h, sizeof *h);
  if (r < 0 || h->magic != MAGIC || h->msg_len > (1u << 20) || h->out_len > OUTPUT_CAP || h->err_len > OUTPUT_CAP)
    return -EPROTO;
  *msg = calloc(1, h->msg_len + 1);
  *out = malloc(h->out_len + 1);
  *errb = malloc(h->err_len + 1);
  if (!*msg || !*out || !*errb) return -ENOMEM;
  if ((r = read_full(fd, *msg, h->msg_len)) < 0 || (r = read_full(fd, *out, h->out_len)) < 0 ||
      (r = read_full(fd, *errb, h->err_len)) < 0)
    return r;
  return 0;
}

static int cmd_exec(int argc, char **argv) {
  uint64_t timeout_ms = 0;
  bool with_stdin = false;
  int i = 2;
  nc_error err = {0};
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "-i") || !strcmp(argv[i], "--stdin")) with_stdin = true;
    else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
      if (nc_parse_duration_ms(argv[++i], &timeout_ms) < 0) {
        fprintf(stderr, "nanoclaw: session exec: --timeout: \"%s\" is not a duration\n", argv[i]);
        return NC_EXIT_SETUP;
      }
    } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      fputs(session_usage, stdout);
      return 0;
    } else {
      fprintf(stderr, "nanoclaw: session exec: unknown option `%s`\n", argv[i]);
      return NC_EXIT_SETUP;
    }
  }
  if (i >= argc) {
    fprintf(stderr, "nanoclaw: session exec: no session id\n");
    return NC_EXIT_SETUP;
  }
  const char *id = argv[i++];
  if (i < argc && !strcmp(argv[i], "--")) i++;
  if (i >= argc) {
    fprintf(stderr, "nanoclaw: session exec: no command given\n");
    return NC_EXIT_SETUP;
  }
  size_t len = 0;
  for (int k = i; k < argc; k++) len += strlen(argv[k]) + 1;
  if (len > NC_EXEC_ARGV_MAX || argc - i > NC_EXEC_ARGC_MAX) {
    fprintf(stderr, "nanoclaw: session exec: argv too long\n");
    return NC_EXIT_SETUP;
  }
  nc_autofree char *in = NULL;
  size_t in_len = 0;
  if (with_stdin) {
    in = malloc(STDIN_MAX);
    ssize_t n;
    while (in && in_len < STDIN_MAX && ((n = read(0, in + in_len, STDIN_MAX - in_len)) > 0 || (n < 0 && errno == EINTR)))
      if (n > 0) in_len += (size_t)n;
    if (!in) return NC_EXIT_SETUP;
  }
  int fd = connect_session(id, &err);
  if (fd < 0) {
    fprintf(stderr, "nanoclaw: %s\n", err.msg);
    return NC_EXIT_SETUP;
  }
  struct req q = {.magic = MAGIC, .op = OP_EXEC, .timeout_ms = timeout_ms, .stdin_len = in_len,
                  .argc = (uint32_t)(argc - i), .argv_len = (uint32_t)len};
  int r = send_full(fd, &q, sizeof q);
  for (int k = i; r == 0 && k < argc; k++) r = send_full(fd, argv[k], strlen(argv[k]) + 1);
  if (r == 0 && in_len) r = send_full(fd, in, in_len);
  struct rep h = {0};
  char *msg = NULL, *out = NULL, *errb = NULL;
  if (r == 0) r = read_reply(fd, &h, &msg, &out, &errb);
  close(fd);
  int status;
  if (r < 0) {
    fprintf(stderr, "nanoclaw: session %s: the session daemon did not answer (%s)\n", id, strerror(-r));
    status = NC_EXIT_SETUP;
  } else if (h.status) {
    fprintf(stderr, "nanoclaw: %s\n", msg);
    status = NC_EXIT_SETUP;
  } else {
    nc_write_all(1, out, h.out_len);
    nc_write_all(2, errb, h.err_len);
    if (msg[0]) fprintf(stderr, "nanoclaw: %s\n", msg);
    if (h.timed_out) fprintf(stderr, "nanoclaw: session exec: killed after its --timeout\n");
    status = h.exit_code;
  }
  free(msg), free(out), free(errb);
  return status;
}

static int cmd_stop(int argc, char **argv) {
  nc_error err = {0};
  if (argc != 3) {
    fputs(session_usage, stderr);
    return NC_EXIT_SETUP;
  }
  int fd = connect_session(argv[2], &err);
  if (fd < 0) {
    fprintf(stderr, "nanoclaw: %s\n", err.msg);
    return NC_EXIT_SETUP;
  }
  struct req q = {.magic = MAGIC, .op = OP_STOP};
  struct rep h = {0};
  char *msg = NULL, *out = NULL, *errb = NULL;
  int r = send_full(fd, &q, sizeof q);
  if (r == 0) r = read_reply(fd, &h, &msg, &out, &errb);
  close(fd);
  int status = 0;
  if (r < 0 || h.status) {
    fprintf(stderr, "nanoclaw: session %s: %s\n", argv[2], r < 0 ? strerror(-r) : msg);
    status = NC_EXIT_SETUP;
  } else {
    printf("%s\n", msg);
  }
  free(msg), free(out), free(errb);
  return status;
}

int nc_cmd_session(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    fputs(session_usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? NC_EXIT_SETUP : 0;
  }
  if (!strcmp(argv[1], "start")) return cmd_start(argc, argv);
  if (!strcmp(argv[1], "exec")) return cmd_exec(argc, argv);
  if (!strcmp(argv[1], "stop")) return cmd_stop(argc, argv);
  fprintf(stderr, "nanoclaw: session: unknown subcommand `%s` (start, exec, stop)\n", argv[1]);
  return NC_EXIT_SETUP;
}
