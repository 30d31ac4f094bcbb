/* util.h — cleanup attributes, ownership moves, checked syscalls, small helpers. */
#ifndef NC_CORE_UTIL_H
#define NC_CORE_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

static inline void nc_freep(void *p) { free(*(void **)p); }
static inline void nc_closep(int *fd) {
  /* Never retry close() on EINTR on Linux: the fd is already gone. */
  if (*fd >= 0) {
    int saved = errno;
    close(*fd);
    errno = saved;
    *fd = -1; /* a second close would hit whatever reuses the number, in another thread too */
  }
}
static inline void nc_fclosep(FILE **f) {
  if (*f) fclose(*f);
}

#define nc_autofree __attribute__((cleanup(nc_freep)))
#define nc_autoclose __attribute__((cleanup(nc_closep)))
#define nc_autofclose __attribute__((cleanup(nc_fclosep)))

static inline int nc_steal_fd(int *fd) {
  int r = *fd;
  *fd = -1;
  return r;
}
#define nc_steal_ptr(pp)                 \
  __extension__({                        \
    __typeof__(*(pp)) nc_tmp_ = *(pp);   \
    *(pp) = NULL;                        \
    nc_tmp_;                             \
  })

#define NC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* write all of buf, retrying on EINTR and short writes; 0 or -errno. */
int nc_write_all(int fd, const void *buf, size_t len);
/* write a string to path relative to dirfd (O_WRONLY|O_CLOEXEC, no create). */
int nc_write_file_at(int dirfd, const char *path, const char *s);
/* read up to cap-1 bytes of path into buf, NUL-terminated; bytes or -errno. */
ssize_t nc_read_file_at(int dirfd, const char *path, char *buf, size_t cap);
/* monotonic clock in ns */
uint64_t nc_now_ns(void);
/* 32 lower-case hex chars of fresh randomness, NUL-terminated (33 bytes). */
int nc_random_id(char out[33]);

#endif
