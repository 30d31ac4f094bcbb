/* nc-exec-bench — time nc_session_exec of a command in one session.
 * Usage: nc-exec-bench N [CMD ARGS...]   (default CMD: /bin/true)
 * Prints: "session_start_ms X" and "exec_us median M p10 A p90 B n N", exits 1 on any failure. */
#include <nanoclaw.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 200;
  static char *def[] = {"/bin/true", NULL};
  char **cmd = argc > 2 ? argv + 2 : def;
  if (n < 1) n = 1;
  nc_error err = {0};
  nc_profile *p = nc_profile_new();
  if (!p || nc_profile_set(p, "audit.log", "none", NULL, &err) < 0) {
    fprintf(stderr, "profile: %s\n", err.msg);
    return 1;
  }
  nc_session *s;
  double t0 = now_us();
  if (nc_session_start(p, &s, &err) < 0) {
    fprintf(stderr, "session start: %s\n", err.msg);
    return 1;
  }
  printf("session_start_ms %.2f\n", (now_us() - t0) / 1000);
  double *t = calloc((size_t)n, sizeof *t);
  int rc = 0;
  for (int i = 0; t && i < n; i++) {
    nc_exec_result r;
    double a = now_us();
    if (nc_session_exec(s, cmd, NULL, 0, 10000, 0, &r, &err) < 0 || r.exit_code != 0) {
      fprintf(stderr, "exec %d: %s (exit %d)\n", i, err.msg, r.exit_code);
      rc = 1;
      break;
    }
    t[i] = now_us() - a;
    nc_exec_result_free(&r);
  }
  if (rc == 0 && t) {
    qsort(t, (size_t)n, sizeof *t, cmp);
    printf("exec_us median %.0f p10 %.0f p90 %.0f n %d\n", t[n / 2], t[n / 10], t[n * 9 / 10], n);
  }
  free(t);
  if (nc_session_stop(s, NULL, &err) < 0) {
    fprintf(stderr, "session stop: %s\n", err.msg);
    rc = 1;
  }
  nc_profile_free(p);
  return rc;
}
