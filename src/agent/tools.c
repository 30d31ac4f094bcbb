/* tools.c — see tools.h. Every tool is one command run by the session's
 * pid 1 with the sandbox user's rights: what the sandbox cannot do, the
 * tool cannot do (a write outside the writable mounts fails inside). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/text.h"
#include "agent/tools.h"
#include "core/error.h"

static json_t *tool(const char *name, const char *desc, json_t *props, json_t *required) {
  return json_pack("{s:s, s:{s:s, s:s, s:{s:s, s:o, s:o, s:b}}}", "type", "function", "function", "name", name,
                   "description", desc, "parameters", "type", "object", "properties", props, "required", required,
                   "additionalProperties", 0);
}

static json_t *str_prop(const char *desc) { return json_pack("{s:s, s:s}", "type", "string", "description", desc); }

json_t *nc_tools_schema(void) {
  json_t *a = json_array();
  if (!a) return NULL;
  json_t *t[] = {
      tool("run_command",
           "Run a shell command (/bin/sh -c) inside the sandbox and get its exit code, stdout and stderr "
           "(each cut at 64 KiB). Each call is a new process; files persist between calls.",
           json_pack("{s:o}", "command", str_prop("the shell command")), json_pack("[s]", "command")),
      tool("read_file", "Read a text file inside the sandbox (up to 256 KiB).",
           json_pack("{s:o}", "path", str_prop("the file's path, absolute or relative to the working directory")),
           json_pack("[s]", "path")),
      tool("write_file",
           "Write (create or replace) a file inside the sandbox with the given content. Only writable "
           "places work (see the system prompt).",
           json_pack("{s:o, s:o}", "path", str_prop("the file's path"), "content", str_prop("the whole new content")),
           json_pack("[s, s]", "path", "content")),
      tool("list_dir", "List a directory inside the sandbox (ls -la).",
           json_pack("{s:o}", "path", str_prop("the directory's path")), json_pack("[s]", "path")),
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    if (!t[i] || json_array_append_new(a, t[i]) < 0) {
      for (size_t j = i + 1; j < sizeof t / sizeof t[0]; j++) json_decref(t[j]);
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

__attribute__((format(printf, 2, 3))) static int refuse(char **ret_error, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(ret_error, fmt, ap) < 0) *ret_error = NULL;
  va_end(ap);
  return -EINVAL;
}

/* A required string argument; NULL (and *ret_error) when it is missing. */
static const char *string_arg(json_t *args, const char *tool_name, const char *key, char **ret_error) {
  json_t *v = json_object_get(args, key);
  /* content may hold any bytes; a command or a path with a NUL in it would be cut short: refused */
  if (json_is_string(v) && (!strcmp(key, "content") || strlen(json_string_value(v)) == json_string_length(v)))
    return json_string_value(v);
  refuse(ret_error, json_is_string(v) ? "error: %s: the \"%s\" argument contains a NUL byte"
                                      : "error: %s needs a \"%s\" string argument",
         tool_name, key);
  return NULL;
}

int nc_tool_plan(const char *name, json_t *arguments, struct nc_tool_plan *plan, char **ret_error) {
  memset(plan, 0, sizeof *plan);
  *ret_error = NULL;
  static const struct {
    const char *name;
    enum nc_tool_kind kind;
  } known[] = {{"run_command", NC_TOOL_RUN}, {"read_file", NC_TOOL_READ}, {"write_file", NC_TOOL_WRITE},
               {"list_dir", NC_TOOL_LIST}};
  size_t k = 0;
  while (k < sizeof known / sizeof known[0] && strcmp(known[k].name, name ? name : "")) k++;
  if (k == sizeof known / sizeof known[0]) {
    char q[128];
    return refuse(ret_error, "error: unknown tool \"%s\"; the tools are run_command, read_file, write_file, list_dir",
                  nc_quote(q, sizeof q, name));
  }
  json_t *args = json_incref(arguments);
  if (json_is_string(arguments)) {
    json_error_t je;
    json_decref(args);
    args = json_loads(json_string_value(arguments), JSON_ALLOW_NUL, &je);
    if (!args) {
      return refuse(ret_error, "error: the arguments of %s are not valid JSON (%s at byte %d)", name, je.text,
                    je.position);
    }
  } else if (!arguments || json_is_null(arguments)) {
    args = json_object();
  }
  if (!json_is_object(args)) {
    json_decref(args);
    return refuse(ret_error, "error: the arguments of %s are not a JSON object", name);
  }
  plan->kind = known[k].kind;
  const char *key = plan->kind == NC_TOOL_RUN ? "command" : "path";
  const char *v = string_arg(args, name, key, ret_error);
  const char *content = plan->kind == NC_TOOL_WRITE && v ? string_arg(args, name, "content", ret_error) : NULL;
  if (!v || (plan->kind == NC_TOOL_WRITE && !content)) {
    json_decref(args);
    return -EINVAL;
  }
  plan->arg = strdup(v);
  if (content) {
    plan->stdin_len = json_string_length(json_object_get(args, "content"));
    plan->stdin_data = malloc(plan->stdin_len + 1);
    if (plan->stdin_data) memcpy(plan->stdin_data, content, plan->stdin_len + 1);
  }
  json_decref(args);
  if (!plan->arg || (content && !plan->stdin_data)) {
    nc_tool_plan_free(plan);
    return refuse(ret_error, "error: %s: out of memory", name);
  }
  if (plan->kind != NC_TOOL_RUN && !*plan->arg) {
    nc_tool_plan_free(plan);
    return refuse(ret_error, "error: %s: the path is empty", name);
  }
  const char **a = plan->argv;
  switch (plan->kind) {
    case NC_TOOL_RUN:
      a[0] = "/bin/sh", a[1] = "-c", a[2] = plan->arg;
      plan->output_cap = NC_TOOL_OUTPUT_CAP;
      break;
    case NC_TOOL_READ:
      a[0] = "cat", a[1] = "--", a[2] = plan->arg;
      plan->output_cap = NC_TOOL_READ_CAP;
      break;
    case NC_TOOL_WRITE:
      a[0] = "/bin/sh", a[1] = "-c", a[2] = "cat > \"$1\"", a[3] = "sh", a[4] = plan->arg;
      plan->output_cap = NC_TOOL_OUTPUT_CAP;
      break;
    case NC_TOOL_LIST:
      a[0] = "ls", a[1] = "-la", a[2] = "--", a[3] = plan->arg;
      plan->output_cap = NC_TOOL_OUTPUT_CAP;
      break;
  }
  return 0;
}

