/* curl-lazy.h — libcurl, loaded with dlopen on first use. Linking libcurl
 * would load ~30 shared libraries (TLS, HTTP/2, LDAP, Kerberos...) into every
 * `nanoclaw run` — about 3 ms of relocations before anything happens — while
 * only the HTTP audit sink and the model client need it. */
#ifndef NC_CORE_CURL_LAZY_H
#define NC_CORE_CURL_LAZY_H

#include <curl/curl.h>

#include "core/error.h"

struct nc_curl_api {
  CURLcode (*global_init)(long flags);
  const char *(*easy_strerror)(CURLcode);
  const char *(*multi_strerror)(CURLMcode);
  CURL *(*easy_init)(void);
  void (*easy_cleanup)(CURL *);
  void (*easy_reset)(CURL *);
  CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
  CURLcode (*easy_perform)(CURL *);
  CURLM *(*multi_init)(void);
  CURLMcode (*multi_cleanup)(CURLM *);
  CURLMcode (*multi_add_handle)(CURLM *, CURL *);
  CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
  CURLMcode (*multi_perform)(CURLM *, int *running);
  CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned int, int, int *);
  CURLMcode (*multi_wakeup)(CURLM *);
  CURLMsg *(*multi_info_read)(CURLM *, int *left);
  struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
  void (*slist_free_all)(struct curl_slist *);
};

/* The loaded and globally initialised library (once, thread-safe), or NULL
 * with err saying what is missing. */
const struct nc_curl_api *nc_curl(nc_error *err);

#endif
