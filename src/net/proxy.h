/* proxy.h — the egress proxy: a listening socket inside the sandbox's network
 * namespace, served by the supervisor from the host side. HTTP CONNECT,
 * plain-HTTP forwarding and SOCKS5 on one port; every destination checked
 * against allowed_hosts; bytes relayed with splice(2). */
#ifndef NC_NET_PROXY_H
#define NC_NET_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "config/profile.h"
#include "core/error.h"

#define NC_PROXY_PORT 3128 /* inside the sandbox: 127.0.0.1:3128 */

struct nc_proxy_limits {
  unsigned max_conns;          /* concurrent client connections (default 128) */
  uint64_t head_timeout_ms;    /* a request head must arrive within this (default 10 s) */
  uint64_t connect_timeout_ms; /* resolving + connecting upstream (default 10 s) */
  uint64_t idle_timeout_ms;    /* a relay with no bytes either way (default 300 s) */
};

/* One connection, reported when it ends (allowed or not). */
struct nc_proxy_event {
  bool allowed;           /* the allowlist let it through */
  const char *proto;      /* "connect", "http", "socks5" */
  const char *host;       /* as requested ("" when the request was unreadable) */
  unsigned port;
  const char *addr;       /* the upstream address tried last, "" if none */
  const char *reason;     /* why it was refused or failed; NULL when it ran to its end */
  uint64_t bytes_out;     /* sandbox -> upstream */
  uint64_t bytes_in;      /* upstream -> sandbox */
  uint64_t duration_ms;
};
typedef void (*nc_proxy_observer)(void *ctx, const struct nc_proxy_event *ev);

struct nc_proxy_stats {
  uint64_t allowed, denied, failed, bytes_out, bytes_in;
};

struct nc_proxy;

/* Serve listen_fd (owned from now on, even on failure). limits may be NULL. */
int nc_proxy_new(struct nc_proxy **ret, const struct nc_profile *p, int listen_fd, const struct nc_proxy_limits *limits,
                 nc_error *err);
void nc_proxy_set_observer(struct nc_proxy *px, nc_proxy_observer fn, void *ctx);
/* An epoll fd that turns readable when the proxy has work: watch it, then
 * call nc_proxy_dispatch. */
int nc_proxy_fd(const struct nc_proxy *px);
void nc_proxy_dispatch(struct nc_proxy *px);
void nc_proxy_stats(const struct nc_proxy *px, struct nc_proxy_stats *st);
/* Close every connection, reporting each. */
void nc_proxy_close_all(struct nc_proxy *px);
/* Close every connection (reporting each) and the listening socket. */
void nc_proxy_free(struct nc_proxy *px);

#endif
