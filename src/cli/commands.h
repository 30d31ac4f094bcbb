/* commands.h — the subcommands main() dispatches to; each returns the process exit status. */
#ifndef NC_CLI_COMMANDS_H
#define NC_CLI_COMMANDS_H

int nc_cmd_check(int argc, char **argv);
int nc_cmd_run(int argc, char **argv);
int nc_cmd_gc(int argc, char **argv);
int nc_cmd_audit(int argc, char **argv);
int nc_cmd_export(int argc, char **argv);
int nc_cmd_proxy(int argc, char **argv);
int nc_cmd_agent(int argc, char **argv);
int nc_cmd_session(int argc, char **argv);
/* cmd_run.c: --result-json output (FILE or - for stdout); -1 after printing why. */
struct nc_profile;
int nc_cli_write_json(const struct nc_profile *p, const char *json);
int nc_cmd_image(int argc, char **argv);

#endif