void nc_tool_plan_free(struct nc_tool_plan *plan) {
  free(plan->arg);
  free(plan->stdin_data);
  memset(plan, 0, sizeof *plan);
}

/* A stream for the model: cleaned, with a marker when the cap cut it. */
static json_t *stream(const char *buf, size_t len, bool truncated, size_t cap) {
  if (!truncated) return nc_text_json(buf, len);
  char marker[64];
  int m = snprintf(marker, sizeof marker, "\n[... output truncated at %zu bytes]", cap);
  char *t = malloc(len + (size_t)m + 1);
  if (!t) return NULL;
  if (len) memcpy(t, buf, len);
  memcpy(t + len, marker, (size_t)m + 1);
  json_t *j = nc_text_json(t, len + (size_t)m);
  free(t);
  return j;
}

static char *text_of(json_t *j) {
  char *s = j ? strdup(json_string_value(j)) : NULL;
  json_decref(j);
  return s;
}

/* "error: reading `p` failed (exit 1): cat: p: No such file" (stderr trimmed). */
static char *failure(const struct nc_tool_plan *plan, const nc_exec_result *res, uint64_t timeout_ms) {
  static const char *const verb[] = {"running", "reading", "writing", "listing"};
  size_t el = res->err_len;
  while (el > 0 && (res->err[el - 1] == '\n' || res->err[el - 1] == '\r')) el--;
  char how[96];
  if (res->timed_out)
    snprintf(how, sizeof how, "timed out after %llu.%03llus", (unsigned long long)(timeout_ms / 1000),
             (unsigned long long)(timeout_ms % 1000));
  else if (res->signal)
    snprintf(how, sizeof how, "killed by signal %d", res->signal);
  else
    snprintf(how, sizeof how, "exit %d", res->exit_code);
  char *s = NULL;
  if (asprintf(&s, "error: %s %s failed (%s)%s%.*s", verb[plan->kind], plan->arg, how, el ? ": " : "", (int)el,
               res->err ? res->err : "") < 0)
    return NULL;
  json_t *j = nc_text_json(s, strlen(s)); /* stderr may be any bytes */
  free(s);
  return text_of(j);
}

char *nc_tool_result_text(const struct nc_tool_plan *plan, const nc_exec_result *res, uint64_t timeout_ms) {
  const char *out = res->out ? res->out : "", *err = res->err ? res->err : "";
  if (plan->kind == NC_TOOL_RUN) {
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "exit_code", json_integer(res->exit_code));
    if (res->timed_out) json_object_set_new(o, "timed_out", json_true());
    if (res->signal) json_object_set_new(o, "signal", json_integer(res->signal));
    json_object_set_new(o, "stdout", stream(out, res->out_len, res->out_truncated, plan->output_cap));
    json_object_set_new(o, "stderr", stream(err, res->err_len, res->err_truncated, plan->output_cap));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
  }
  if (res->exit_code != 0 || res->timed_out || res->signal) return failure(plan, res, timeout_ms);
  if (plan->kind == NC_TOOL_WRITE) {
    char *s = NULL;
    if (asprintf(&s, "wrote %zu bytes to %s", plan->stdin_len, plan->arg) < 0) return NULL;
    return s; /* the path came from JSON: valid UTF-8 already */
  }
  return text_of(stream(out, res->out_len, res->out_truncated, plan->output_cap));
}
