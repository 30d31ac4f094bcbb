/* proxy.c — the egress proxy's engine: one epoll set of its own (watched by
 * the supervisor as a single fd), a state machine per client connection, name
 * resolution on detached worker threads (getaddrinfo blocks; the loop never
 * does), and splice(2) through a pipe per direction once a connection is
 * allowed. A slow or hostile client costs one slot and its own buffers. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/util.h"
#include "net/allowlist.h"
#include "net/proxy-parse.h"
#include "net/proxy.h"

#define MAX_ADDRS 8
/* Per direction. Pipe pages are charged to the supervisor, not the sandbox:
 * 128 connections x 2 x 256 KiB bound what a sandbox can pin at 64 MiB. 1 MiB
 * pipes were no faster in bench/proxy. */
#define PIPE_SIZE (256u << 10)
#define LINGER_MS 2000
#define TICK_MS 250

enum tag_kind { TAG_LISTEN, TAG_TIMER, TAG_RESOLVED, TAG_CLIENT, TAG_UPSTREAM };
struct tag {
  enum tag_kind kind;
  struct conn *c;
};

enum cstate {
  C_HEAD,     /* reading an HTTP head or a SOCKS5 greeting/request */
  C_RESOLVE,  /* a worker resolves the name */
  C_CONNECT,  /* non-blocking connect to addrs[ai] */
  C_RELAY,    /* splicing both ways (after any pending reply/head bytes) */
  C_LINGER,   /* refused: reply written, draining the client before close */
};
enum proto { P_UNKNOWN, P_HTTP, P_CONNECT, P_SOCKS5 };

struct pipe_dir {
  int r, w;
  size_t len;       /* bytes in the pipe */
  bool eof;         /* the source said EOF */
  bool shut;        /* the destination was shut for writing */
  bool blocked;     /* the last splice in returned EAGAIN with bytes in the pipe (full?) */
};

struct resolve_job;

struct conn {
  struct conn *prev, *next;
  struct nc_proxy *px;
  struct tag ctag, utag;
  int cfd, ufd;
  uint32_t cev, uev;       /* current epoll interest, (uint32_t)-1: not registered */
  enum cstate st;
  enum proto proto;
  bool socks_greeted;
  char *in;                /* the request head being read */
  size_t in_len;
  char *cout;              /* bytes for the client before relaying (a reply) */
  size_t cout_len, cout_off;
  char *uout;              /* bytes for upstream before relaying (head, pipelined data) */
  size_t uout_len, uout_off;
  char host[256];
  unsigned port;
  int families[MAX_ADDRS];
  uint8_t addrs[MAX_ADDRS][16];
  size_t n_addrs, ai;
  char addr_text[INET6_ADDRSTRLEN + 8];
  struct pipe_dir up, down; /* up: client -> upstream */
  uint64_t bytes_out, bytes_in;
  uint64_t t0, deadline, last_io;
  bool allowed, counted;
  char reason[300];
  struct resolve_job *job;
};

/* Shared between the loop and resolver threads; freed by whoever drops the last reference. */
struct resolver {
  pthread_mutex_t lock;
  int refs;
  bool closed;
  int efd;
  struct resolve_job *done; /* completed jobs, LIFO */
};

struct resolve_job {
  struct resolve_job *next;
  struct resolver *rs;
  struct conn *c;           /* NULL once abandoned (guarded by rs->lock) */
  char host[256];
  int err;                  /* EAI_* or 0 */
  size_t n;
  int families[MAX_ADDRS];
  uint8_t addrs[MAX_ADDRS][16];
};

struct nc_proxy {
  int epfd, lfd, tfd;
  struct tag ltag, ttag, rtag;
  bool listening;
  struct nc_allowlist al;
  struct nc_proxy_limits lim;
  struct conn *conns;
  unsigned n_conns;
  struct resolver *rs;
  nc_proxy_observer observer;
  void *observer_ctx;
  struct nc_proxy_stats stats;
};

static uint64_t now_ms(void) { return nc_now_ns() / 1000000; }
static bool conn_alive(struct nc_proxy *px, struct conn *c);
static void after_event(struct conn *c);

static void resolver_unref(struct resolver *rs) {
  pthread_mutex_lock(&rs->lock);
  bool last = --rs->refs == 0;
  pthread_mutex_unlock(&rs->lock);
  if (!last) return;
  while (rs->done) {
    struct resolve_job *j = rs->done;
    rs->done = j->next;
    free(j);
  }
  if (rs->efd >= 0) close(rs->efd);
  pthread_mutex_destroy(&rs->lock);
  free(rs);
}

