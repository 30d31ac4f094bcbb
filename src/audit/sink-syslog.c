/* sink-syslog.c — records to a remote syslog as RFC 5424 messages: TCP with octet-counting framing (RFC 6587)
 * or UDP, one datagram a record. Facility authpriv, severity info. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "audit/audit-internal.h"
#include "core/error.h"
#include "core/util.h"

#define SYSLOG_PRI (10 * 8 + 6) /* authpriv.info: records carry command output; keep them off world-readable logs */
#define UDP_MAX 8192            /* bigger datagrams are dropped (and counted): many receivers truncate them */
#define IO_TIMEOUT_MS 2000

struct syslog_sink {
  bool tcp;
  char host[256], port[16];
  char hostname[256]; /* RFC 5424 HOSTNAME: printable ASCII, no spaces */
  int fd;
  char *buf; /* one framed message */
};

static int syslog_init(struct nc_sink *s, const char *url, nc_error *err) {
  struct syslog_sink *y = calloc(1, sizeof *y);
  if (!y) return nc_error_set(err, ENOMEM, "audit syslog");
  y->fd = -1;
  const char *rest;
  char q[300];
  if (!strncmp(url, "tcp://", 6))
    y->tcp = true, rest = url + 6;
  else if (!strncmp(url, "udp://", 6))
    rest = url + 6;
  else
    goto bad;
  const char *colon;
  if (*rest == '[') { /* [v6]:port */
    const char *close = strchr(rest, ']');
    if (!close || close[1] != ':' || close - rest - 1 >= (long)sizeof y->host) goto bad;
    snprintf(y->host, sizeof y->host, "%.*s", (int)(close - rest - 1), rest + 1);
    colon = close + 1;
  } else {
    colon = strrchr(rest, ':');
    if (!colon || colon == rest || colon - rest >= (long)sizeof y->host) goto bad;
    snprintf(y->host, sizeof y->host, "%.*s", (int)(colon - rest), rest);
  }
  char *end;
  errno = 0;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (errno || *end || colon[1] < '0' || colon[1] > '9' || port == 0 || port > 65535) goto bad;
  snprintf(y->port, sizeof y->port, "%lu", port);
  if (gethostname(y->hostname, sizeof y->hostname - 1) < 0 || !y->hostname[0]) snprintf(y->hostname, 2, "-");
  for (char *p = y->hostname; *p; p++)
    if (*p <= 32 || *p >= 127) *p = '_';
  y->buf = malloc(NC_AUDIT_RECORD_MAX + 512);
  if (!y->buf) {
    free(y);
    return nc_error_set(err, ENOMEM, "audit syslog");
  }
  s->priv = y;
  return 0;
bad:
  free(y);
  return nc_error_set(err, EINVAL, "audit syslog URL `%s`: expected tcp://HOST:PORT or udp://HOST:PORT",
                      nc_quote(q, sizeof q, url));
}

static void disconnect(struct syslog_sink *y) {
  if (y->fd >= 0) close(y->fd);
  y->fd = -1;
}

static int connect_one(struct nc_sink *s, struct syslog_sink *y, const struct addrinfo *ai, nc_error *err) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
  if (fd < 0) return nc_error_sys(err, errno, "socket");
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    if (errno != EINPROGRESS) {
      int e = errno;
      close(fd);
      return nc_error_sys(err, e, "connect");
    }
    int w = nc_sink_wait_fd(s, fd, POLLOUT, IO_TIMEOUT_MS);
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (w <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
      close(fd);
      if (w < 0) return w;
      if (w == 0) return nc_error_set(err, ETIMEDOUT, "connect: timed out after %d ms", IO_TIMEOUT_MS);
      return nc_error_sys(err, soerr ? soerr : errno, "connect");
    }
  }
  y->fd = fd;
  return 0;
}

static int do_connect(struct nc_sink *s, struct syslog_sink *y, nc_error *err) {
  struct addrinfo hints = {.ai_socktype = y->tcp ? SOCK_STREAM : SOCK_DGRAM}, *res = NULL;
  int g = getaddrinfo(y->host, y->port, &hints, &res);
  if (g != 0) return nc_error_set(err, EHOSTUNREACH, "%s: resolving `%s`: %s", s->label, y->host, gai_strerror(g));
  int r = -EHOSTUNREACH;
  for (struct addrinfo *ai = res; ai && y->fd < 0; ai = ai->ai_next) {
    r = connect_one(s, y, ai, err);
    if (r == -ECANCELED) break;
  }
  freeaddrinfo(res);
  if (r < 0 && r != -ECANCELED) nc_error_wrap(err, "%s", s->label);
  return r;
}

/* A TCP peer that closed shows up as readable with nothing to read. */
static bool peer_closed(struct syslog_sink *y) {
  char c;
  ssize_t n = recv(y->fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static int send_all(struct nc_sink *s, struct syslog_sink *y, const char *p, size_t len, nc_error *err) {
  while (len > 0) {
    ssize_t n = send(y->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int w = nc_sink_wait_fd(s, y->fd, POLLOUT, IO_TIMEOUT_MS);
      if (w < 0) return w;
      if (w == 0) return nc_error_set(err, ETIMEDOUT, "%s: send timed out after %d ms", s->label, IO_TIMEOUT_MS);
      continue;
    }
    if (n < 0) return nc_error_sys(err, errno, "%s: send", s->label);
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG, TCP-framed as "LEN SP MSG". */
static size_t format_msg(struct syslog_sink *y, const struct nc_sink_rec *r) {
  char head[512];
  int hl =
      snprintf(head, sizeof head, "<%d>1 %s %s nanoclaw %ld - - ", SYSLOG_PRI, r->time, y->hostname, (long)getpid());
  size_t msg = (size_t)hl + r->len, off = 0;
  if (y->tcp) off = (size_t)sprintf(y->buf, "%zu ", msg);
  memcpy(y->buf + off, head, (size_t)hl);
  memcpy(y->buf + off + (size_t)hl, r->line, r->len);
  return off + msg;
}

static int syslog_send(struct nc_sink *s, struct nc_sink_rec **recs, size_t n, size_t *ret_done, nc_error *err) {
  struct syslog_sink *y = s->priv;
  *ret_done = 0;
  if (y->fd >= 0 && y->tcp && peer_closed(y)) disconnect(y);
  if (y->fd < 0) {
    int r = do_connect(s, y, err);
    if (r < 0) return r;
  }
  for (size_t i = 0; i < n; i++) {
    size_t len = format_msg(y, recs[i]);
    if (!y->tcp && len > UDP_MAX) {
      recs[i]->dropped = true;
      (*ret_done)++;
      continue;
    }
    int r = send_all(s, y, y->buf, len, err);
    if (r < 0) {
      /* A TCP frame may be half sent: the receiver drops the connection's last frame; resend on a new one. */
      disconnect(y);
      return r;
    }
    (*ret_done)++;
  }
  return 0;
}

static void syslog_fini(struct nc_sink *s) {
  struct syslog_sink *y = s->priv;
  if (!y) return;
  disconnect(y);
  free(y->buf);
  free(y);
  s->priv = NULL;
}

const struct nc_sink_ops nc_sink_syslog_ops = {
    .name = "syslog",
    .batch_records = 64,
    .batch_bytes = 256 * 1024,
    .init = syslog_init,
    .send = syslog_send,
    .fini = syslog_fini,
};
