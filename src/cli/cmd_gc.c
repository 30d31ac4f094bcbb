/* cmd_gc.c — `nanoclaw gc`: remove cgroups a crashed nanoclaw left behind. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "nanoclaw.h"
#include "sandbox/cgroup.h"

int nc_cmd_gc(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      puts("Usage: nanoclaw gc\n\nRemove sandbox cgroups (nanoclaw-*) that have no process left and whose\n"
           "nanoclaw is gone. Mounts and namespaces die with their sandbox; uid leases are\n"
           "released by the kernel.");
      return 0;
    }
    fprintf(stderr, "nanoclaw: gc: unknown option \"%s\"\n", argv[i]);
    return 125;
  }
  nc_error err = {0};
  int n = nc_cgroup_gc(NULL, &err);
  if (n < 0) {
    fprintf(stderr, "nanoclaw: gc: %s\n", err.msg);
    return 1;
  }
  printf("removed %d stale cgroup%s\n", n, n == 1 ? "" : "s");
  return 0;
}