static void *resolve_thread(void *arg) {
  struct resolve_job *j = arg;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
  j->err = getaddrinfo(j->host, NULL, &hints, &res);
  for (struct addrinfo *ai = res; j->err == 0 && ai && j->n < MAX_ADDRS; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      memcpy(j->addrs[j->n], &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
    } else if (ai->ai_family == AF_INET6) {
      memcpy(j->addrs[j->n], &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    j->families[j->n++] = ai->ai_family;
  }
  if (res) freeaddrinfo(res);
  struct resolver *rs = j->rs;
  pthread_mutex_lock(&rs->lock);
  if (rs->closed || !j->c) {
    free(j);
  } else {
    j->next = rs->done;
    rs->done = j;
    uint64_t one = 1;
    (void)!write(rs->efd, &one, sizeof one);
  }
  pthread_mutex_unlock(&rs->lock);
  resolver_unref(rs);
  return NULL;
}

/* ---- epoll interest ---- */

/* Nothing wanted: unregister, so EPOLLHUP/EPOLLERR cannot wake us in a loop. */
static void set_interest(struct conn *c, int fd, struct tag *t, uint32_t *cur, uint32_t want) {
  if (fd < 0 || *cur == want) return;
  if (want == 0) {
    if (*cur == (uint32_t)-1) return;
    epoll_ctl(c->px->epfd, EPOLL_CTL_DEL, fd, NULL);
    *cur = (uint32_t)-1;
    return;
  }
  struct epoll_event ev = {.events = want, .data.ptr = t};
  int op = *cur == (uint32_t)-1 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (epoll_ctl(c->px->epfd, op, fd, &ev) == 0) *cur = want;
}

/* ---- ending a connection ---- */

static void report(struct conn *c) {
  struct nc_proxy *px = c->px;
  if (c->counted) return;
  c->counted = true;
  if (!c->allowed) px->stats.denied++;
  else if (c->reason[0]) px->stats.failed++;
  else px->stats.allowed++;
  px->stats.bytes_out += c->bytes_out;
  px->stats.bytes_in += c->bytes_in;
  if (!px->observer) return;
  static const char *names[] = {[P_UNKNOWN] = "unknown", [P_HTTP] = "http", [P_CONNECT] = "connect",
                                [P_SOCKS5] = "socks5"};
  struct nc_proxy_event ev = {
      .allowed = c->allowed, .proto = names[c->proto], .host = c->host, .port = c->port, .addr = c->addr_text,
      .reason = c->reason[0] ? c->reason : NULL, .bytes_out = c->bytes_out, .bytes_in = c->bytes_in,
      .duration_ms = now_ms() - c->t0,
  };
  px->observer(px->observer_ctx, &ev);
}

static void close_pipe(struct pipe_dir *d) {
  nc_closep(&d->r);
  nc_closep(&d->w);
}

static void abandon_job(struct conn *c) {
  if (!c->job) return;
  pthread_mutex_lock(&c->px->rs->lock);
  c->job->c = NULL; /* the worker frees it */
  pthread_mutex_unlock(&c->px->rs->lock);
  c->job = NULL;
}

static void conn_free(struct conn *c) {
  struct nc_proxy *px = c->px;
  report(c);
  abandon_job(c);
  /* unregister before close: a copy of the fd in a forked child would keep
   * the registration (and its pointer to us) alive */
  if (c->cev != (uint32_t)-1) epoll_ctl(px->epfd, EPOLL_CTL_DEL, c->cfd, NULL);
  if (c->uev != (uint32_t)-1) epoll_ctl(px->epfd, EPOLL_CTL_DEL, c->ufd, NULL);
  nc_closep(&c->cfd);
  nc_closep(&c->ufd);
  close_pipe(&c->up);
  close_pipe(&c->down);
  free(c->in);
  free(c->cout);
  free(c->uout);
  if (c->prev) c->prev->next = c->next;
  else px->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  px->n_conns--;
  free(c);
  if (!px->listening && px->n_conns < px->lim.max_conns) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &px->ltag};
    if (epoll_ctl(px->epfd, EPOLL_CTL_MOD, px->lfd, &ev) == 0) px->listening = true;
  }
}

static void set_reason(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(struct conn *c, const char *fmt, ...) {
  if (c->reason[0]) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->reason, sizeof c->reason, fmt, ap);
  va_end(ap);
}

