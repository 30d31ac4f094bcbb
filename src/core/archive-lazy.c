/* archive-lazy.c — see archive-lazy.h. */
#define NC_ARCHIVE_LAZY_IMPL
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "core/archive-lazy.h"

struct nc_archive_api nc_archive_fns;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[400];
static bool loaded;

static void load(void) {
  void *h = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(load_error, sizeof load_error, "libarchive is not available (%s); install libarchive13", dlerror());
    return;
  }
#define NC_ARCHIVE_SYM(f)                                                                          \
  if (!(*(void **)&nc_archive_fns.f = dlsym(h, #f))) {                                             \
    snprintf(load_error, sizeof load_error, "libarchive.so.13 has no %s (3.4 or later needed)", #f); \
    return;                                                                                        \
  }
  NC_ARCHIVE_FUNCS(NC_ARCHIVE_SYM)
#undef NC_ARCHIVE_SYM
  loaded = true;
}

bool nc_archive_load(nc_error *err) {
  pthread_once(&once, load);
  if (!loaded) nc_error_set(err, ENOTSUP, "%s", load_error);
  return loaded;
}
