/* sink.c — a remote copy of the records: a bounded queue, a delivery thread with retries and backoff, loss
 * accounting, and a close that waits a bounded time. The backends (sink-syslog.c, sink-http.c) only deliver. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit-internal.h"
#include "core/error.h"
#include "core/util.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/* Copy a string, cut to fit. */
static void copy(char *dst, size_t n, const char *src) {
  size_t l = strnlen(src, n - 1);
  memcpy(dst, src, l);
  dst[l] = '\0';
}

static void free_sink(struct nc_sink *s) {
  while (s->head) {
    struct nc_sink_rec *r = s->head;
    s->head = r->next;
    free(r);
  }
  if (s->wakefd >= 0) close(s->wakefd);
  pthread_cond_destroy(&s->cv);
  pthread_cond_destroy(&s->drained);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

void nc_sink_unref(struct nc_sink *s) {
  if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) free_sink(s);
}

static void abs_mono(struct timespec *ts, uint64_t ns) {
  ts->tv_sec = (time_t)(ns / 1000000000ull);
  ts->tv_nsec = (long)(ns % 1000000000ull);
}

int nc_sink_wait_fd(struct nc_sink *s, int fd, short events, int ms) {
  struct pollfd p[2] = {{.fd = s->wakefd, .events = POLLIN}, {.fd = fd, .events = events}};
  for (;;) {
    int n = poll(p, fd >= 0 ? 2 : 1, ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (p[0].revents) return -ECANCELED;
    return n > 0;
  }
}

/* Pop the first n records (the send handled them). Under mu. */
static void pop(struct nc_sink *s, size_t n) {
  for (size_t i = 0; i < n && s->head; i++) {
    struct nc_sink_rec *r = s->head;
    s->head = r->next;
    s->queued_bytes -= r->len;
    if (r->dropped) {
      s->lost_records++;
      s->lost_bytes += r->len;
      s->total_lost_records++;
    } else {
      s->delivered++;
      if (s->lost_records) s->recovered = true;
    }
    free(r);
  }
  if (!s->head) s->tailp = &s->head;
}

static void *sink_main(void *arg) {
  struct nc_sink *s = arg;
  pthread_mutex_lock(&s->mu);
  while (!s->stop) {
    if (!s->head) {
      pthread_cond_broadcast(&s->drained);
      pthread_cond_wait(&s->cv, &s->mu);
      continue;
    }
    uint64_t now = nc_now_ns();
    if (now < s->next_try_ns) {
      struct timespec ts;
      abs_mono(&ts, s->next_try_ns);
      pthread_cond_timedwait(&s->cv, &s->mu, &ts);
      continue;
    }
    struct nc_sink_rec *batch[NC_SINK_BATCH_MAX];
    size_t n = 0, bytes = 0;
    for (struct nc_sink_rec *r = s->head; r && n < s->ops->batch_records && n < NC_SINK_BATCH_MAX; r = r->next) {
      if (n > 0 && bytes + r->len > s->ops->batch_bytes) break;
      batch[n++] = r;
      bytes += r->len;
    }
    s->in_flight = true;
    pthread_mutex_unlock(&s->mu);
    size_t done = 0;
    nc_error e = {0};
    int r = s->ops->send(s, batch, n, &done, &e);
    pthread_mutex_lock(&s->mu);
    s->in_flight = false;
    pop(s, done > n ? n : done);
    if (r == 0) {
      s->down = false;
      s->backoff_ms = 0;
      s->next_try_ns = 0;
    } else if (!s->stop) {
      s->down = true;
      copy(s->why, sizeof s->why, e.msg);
      s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
      if (s->backoff_ms > BACKOFF_MAX_MS) s->backoff_ms = BACKOFF_MAX_MS;
      s->next_try_ns = nc_now_ns() + s->backoff_ms * 1000000ull;
    }
  }
  s->done = true;
  pthread_cond_broadcast(&s->drained);
  pthread_mutex_unlock(&s->mu);
  if (s->ops->fini) s->ops->fini(s);
  nc_sink_unref(s);
  return NULL;
}

/* "syslog tcp://host:port" without userinfo, path query or fragment secrets. */
static void make_label(char *out, size_t n, const char *name, const char *url) {
  const char *scheme_end = strstr(url, "://");
  const char *auth = scheme_end ? scheme_end + 3 : url;
  const char *at = NULL;
  for (const char *p = auth; *p && *p != '/' && *p != '?' && *p != '#'; p++)
    if (*p == '@') at = p;
  const char *host = at ? at + 1 : auth;
  size_t hl = strcspn(host, "?#");
  char q[256];
  char hostpart[256];
  snprintf(hostpart, sizeof hostpart, "%.*s", (int)(hl < 255 ? hl : 255), host);
  snprintf(out, n, "%s %.*s%s", name, (int)(scheme_end ? scheme_end + 3 - url : 0), url,
           nc_quote(q, sizeof q, hostpart));
}

int nc_sink_start(struct nc_sink **ret, const struct nc_sink_ops *ops, const char *url, uint64_t bound, nc_error *err) {
  struct nc_sink *s = calloc(1, sizeof *s);
  if (!s) return nc_error_set(err, ENOMEM, "starting audit sink");
  s->ops = ops;
  s->bound = bound;
  s->tailp = &s->head;
  s->refs = 1;
  s->wakefd = -1;
  make_label(s->label, sizeof s->label, ops->name, url);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, &ca);
  pthread_cond_init(&s->drained, &ca);
  pthread_condattr_destroy(&ca);
  int r = ops->init(s, url, err);
  if (r < 0) {
    free_sink(s);
    return r;
  }
  s->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (s->wakefd < 0) {
    r = nc_error_sys(err, errno, "starting audit sink %s: eventfd", s->label);
    if (ops->fini) ops->fini(s);
    free_sink(s);
    return r;
  }
  /* The thread starts with every signal blocked, so signals meant for the caller's loop never land on it. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  s->refs = 2;
  r = pthread_create(&s->thread, NULL, sink_main, s);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r != 0) {
    if (ops->fini) ops->fini(s);
    free_sink(s);
    return nc_error_sys(err, r, "starting audit sink %s: a thread", s->label);
  }
  *ret = s;
  return 0;
}

void nc_sink_push(struct nc_sink *s, const char *line, size_t len, const char *time) {
  pthread_mutex_lock(&s->mu);
  struct nc_sink_rec *r = NULL;
  if (!s->stop && s->queued_bytes + len <= s->bound) r = malloc(sizeof *r + len + 1);
  if (!r) {
    s->lost_records++;
    s->lost_bytes += len;
    s->total_lost_records++;
    pthread_mutex_unlock(&s->mu);
    return;
  }
  r->next = NULL;
  r->dropped = false;
  r->len = len;
  snprintf(r->time, sizeof r->time, "%s", time);
  memcpy(r->line, line, len);
  r->line[len] = '\0';
  *s->tailp = r;
  s->tailp = &r->next;
  s->queued_bytes += len;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

bool nc_sink_take_loss(struct nc_sink *s, bool final, uint64_t *ret_records, uint64_t *ret_bytes, char *why, size_t n) {
  pthread_mutex_lock(&s->mu);
  bool any = s->lost_records > 0 && (final || s->recovered);
  if (any) {
    *ret_records = s->lost_records;
    *ret_bytes = s->lost_bytes;
    copy(why, n, s->why[0] ? s->why : "the sink's queue was full");
    s->lost_records = s->lost_bytes = 0;
    s->recovered = false;
  }
  pthread_mutex_unlock(&s->mu);
  return any;
}

uint64_t nc_sink_total_lost(struct nc_sink *s, char *why, size_t n) {
  pthread_mutex_lock(&s->mu);
  uint64_t lost = s->total_lost_records;
  copy(why, n, s->why[0] ? s->why : "its queue was full");
  pthread_mutex_unlock(&s->mu);
  return lost;
}

bool nc_sink_failing(struct nc_sink *s, char *why, size_t n) {
  pthread_mutex_lock(&s->mu);
  bool down = s->down;
  if (down) copy(why, n, s->why);
  pthread_mutex_unlock(&s->mu);
  return down;
}

void nc_sink_stop(struct nc_sink *s, uint64_t deadline_ns) {
  struct timespec ts;
  abs_mono(&ts, deadline_ns);
  pthread_mutex_lock(&s->mu);
  s->next_try_ns = 0; /* one more try now rather than after the backoff */
  pthread_cond_signal(&s->cv);
  while ((s->head || s->in_flight) && !s->done && nc_now_ns() < deadline_ns)
    if (pthread_cond_timedwait(&s->drained, &s->mu, &ts) == ETIMEDOUT) break;
  s->stop = true;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  uint64_t one = 1;
  if (write(s->wakefd, &one, sizeof one) < 0) {
    /* the eventfd cannot overflow at 1; nothing else to do */
  }
  /* The thread aborts its I/O on the eventfd; give it a little past the deadline, then let it go on alone
   * (it frees the sink) — close must not hang on a resolver or a stuck peer. */
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  uint64_t left = deadline_ns > nc_now_ns() ? deadline_ns - nc_now_ns() : 0;
  uint64_t wall = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec + left + 100000000ull;
  abs_mono(&rt, wall);
  if (pthread_timedjoin_np(s->thread, NULL, &rt) != 0) pthread_detach(s->thread);
  pthread_mutex_lock(&s->mu);
  for (struct nc_sink_rec *r = s->head; r; r = r->next) {
    if (r->dropped) continue;
    r->dropped = true; /* counted once, even if a detached thread still pops it */
    s->lost_records++;
    s->lost_bytes += r->len;
    s->total_lost_records++;
  }
  pthread_mutex_unlock(&s->mu);
}