/* Queue a reply for the client; with `then_close`, linger and close after it. */
static void reply(struct conn *c, const void *data, size_t len, bool then_close) {
  size_t keep = c->cout_len - c->cout_off; /* an earlier reply not yet sent goes first */
  char *b = malloc(keep + len);
  if (!b) {
    conn_free(c);
    return;
  }
  if (keep) memcpy(b, c->cout + c->cout_off, keep);
  memcpy(b + keep, data, len);
  free(c->cout);
  c->cout = b;
  c->cout_len = keep + len;
  c->cout_off = 0;
  if (then_close) {
    c->st = C_LINGER;
    c->deadline = now_ms() + LINGER_MS;
    if (c->ufd >= 0) {
      if (c->uev != (uint32_t)-1) epoll_ctl(c->px->epfd, EPOLL_CTL_DEL, c->ufd, NULL);
      nc_closep(&c->ufd);
      c->uev = (uint32_t)-1;
    }
  }
}

static void http_reply(struct conn *c, int code, const char *status, const char *body) {
  char buf[1024];
  int n = snprintf(buf, sizeof buf,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                   code, status, strlen(body) + 1, body);
  if (n < 0 || (size_t)n >= sizeof buf) n = snprintf(buf, sizeof buf, "HTTP/1.1 %d %s\r\nConnection: close\r\n\r\n", code, status);
  reply(c, buf, (size_t)n, true);
}

static void socks_reply(struct conn *c, uint8_t code, bool then_close) {
  uint8_t r[10] = {5, code, 0, 1, 0, 0, 0, 0, 0, 0};
  reply(c, r, sizeof r, then_close);
}

/* Refuse: the allowlist said no, or the request could not be read. */
static void refuse(struct conn *c, int http_code, uint8_t socks_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void refuse(struct conn *c, int http_code, uint8_t socks_code, const char *fmt, ...) {
  char body[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(body, sizeof body, fmt, ap);
  va_end(ap);
  snprintf(c->reason, sizeof c->reason, "%s", body);
  if (c->proto == P_SOCKS5) {
    socks_reply(c, socks_code, true);
    return;
  }
  const char *status = http_code == 403 ? "Forbidden" : http_code == 431 ? "Request Header Fields Too Large"
                     : http_code == 502 ? "Bad Gateway" : http_code == 504 ? "Gateway Timeout" : "Bad Request";
  char msg[340];
  snprintf(msg, sizeof msg, "nanoclaw: %s", body);
  http_reply(c, http_code, status, msg);
}

/* ---- connecting upstream ---- */

static void format_addr(struct conn *c, int fam, const uint8_t *a) {
  char t[INET6_ADDRSTRLEN];
  inet_ntop(fam, a, t, sizeof t);
  snprintf(c->addr_text, sizeof c->addr_text, fam == AF_INET6 ? "[%s]:%u" : "%s:%u", t, c->port);
}

static void try_connect(struct conn *c);

static int make_pipe(struct pipe_dir *d) {
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) return -errno;
  d->r = p[0];
  d->w = p[1];
  (void)fcntl(d->w, F_SETPIPE_SZ, PIPE_SIZE); /* best effort: a bigger pipe, fewer wakeups */
  return 0;
}

static void start_relay(struct conn *c) {
  if (make_pipe(&c->up) < 0 || make_pipe(&c->down) < 0) {
    set_reason(c, "out of file descriptors");
    conn_free(c);
    return;
  }
  int one = 1;
  setsockopt(c->ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->st = C_RELAY;
  c->last_io = now_ms();
  free(c->in); /* the head is parsed: give its buffer back */
  c->in = NULL;
  c->in_len = 0;
  if (c->proto == P_CONNECT) {
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    reply(c, ok, sizeof ok - 1, false);
  } else if (c->proto == P_SOCKS5) {
    socks_reply(c, NC_SOCKS5_OK, false);
  }
}

static void connect_failed(struct conn *c, int e) {
  nc_closep(&c->ufd);
  c->uev = (uint32_t)-1;
  if (++c->ai < c->n_addrs) {
    try_connect(c);
    return;
  }
  uint8_t sc = e == ECONNREFUSED ? NC_SOCKS5_REFUSED : e == ENETUNREACH ? NC_SOCKS5_NET_UNREACH
             : e == ETIMEDOUT ? NC_SOCKS5_TTL : NC_SOCKS5_HOST_UNREACH;
  refuse(c, e == ETIMEDOUT ? 504 : 502, sc, "could not connect to %s:%u (%s): %s", c->host, c->port, c->addr_text,
         strerror(e));
}

static void try_connect(struct conn *c) {
  int fam = c->families[c->ai];
  format_addr(c, fam, c->addrs[c->ai]);
  struct sockaddr_storage ss = {0};
  socklen_t sl;
  if (fam == AF_INET) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)c->port);
    memcpy(&s4->sin_addr, c->addrs[c->ai], 4);
    sl = sizeof *s4;
  } else {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)c->port);
    memcpy(&s6->sin6_addr, c->addrs[c->ai], 16);
    sl = sizeof *s6;
  }
  c->st = C_CONNECT;
  c->ufd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->ufd < 0) {
    connect_failed(c, errno);
    return;
  }
  if (connect(c->ufd, (struct sockaddr *)&ss, sl) == 0) {
    start_relay(c);
    return;
  }
  if (errno != EINPROGRESS) {
    connect_failed(c, errno);
    return;
  }
  set_interest(c, c->ufd, &c->utag, &c->uev, EPOLLOUT);
}

