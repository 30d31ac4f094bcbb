/* proxy-srv.c — bench/proxy's loopback HTTP server, built by the script
 * (cc -O2) into a temporary directory. Not part of nanoclaw.
 *
 *   proxy-srv              listen on 127.0.0.1:0, print the port, serve forever
 *   proxy-srv --free-port  print a port that was free a moment ago, exit
 *
 * Answers `GET /bytes/N` (origin-form or absolute-form) with N bytes and a
 * Content-Length, HTTP/1.1, Connection: close; anything else gets a 404.
 * One forked child per connection; the body comes from a 32 MiB memfd of
 * random bytes with sendfile(2), wrapping around, so the server copies
 * nothing in user space and is never the bottleneck. Children die with the
 * server (PR_SET_PDEATHSIG), so killing the server's pid cleans up all. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define BODY_FILE (32u << 20)

static int listen_loopback(unsigned short *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1024) < 0 ||
      getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

static int write_all(int fd, const char *p, size_t n, int flags) {
  while (n) {
    ssize_t w = send(fd, p, n, flags);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void serve(int cfd, int body) {
  char head[8192];
  size_t len = 0;
  struct timeval tv = {.tv_sec = 30};
  setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (len < sizeof head - 1) {
    ssize_t r = recv(cfd, head + len, sizeof head - 1 - len, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    len += (size_t)r;
    head[len] = 0;
    if (strstr(head, "\r\n\r\n")) break;
  }
  head[len] = 0;
  /* "GET /bytes/N HTTP/1.1" or "GET http://host:port/bytes/N HTTP/1.1" */
  char *target = NULL;
  if (strncmp(head, "GET ", 4) == 0) {
    target = head + 4;
    if (strncmp(target, "http://", 7) == 0) target = strchr(target + 7, '/');
  }
  uint64_t n = 0;
  char *end = NULL;
  if (target && strncmp(target, "/bytes/", 7) == 0) {
    errno = 0;
    n = strtoull(target + 7, &end, 10);
    if (errno || end == target + 7 || *end != ' ') target = NULL;
  } else {
    target = NULL;
  }
  char hdr[256];
  if (!target) {
    static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    write_all(cfd, nf, sizeof nf - 1, 0);
    return;
  }
  int hl = snprintf(hdr, sizeof hdr,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %" PRIu64
                    "\r\nConnection: close\r\n\r\n",
                    n);
  if (write_all(cfd, hdr, (size_t)hl, n ? MSG_MORE : 0) < 0) return;
  while (n) {
    off_t off = 0;
    size_t chunk = n < BODY_FILE ? (size_t)n : BODY_FILE;
    while (chunk) {
      ssize_t w = sendfile(cfd, body, &off, chunk);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return;
      chunk -= (size_t)w;
      n -= (uint64_t)w;
    }
  }
}

int main(int argc, char **argv) {
  unsigned short port;
  int lfd = listen_loopback(&port);
  if (lfd < 0) {
    perror("proxy-srv: listen on 127.0.0.1");
    return 1;
  }
  if (argc > 1 && strcmp(argv[1], "--free-port") == 0) {
    printf("%u\n", port);
    return 0;
  }
  int body = memfd_create("proxy-srv-body", MFD_CLOEXEC);
  if (body < 0 || ftruncate(body, BODY_FILE) < 0) {
    perror("proxy-srv: memfd");
    return 1;
  }
  char *m = mmap(NULL, BODY_FILE, PROT_READ | PROT_WRITE, MAP_SHARED, body, 0);
  if (m == MAP_FAILED) {
    perror("proxy-srv: mmap");
    return 1;
  }
  for (size_t off = 0; off < BODY_FILE;) {
    ssize_t r = getrandom(m + off, BODY_FILE - off, 0);
    if (r > 0) off += (size_t)r;
  }
  munmap(m, BODY_FILE);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
  printf("%u\n", port);
  fflush(stdout);
  pid_t server = getpid();
  for (;;) {
    int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) continue;
      perror("proxy-srv: accept");
      return 1;
    }
    pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != server) _exit(0);
      close(lfd);
      serve(cfd, body);
      shutdown(cfd, SHUT_WR);
      _exit(0);
    }
    close(cfd);
  }
}
