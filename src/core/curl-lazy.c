/* curl-lazy.c — see curl-lazy.h. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>

#include "core/curl-lazy.h"

static struct nc_curl_api api;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[400];
static bool loaded;

static void load(void) {
  void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(load_error, sizeof load_error, "libcurl is not available (%s); install libcurl4", dlerror());
    return;
  }
  static const struct {
    const char *name;
    size_t off;
  } syms[] = {
#define S(f) {"curl_" #f, offsetof(struct nc_curl_api, f)}
      S(global_init),   S(easy_strerror),       S(multi_strerror),   S(easy_init),     S(easy_cleanup),
      S(easy_reset),    S(easy_setopt),         S(easy_getinfo),     S(easy_perform),  S(multi_init),
      S(multi_cleanup), S(multi_add_handle),    S(multi_remove_handle), S(multi_perform), S(multi_poll),
      S(multi_wakeup),  S(multi_info_read),     S(slist_append),     S(slist_free_all),
#undef S
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
    void *f = dlsym(h, syms[i].name);
    if (!f) {
      snprintf(load_error, sizeof load_error, "libcurl.so.4 has no %s (libcurl 7.68 or later is needed)",
               syms[i].name);
      return; /* keep the handle: nothing else uses it */
    }
    *(void **)((char *)&api + syms[i].off) = f;
  }
  CURLcode c = api.global_init(CURL_GLOBAL_DEFAULT);
  if (c != CURLE_OK) {
    snprintf(load_error, sizeof load_error, "curl_global_init: %s", api.easy_strerror(c));
    return;
  }
  loaded = true;
}

const struct nc_curl_api *nc_curl(nc_error *err) {
  pthread_once(&once, load);
  if (!loaded) {
    nc_error_set(err, ENOTSUP, "%s", load_error);
    return NULL;
  }
  return &api;
}