static void on_connected(struct conn *c) {
  int e = 0;
  socklen_t l = sizeof e;
  if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &e, &l) < 0) e = errno;
  if (e) {
    epoll_ctl(c->px->epfd, EPOLL_CTL_DEL, c->ufd, NULL);
    connect_failed(c, e);
    return;
  }
  start_relay(c);
}

/* Keep the addresses the policy lets us use; a name must not lead to the
 * host's loopback, link-local space or a metadata service unless a CIDR
 * entry names that address. */
static void use_addresses(struct conn *c, size_t n, const int *fams, uint8_t (*addrs)[16], bool from_add_hosts) {
  struct nc_allowlist *al = &c->px->al;
  char refused[INET6_ADDRSTRLEN] = "";
  c->n_addrs = 0;
  for (size_t i = 0; i < n && c->n_addrs < MAX_ADDRS; i++) {
    if (!from_add_hosts && nc_addr_is_reserved(fams[i], addrs[i]) &&
        !nc_allowlist_allows_addr(al, fams[i], addrs[i], (uint16_t)c->port)) {
      inet_ntop(fams[i], addrs[i], refused, sizeof refused);
      continue;
    }
    c->families[c->n_addrs] = fams[i];
    memcpy(c->addrs[c->n_addrs++], addrs[i], 16);
  }
  if (c->n_addrs == 0) {
    c->allowed = false;
    refuse(c, 403, NC_SOCKS5_NOT_ALLOWED,
           "%s:%u resolves to %s, a loopback, link-local or metadata address: refused (name it in add_hosts or "
           "allow the address in allowed_hosts)",
           c->host, c->port, refused);
    return;
  }
  c->ai = 0;
  try_connect(c);
}

static void start_resolve(struct conn *c) {
  struct nc_proxy *px = c->px;
  struct resolve_job *j = calloc(1, sizeof *j);
  if (!j) {
    refuse(c, 502, NC_SOCKS5_FAILURE, "out of memory");
    return;
  }
  j->rs = px->rs;
  j->c = c;
  snprintf(j->host, sizeof j->host, "%s", c->host);
  pthread_mutex_lock(&px->rs->lock);
  px->rs->refs++;
  pthread_mutex_unlock(&px->rs->lock);
  pthread_attr_t attr;
  pthread_t t;
  int r = pthread_attr_init(&attr);
  if (r == 0) {
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    r = pthread_create(&t, &attr, resolve_thread, j);
    pthread_attr_destroy(&attr);
  }
  if (r != 0) {
    free(j);
    resolver_unref(px->rs);
    refuse(c, 502, NC_SOCKS5_FAILURE, "cannot start a resolver: %s", strerror(r));
    return;
  }
  c->job = j;
  c->st = C_RESOLVE;
}

static void on_resolved(struct nc_proxy *px) {
  uint64_t v;
  (void)!read(px->rs->efd, &v, sizeof v);
  pthread_mutex_lock(&px->rs->lock);
  struct resolve_job *list = px->rs->done;
  px->rs->done = NULL;
  pthread_mutex_unlock(&px->rs->lock);
  while (list) {
    struct resolve_job *j = list;
    list = j->next;
    struct conn *c = j->c;
    if (c && conn_alive(px, c) && c->st == C_RESOLVE) {
      c->job = NULL;
      if (j->err) refuse(c, 502, NC_SOCKS5_HOST_UNREACH, "cannot resolve %s: %s", c->host, gai_strerror(j->err));
      else use_addresses(c, j->n, j->families, j->addrs, false);
      if (conn_alive(px, c)) after_event(c);
    }
    free(j);
  }
}

/* ---- the decision ---- */

