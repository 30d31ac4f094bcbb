/* nosys-shim.c — LD_PRELOAD shim: openat2 and clone3 fail with ENOSYS, as on an
 * older kernel, so the suite exercises nanoclaw's fallbacks (crun's check-no-openat2). */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>

long syscall(long nr, ...);

long syscall(long nr, ...) {
  static long (*real)(long, ...);
  va_list ap;
  long a[6];
  va_start(ap, nr);
  for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
  va_end(ap);
  if (nr == SYS_openat2 || nr == SYS_clone3) {
    errno = ENOSYS;
    return -1;
  }
  if (!real) real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
