/* nc-longlived.c — a long-lived caller of libnanoclaw: N runs in one process, then
 * report fd count and RSS growth (tests/integration/limits.sh judges them). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nanoclaw.h"

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  if (!d) return -1;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "re");
  char line[256];
  long kb = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 200;
  nc_profile *p = nc_profile_new();
  nc_error err = {0};
  if (!p || nc_profile_set(p, "timeout", "10", NULL, &err) < 0) {
    fprintf(stderr, "profile: %s\n", err.msg);
    return 2;
  }
  char *argv_true[] = {"/bin/true", NULL};
  int fds0 = 0;
  long rss0 = 0;
  for (int i = 0; i < n; i++) {
    nc_run_result res;
    if (nc_run(p, argv_true, &res, &err) < 0 || res.exit_code != 0) {
      fprintf(stderr, "run %d: %s (exit %d)\n", i, err.msg, res.exit_code);
      return 1;
    }
    if (i == 9) { /* after warm-up: allocator arenas and caches settled */
      fds0 = count_fds();
      rss0 = rss_kb();
    }
  }
  printf("runs=%d fds_before=%d fds_after=%d rss_kb_before=%ld rss_kb_after=%ld\n", n, fds0, count_fds(), rss0,
         rss_kb());
  nc_profile_free(p);
  return 0;
}