static void decide(struct conn *c, const char *host, unsigned port) {
  struct nc_proxy *px = c->px;
  c->deadline = now_ms(); /* the connect timeout counts from here */
  snprintf(c->host, sizeof c->host, "%s", host);
  c->port = port;
  uint8_t a[16];
  int fam = nc_ip_literal(host, strlen(host), a);
  if (fam) {
    if (!nc_allowlist_allows_addr(&px->al, fam, a, (uint16_t)port)) {
      refuse(c, 403, NC_SOCKS5_NOT_ALLOWED, "%s%s%s:%u is not in allowed_hosts", fam == AF_INET6 ? "[" : "", host,
             fam == AF_INET6 ? "]" : "", port);
      return;
    }
    c->allowed = true;
    use_addresses(c, 1, &fam, &a, true);
    return;
  }
  char name[NC_HOST_MAX];
  nc_error e = {0};
  if (nc_host_normalize(host, strlen(host), name, &e) < 0) {
    refuse(c, 400, NC_SOCKS5_NOT_ALLOWED, "bad host name: %s", e.msg);
    return;
  }
  snprintf(c->host, sizeof c->host, "%s", name);
  if (!nc_allowlist_allows_name(&px->al, name, (uint16_t)port)) {
    refuse(c, 403, NC_SOCKS5_NOT_ALLOWED, "%s:%u is not in allowed_hosts", name, port);
    return;
  }
  c->allowed = true;
  int fams[MAX_ADDRS];
  uint8_t addrs[MAX_ADDRS][16];
  size_t n = nc_allowlist_static(&px->al, name, fams, addrs, MAX_ADDRS);
  if (n > 0) use_addresses(c, n, fams, addrs, true);
  else start_resolve(c);
}

/* Bytes the client sent after its request head go upstream first. */
static int queue_upstream(struct conn *c, const char *head, size_t head_len, size_t consumed) {
  size_t rest = c->in_len - consumed, n = head_len + rest;
  if (n == 0) return 0;
  char *b = malloc(n);
  if (!b) return -ENOMEM;
  if (head_len) memcpy(b, head, head_len);
  if (rest) memcpy(b + head_len, c->in + consumed, rest);
  c->uout = b;
  c->uout_len = n;
  c->uout_off = 0;
  return 0;
}

static void parse_head(struct conn *c) {
  if (c->proto == P_UNKNOWN) c->proto = (uint8_t)c->in[0] == 5 ? P_SOCKS5 : P_HTTP;
  if (c->proto == P_SOCKS5) {
    const uint8_t *b = (const uint8_t *)c->in;
    size_t off = 0;
    if (!c->socks_greeted) {
      struct nc_socks5_greeting g;
      int r = nc_socks5_parse_greeting(b, c->in_len, &g);
      if (r == NC_PARSE_INCOMPLETE) return;
      if (r != NC_PARSE_OK || !g.noauth) {
        static const uint8_t no[2] = {5, 0xff};
        snprintf(c->reason, sizeof c->reason, "%s", r == NC_PARSE_OK ? "SOCKS5 client offers no method we accept (no-auth)" : "bad SOCKS5 greeting");
        reply(c, no, sizeof no, true);
        return;
      }
      static const uint8_t yes[2] = {5, 0};
      reply(c, yes, sizeof yes, false);
      c->socks_greeted = true;
      off = g.len;
      memmove(c->in, c->in + off, c->in_len - off);
      c->in_len -= off;
      if (c->in_len == 0) return;
    }
    struct nc_socks5_request rq;
    int r = nc_socks5_parse_request(b, c->in_len, &rq);
    if (r == NC_PARSE_INCOMPLETE) return;
    if (r != NC_PARSE_OK) {
      snprintf(c->reason, sizeof c->reason, "bad SOCKS5 request (reply %u)", rq.reply);
      socks_reply(c, rq.reply ? rq.reply : NC_SOCKS5_FAILURE, true);
      return;
    }
    if (queue_upstream(c, NULL, 0, rq.len) < 0) {
      conn_free(c);
      return;
    }
    decide(c, rq.host, rq.port);
    return;
  }
  struct nc_http_request rq = {0};
  int r = nc_http_parse_request(c->in, c->in_len, &rq);
  if (r == NC_PARSE_INCOMPLETE && c->in_len < NC_PROXY_HEAD_MAX) return;
  if (r != NC_PARSE_OK) {
    bool big = r == NC_PARSE_TOO_BIG || r == NC_PARSE_INCOMPLETE;
    refuse(c, big ? 431 : 400, 0, "bad proxy request: %s", rq.why ? rq.why : "request head too large");
    nc_http_request_free(&rq);
    return;
  }
  c->proto = rq.connect ? P_CONNECT : P_HTTP;
  int q = queue_upstream(c, rq.connect ? NULL : rq.upstream_head, rq.connect ? 0 : rq.upstream_len, rq.head_len);
  if (q == 0) decide(c, rq.host, rq.port);
  nc_http_request_free(&rq);
  if (q < 0) conn_free(c);
}

/* ---- I/O ---- */

