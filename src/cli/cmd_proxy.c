/* cmd_proxy.c — `nanoclaw proxy --listen ADDR:PORT [OPTIONS]`: nanoclaw's egress proxy on its own, the
 * gateway of exported sandboxes (docker/podman internal networks, Kubernetes): the same allowlist
 * code the native runtime serves inside each sandbox, one JSON line on stderr per connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/commands.h"
#include "config/flags.h"
#include "config/profile.h"
#include "core/parse.h"
#include "net/proxy.h"

static const char proxy_usage[] =
    "Usage: nanoclaw proxy --listen ADDR:PORT [--config FILE] [--allow-host HOST[:PORT]...] [--add-host NAME:IP...]\n"
    "\n"
    "Serve nanoclaw's egress proxy (HTTP CONNECT, HTTP forwarding, SOCKS5) on ADDR:PORT for the hosts the\n"
    "profile's allowed_hosts names: the gateway that `nanoclaw export docker-run|podman-run|k8s` sets up.\n"
    "Runs until SIGTERM or SIGINT; logs one JSON line per connection on stderr.\n";

static int listen_on(const char *spec) {
  char host[128];
  const char *colon = strrchr(spec, ':');
  uint64_t port;
  if (!colon || (size_t)(colon - spec) >= sizeof host || nc_parse_u64(colon + 1, 1, 65535, &port) < 0) return -EINVAL;
  snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
  if (host[0] == '[' && host[strlen(host) - 1] == ']')
    memmove(host, host + 1, strlen(host)), host[strlen(host) - 1] = '\0';
  struct sockaddr_storage ss = {0};
  socklen_t len;
  struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    len = sizeof *in4;
  } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    len = sizeof *in6;
  } else {
    return -EINVAL;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
  if (fd < 0) return -errno;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

static void log_event(void *ctx, const struct nc_proxy_event *ev) {
  (void)ctx;
  json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s?, s:I, s:I, s:I}", "decision",
                        ev->allowed ? "allowed" : "denied", "proto", ev->proto, "host", ev->host, "port", (int)ev->port,
                        "addr", ev->addr, "reason", ev->reason, "bytes_out", (json_int_t)ev->bytes_out, "bytes_in",
                        (json_int_t)ev->bytes_in, "duration_ms", (json_int_t)ev->duration_ms);
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  if (s) fprintf(stderr, "%s\n", s);
  free(s);
  json_decref(o);
}

int nc_cmd_proxy(int argc, char **argv) {
  const char *listen_spec = NULL;
  char **flags = calloc((size_t)argc + 1, sizeof *flags);
  int nf = 0;
  if (!flags) return NC_EXIT_SETUP;
  flags[nf++] = argv[0];
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      fputs(proxy_usage, stdout);
      free(flags);
      return 0;
    }
    if (!strncmp(argv[i], "--listen=", 9)) listen_spec = argv[i] + 9;
    else if (!strcmp(argv[i], "--listen") && i + 1 < argc) listen_spec = argv[++i];
    else flags[nf++] = argv[i];
  }
  nc_profile *p = nc_profile_new();
  nc_error err = {0};
  int next = 0, help = 0, status = NC_EXIT_SETUP, sfd = -1;
  struct nc_proxy *px = NULL;
  if (!p || nc_profile_parse_args(p, nf, flags, 1, &next, &help, &err) < 0 || next < nf) {
    fprintf(stderr, "nanoclaw: proxy: %s\n", err.msg[0] ? err.msg : "unexpected argument (see --help)");
    goto out;
  }
  if (!listen_spec) {
    fprintf(stderr, "nanoclaw: proxy: --listen ADDR:PORT is required\n");
    goto out;
  }
  if (p->allowed_hosts.n == 0) {
    fprintf(stderr, "nanoclaw: proxy: allowed_hosts is empty: nothing would be let through\n");
    goto out;
  }
  int lfd = listen_on(listen_spec);
  if (lfd < 0) {
    fprintf(stderr, "nanoclaw: proxy: --listen \"%s\": %s\n", listen_spec, strerror(-lfd));
    goto out;
  }
  if (nc_proxy_new(&px, p, lfd, NULL, &err) < 0) {
    fprintf(stderr, "nanoclaw: proxy: %s\n", err.msg);
    goto out;
  }
  nc_proxy_set_observer(px, log_event, NULL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  sfd = signalfd(-1, &set, SFD_CLOEXEC);
  struct pollfd fds[2] = {{nc_proxy_fd(px), POLLIN, 0}, {sfd, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (fds[1].revents) {
      status = 0;
      break;
    }
    if (fds[0].revents) nc_proxy_dispatch(px);
  }
out:
  if (px) nc_proxy_free(px);
  if (sfd >= 0) close(sfd);
  nc_profile_free(p);
  free(flags);
  return status;
}
