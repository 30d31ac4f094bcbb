/* tools.h — the tools the model may call (run_command, read_file,
 * write_file, list_dir): their schema, each call turned into one command
 * inside the session, and its outcome turned into text for the model. */
#ifndef NC_AGENT_TOOLS_H
#define NC_AGENT_TOOLS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nanoclaw.h"

#define NC_TOOL_OUTPUT_CAP (64u << 10) /* bytes of each stream of run_command and list_dir */
#define NC_TOOL_READ_CAP (256u << 10)  /* bytes of a file read_file returns */

/* The "tools" array of a chat completions request (new reference). */
json_t *nc_tools_schema(void);

enum nc_tool_kind { NC_TOOL_RUN, NC_TOOL_READ, NC_TOOL_WRITE, NC_TOOL_LIST };

/* One call, ready to run: argv for nc_session_exec, stdin, output cap. */
struct nc_tool_plan {
  enum nc_tool_kind kind;
  char *arg;            /* the command or the path (owned) */
  char *stdin_data;     /* write_file's content (owned), or NULL */
  size_t stdin_len;
  const char *argv[6];  /* points into arg and static strings */
  size_t output_cap;
};

/* Plan the call of tool `name` with `arguments` (a JSON text, or an object
 * as some servers send). 0 with *plan filled (free it with
 * nc_tool_plan_free), or -EINVAL with *ret_error (malloc'd) the text for the
 * model: unknown tool, arguments not a JSON object, a missing argument. */
int nc_tool_plan(const char *name, json_t *arguments, struct nc_tool_plan *plan, char **ret_error);
void nc_tool_plan_free(struct nc_tool_plan *plan);

/* The text the model gets for a finished exec (malloc'd, valid UTF-8):
 * run_command: {"exit_code":N,"stdout":"...","stderr":"..."} (+ "timed_out":true, "signal":N); output cut at the
 * cap ends with "[... output truncated at N bytes]". read_file: the content; list_dir: the listing; write_file:
 * "wrote N bytes to PATH"; a failure of those three: "error: ...". */
char *nc_tool_result_text(const struct nc_tool_plan *plan, const nc_exec_result *res, uint64_t timeout_ms);

#endif