/* Write pending bytes; 1 when all are out, 0 when the socket is full, -1 on error. */
static int flush(int fd, char **buf, size_t *len, size_t *off, uint64_t *count) {
  while (*off < *len) {
    ssize_t n = send(fd, *buf + *off, *len - *off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN ? 0 : -1;
    }
    *off += (size_t)n;
    if (count) *count += (uint64_t)n;
  }
  free(*buf);
  *buf = NULL;
  *len = *off = 0;
  return 1;
}

/* Move what can move src -> pipe -> dst without blocking. -1: the connection is broken. */
static int pump(struct pipe_dir *d, int src, int dst, uint64_t *count, bool *progress) {
  for (;;) {
    bool moved = false;
    if (!d->eof && !d->blocked && d->len < PIPE_SIZE) {
      ssize_t n = splice(src, NULL, d->w, NULL, PIPE_SIZE - d->len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) d->len += (size_t)n, moved = true;
      else if (n == 0) d->eof = true, moved = true;
      else if (errno == EAGAIN) d->blocked = d->len > 0;
      else if (errno != EINTR) return -1;
    }
    if (d->len > 0) {
      ssize_t n = splice(d->r, NULL, dst, NULL, d->len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) d->len -= (size_t)n, *count += (uint64_t)n, d->blocked = false, moved = true;
      else if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
    }
    if (d->eof && d->len == 0 && !d->shut) {
      shutdown(dst, SHUT_WR);
      d->shut = true;
    }
    if (!moved) return 0;
    *progress = true;
  }
}

static void relay(struct conn *c) {
  bool progress = false;
  if (c->cout) {
    int r = flush(c->cfd, &c->cout, &c->cout_len, &c->cout_off, NULL);
    if (r < 0) goto broken;
  }
  if (c->uout) {
    int r = flush(c->ufd, &c->uout, &c->uout_len, &c->uout_off, &c->bytes_out);
    if (r < 0) goto broken;
    if (r > 0) progress = true;
  }
  if (!c->uout && pump(&c->up, c->cfd, c->ufd, &c->bytes_out, &progress) < 0) goto broken;
  if (!c->cout && pump(&c->down, c->ufd, c->cfd, &c->bytes_in, &progress) < 0) goto broken;
  if (progress) c->last_io = now_ms();
  if (c->up.shut && c->down.shut) {
    conn_free(c);
    return;
  }
  uint32_t cw = 0, uw = 0;
  if (c->cout || c->down.len > 0) cw |= EPOLLOUT;
  if (!c->uout && !c->up.eof && !c->up.blocked && c->up.len < PIPE_SIZE) cw |= EPOLLIN;
  if (c->uout || c->up.len > 0) uw |= EPOLLOUT;
  if (!c->cout && !c->down.eof && !c->down.blocked && c->down.len < PIPE_SIZE) uw |= EPOLLIN;
  set_interest(c, c->cfd, &c->ctag, &c->cev, cw);
  set_interest(c, c->ufd, &c->utag, &c->uev, uw);
  return;
broken:
  conn_free(c);
}

static void on_client(struct conn *c) {
  if (c->st == C_RELAY) {
    relay(c);
    return;
  }
  if (c->st == C_LINGER) {
    if (c->cout) {
      int r = flush(c->cfd, &c->cout, &c->cout_len, &c->cout_off, NULL);
      if (r < 0) {
        conn_free(c);
        return;
      }
      if (r == 0) {
        set_interest(c, c->cfd, &c->ctag, &c->cev, EPOLLOUT);
        return;
      }
      shutdown(c->cfd, SHUT_WR);
    }
    char sink[4096];
    for (;;) {
      ssize_t n = recv(c->cfd, sink, sizeof sink, 0);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      conn_free(c); /* EOF or error: done */
      return;
    }
    set_interest(c, c->cfd, &c->ctag, &c->cev, EPOLLIN);
    return;
  }
  if (c->st != C_HEAD) return; /* resolving or connecting: the client waits (bounded by the timeout) */
  if (c->cout) { /* SOCKS5 method reply */
    int r = flush(c->cfd, &c->cout, &c->cout_len, &c->cout_off, NULL);
    if (r < 0) {
      conn_free(c);
      return;
    }
  }
  size_t room = NC_PROXY_HEAD_MAX - c->in_len;
  if (room == 0) {
    parse_head(c);
    return;
  }
  ssize_t n = recv(c->cfd, c->in + c->in_len, room, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    set_reason(c, n == 0 ? "client closed before sending a request" : "client connection error");
    conn_free(c);
    return;
  }
  c->in_len += (size_t)n;
  parse_head(c);
}

