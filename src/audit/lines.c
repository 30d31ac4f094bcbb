/* lines.c — read an audit file line by line in one bounded buffer (verify, show and show --follow). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit-internal.h"

#define LR_CAP NC_AUDIT_RECORD_MAX /* a line of up to RECORD_MAX - 1 bytes plus its newline */

int nc_linereader_init(struct nc_linereader *r, int fd) {
  memset(r, 0, sizeof *r);
  r->fd = fd;
  r->buf = malloc(LR_CAP);
  return r->buf ? 0 : -ENOMEM;
}

void nc_linereader_fini(struct nc_linereader *r) {
  free(r->buf);
  r->buf = NULL;
}

size_t nc_linereader_pending(const struct nc_linereader *r) { return r->end - r->start; }

/* Read more bytes after compacting; 1 got some, 0 end of file, < 0 error. */
static int fill(struct nc_linereader *r) {
  if (r->start > 0) {
    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
  }
  if (r->end == LR_CAP) return 1; /* full: the caller sees the line is too long */
  for (;;) {
    ssize_t n = read(r->fd, r->buf + r->end, LR_CAP - r->end);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    r->end += (size_t)n;
    return n > 0;
  }
}

int nc_linereader_next(struct nc_linereader *r, const char **line, size_t *len) {
  for (;;) {
    char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
    if (nl) {
      *line = r->buf + r->start;
      *len = (size_t)(nl - *line);
      r->start = (size_t)(nl - r->buf) + 1;
      r->lineno++;
      return 1;
    }
    if (r->end - r->start == LR_CAP) {
      /* Too long: drop what we have and everything up to the next newline. */
      r->lineno++;
      r->start = r->end = 0;
      for (;;) {
        int f = fill(r);
        if (f < 0) return f;
        if (f == 0) break;
        nl = memchr(r->buf, '\n', r->end);
        if (nl) {
          r->start = (size_t)(nl - r->buf) + 1;
          break;
        }
        r->end = 0;
      }
      return -E2BIG;
    }
    int f = fill(r);
    if (f <= 0) return f;
  }
}
