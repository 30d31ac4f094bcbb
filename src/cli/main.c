/* main.c — `nanoclaw`: dispatch to a subcommand; the only place that exits. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "config/flags.h"
#include "nanoclaw.h"

static const char usage[] =
    "Usage: nanoclaw COMMAND [OPTIONS]\n"
    "\n"
    "Run commands an AI agent decided on inside a hardened, ephemeral Linux sandbox.\n"
    "\n"
    "Commands:\n"
    "  run [OPTIONS] [--] CMD [ARGS...]  run CMD in a fresh sandbox (see `nanoclaw run --help`)\n"
    "  check [--json]                    what this host offers and which profile features work here\n"
    "  gc                                remove what a crashed nanoclaw left behind (cgroups)\n"
    "  audit verify|show [FILE]          check an audit log's hash chain, print its records\n"
    "  export KIND [PROFILE] [OPTIONS]   the profile as a Dockerfile, docker/podman run arguments, an OCI\n"
    "                                    bundle, Kubernetes manifests or a seccomp profile (`export --help`)\n"
    "  proxy --listen ADDR:PORT [OPTIONS] nanoclaw's egress proxy alone: the gateway of exported sandboxes\n"
    "  agent [OPTIONS] PROMPT            a model decides, the sandbox acts (see `nanoclaw agent --help`)\n"
    "  session start|exec|stop           a sandbox that stays up between commands\n"
    "  image pull|import|ls|rm|inspect   the local image store (--image NAME[:TAG] runs from it)\n"
    "  help                              this text\n"
    "  version                           print the version\n"
    "\n"
    "Exit status of `run`: the command's own; 124 the deadline killed it; 125 nanoclaw\n"
    "could not set the sandbox up; 126 not executable; 127 not found.\n"
    "See nanoclaw(1).\n"
    "\n"
    "Options of `run` (each is also a key of the JSON profile):\n";

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage, stderr);
    return 125;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "run")) return nc_cmd_run(argc - 1, argv + 1);
  if (!strcmp(cmd, "check")) return nc_cmd_check(argc - 1, argv + 1);
  if (!strcmp(cmd, "gc")) return nc_cmd_gc(argc - 1, argv + 1);
  if (!strcmp(cmd, "audit")) return nc_cmd_audit(argc - 1, argv + 1);
  if (!strcmp(cmd, "export")) return nc_cmd_export(argc - 1, argv + 1);
  if (!strcmp(cmd, "proxy")) return nc_cmd_proxy(argc - 1, argv + 1);
  if (!strcmp(cmd, "agent")) return nc_cmd_agent(argc - 1, argv + 1);
  if (!strcmp(cmd, "session")) return nc_cmd_session(argc - 1, argv + 1);
  if (!strcmp(cmd, "image")) return nc_cmd_image(argc - 1, argv + 1);
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    fputs(usage, stdout);
    fputs(nc_profile_flags_help(), stdout);
    return 0;
  }
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("nanoclaw %s\n", nc_version());
    return 0;
  }
  fprintf(stderr, "nanoclaw: unknown command \"%s\" (try `nanoclaw --help`)\n", cmd);
  return 125;
}