static void after_event(struct conn *c) {
  /* After a state change, point epoll at what the new state waits for. */
  switch (c->st) {
    case C_HEAD: set_interest(c, c->cfd, &c->ctag, &c->cev, c->cout ? (EPOLLIN | EPOLLOUT) : EPOLLIN); break;
    case C_RESOLVE:
    case C_CONNECT: set_interest(c, c->cfd, &c->ctag, &c->cev, 0); break;
    case C_LINGER: set_interest(c, c->cfd, &c->ctag, &c->cev, c->cout ? EPOLLOUT : EPOLLIN); break;
    case C_RELAY: relay(c); break;
  }
}

/* The connection may be freed by the handler; `alive` tells the caller. */
static bool conn_alive(struct nc_proxy *px, struct conn *c) {
  for (struct conn *i = px->conns; i; i = i->next)
    if (i == c) return true;
  return false;
}

static void on_accept(struct nc_proxy *px) {
  while (px->n_conns < px->lim.max_conns) {
    int fd = accept4(px->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN) return;
      break; /* out of fds or memory: pause accepting; the tick retries */
    }
    struct conn *c = calloc(1, sizeof *c);
    char *in = malloc(NC_PROXY_HEAD_MAX);
    if (!c || !in) {
      free(c);
      free(in);
      close(fd);
      return;
    }
    c->px = px;
    c->in = in;
    c->cfd = fd;
    c->ufd = -1;
    c->up.r = c->up.w = c->down.r = c->down.w = -1;
    c->cev = c->uev = (uint32_t)-1;
    c->ctag = (struct tag){TAG_CLIENT, c};
    c->utag = (struct tag){TAG_UPSTREAM, c};
    c->t0 = now_ms();
    c->deadline = c->t0 + px->lim.head_timeout_ms;
    c->next = px->conns;
    if (px->conns) px->conns->prev = c;
    px->conns = c;
    px->n_conns++;
    set_interest(c, fd, &c->ctag, &c->cev, EPOLLIN);
  }
  struct epoll_event ev = {.events = 0, .data.ptr = &px->ltag};
  if (epoll_ctl(px->epfd, EPOLL_CTL_MOD, px->lfd, &ev) == 0) px->listening = false;
}

static void on_tick(struct nc_proxy *px) {
  uint64_t v;
  (void)!read(px->tfd, &v, sizeof v);
  uint64_t t = now_ms();
  if (!px->listening && px->n_conns < px->lim.max_conns) { /* after EMFILE */
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &px->ltag};
    if (epoll_ctl(px->epfd, EPOLL_CTL_MOD, px->lfd, &ev) == 0) px->listening = true;
  }
  struct conn *next;
  for (struct conn *c = px->conns; c; c = next) {
    next = c->next;
    switch (c->st) {
      case C_HEAD:
        if (t >= c->deadline) {
          set_reason(c, "no complete request within %llu ms", (unsigned long long)px->lim.head_timeout_ms);
          conn_free(c);
        }
        break;
      case C_RESOLVE:
      case C_CONNECT:
        if (t >= c->deadline + px->lim.connect_timeout_ms) {
          if (c->ufd >= 0 && c->uev != (uint32_t)-1) epoll_ctl(px->epfd, EPOLL_CTL_DEL, c->ufd, NULL);
          c->ai = c->n_addrs; /* no more tries */
          abandon_job(c);
          if (c->st == C_RESOLVE) refuse(c, 504, NC_SOCKS5_HOST_UNREACH, "resolving %s timed out", c->host);
          else connect_failed(c, ETIMEDOUT);
          if (conn_alive(px, c)) after_event(c);
        }
        break;
      case C_LINGER:
        if (t >= c->deadline) conn_free(c);
        break;
      case C_RELAY:
        if (t >= c->last_io + px->lim.idle_timeout_ms) {
          set_reason(c, "idle for %llu ms", (unsigned long long)px->lim.idle_timeout_ms);
          conn_free(c);
        }
        break;
    }
  }
}

void nc_proxy_dispatch(struct nc_proxy *px) {
  struct epoll_event ev[64];
  int n = epoll_wait(px->epfd, ev, 64, 0);
  for (int i = 0; i < n; i++) {
    struct tag *t = ev[i].data.ptr;
    switch (t->kind) {
      case TAG_LISTEN: on_accept(px); break;
      case TAG_TIMER: on_tick(px); break;
      case TAG_RESOLVED: on_resolved(px); break;
      case TAG_CLIENT:
      case TAG_UPSTREAM: {
        struct conn *c = t->c;
        /* an earlier event in this batch may have freed it */
        if (!conn_alive(px, c)) break;
        if (t->kind == TAG_UPSTREAM && c->st == C_CONNECT) {
          on_connected(c);
        } else if (t->kind == TAG_CLIENT) {
          on_client(c);
        } else {
          relay(c);
        }
        if (conn_alive(px, c)) after_event(c);
        break;
      }
    }
  }
}

/* ---- lifetime ---- */

int nc_proxy_new(struct nc_proxy **ret, const struct nc_profile *p, int listen_fd, const struct nc_proxy_limits *limits,
                 nc_error *err) {
  *ret = NULL;
  struct nc_proxy *px = calloc(1, sizeof *px);
  if (!px) {
    close(listen_fd);
    return nc_error_set(err, ENOMEM, "egress proxy: out of memory");
  }
  px->lfd = listen_fd;
  px->epfd = px->tfd = -1;
  px->lim = (struct nc_proxy_limits){128, 10000, 10000, 300000};
  if (limits) {
    if (limits->max_conns) px->lim.max_conns = limits->max_conns;
    if (limits->head_timeout_ms) px->lim.head_timeout_ms = limits->head_timeout_ms;
    if (limits->connect_timeout_ms) px->lim.connect_timeout_ms = limits->connect_timeout_ms;
    if (limits->idle_timeout_ms) px->lim.idle_timeout_ms = limits->idle_timeout_ms;
  }
  px->ltag = (struct tag){TAG_LISTEN, NULL};
  px->ttag = (struct tag){TAG_TIMER, NULL};
  px->rtag = (struct tag){TAG_RESOLVED, NULL};
  int r = nc_allowlist_build(&px->al, p, err);
  if (r < 0) goto fail;
  px->rs = calloc(1, sizeof *px->rs);
  if (!px->rs) {
    r = nc_error_set(err, ENOMEM, "egress proxy: out of memory");
    goto fail;
  }
  pthread_mutex_init(&px->rs->lock, NULL);
  px->rs->refs = 1;
  px->rs->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  px->epfd = epoll_create1(EPOLL_CLOEXEC);
  px->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (px->rs->efd < 0 || px->epfd < 0 || px->tfd < 0) {
    r = nc_error_sys(err, errno, "egress proxy: eventfd/epoll/timerfd");
    goto fail;
  }
  struct itimerspec its = {.it_interval = {0, TICK_MS * 1000000L}, .it_value = {0, TICK_MS * 1000000L}};
  if (timerfd_settime(px->tfd, 0, &its, NULL) < 0) {
    r = nc_error_sys(err, errno, "egress proxy: timerfd_settime");
    goto fail;
  }
  if (fcntl(listen_fd, F_SETFL, O_NONBLOCK) < 0) {
    r = nc_error_sys(err, errno, "egress proxy: fcntl O_NONBLOCK");
    goto fail;
  }
  struct epoll_event el = {.events = EPOLLIN, .data.ptr = &px->ltag};
  struct epoll_event et = {.events = EPOLLIN, .data.ptr = &px->ttag};
  struct epoll_event er = {.events = EPOLLIN, .data.ptr = &px->rtag};
  if (epoll_ctl(px->epfd, EPOLL_CTL_ADD, listen_fd, &el) < 0 || epoll_ctl(px->epfd, EPOLL_CTL_ADD, px->tfd, &et) < 0 ||
      epoll_ctl(px->epfd, EPOLL_CTL_ADD, px->rs->efd, &er) < 0) {
    r = nc_error_sys(err, errno, "egress proxy: epoll_ctl");
    goto fail;
  }
  px->listening = true;
  *ret = px;
  return 0;
fail:
  nc_proxy_free(px);
  return r;
}

void nc_proxy_set_observer(struct nc_proxy *px, nc_proxy_observer fn, void *ctx) {
  px->observer = fn;
  px->observer_ctx = ctx;
}

int nc_proxy_fd(const struct nc_proxy *px) { return px->epfd; }

void nc_proxy_stats(const struct nc_proxy *px, struct nc_proxy_stats *st) { *st = px->stats; }

void nc_proxy_close_all(struct nc_proxy *px) {
  while (px->conns) {
    set_reason(px->conns, "the sandbox ended");
    conn_free(px->conns);
  }
}

void nc_proxy_free(struct nc_proxy *px) {
  if (!px) return;
  nc_proxy_close_all(px);
  if (px->rs) {
    pthread_mutex_lock(&px->rs->lock);
    px->rs->closed = true;
    pthread_mutex_unlock(&px->rs->lock);
    resolver_unref(px->rs);
  }
  nc_closep(&px->lfd);
  nc_closep(&px->tfd);
  nc_closep(&px->epfd);
  nc_allowlist_free(&px->al);
  free(px);
}
