/* nanoclaw.h — the public C API of libnanoclaw: profiles, runs and their results. */
#ifndef NANOCLAW_H
#define NANOCLAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NC_VERSION "0.1.0"

/* Exit statuses of `nanoclaw run` (and nc_run_result.exit_code when the
 * sandbox itself failed). */
#define NC_EXIT_TIMEOUT 124  /* the deadline killed the sandbox */
#define NC_EXIT_SETUP 125    /* nanoclaw could not set the sandbox up */
#define NC_EXIT_NOEXEC 126   /* the command is not executable */
#define NC_EXIT_NOTFOUND 127 /* the command was not found */

/* Every fallible call returns 0 or a negative value and fills an nc_error:
 * an errno-style code and a one-line message naming what and where. */
typedef struct nc_error {
  int code;
  char msg[1024];
} nc_error;

/* A sandbox profile: every key of the JSON profile and every flag. Opaque. */
typedef struct nc_profile nc_profile;

nc_profile *nc_profile_new(void); /* secure defaults; NULL on ENOMEM */
void nc_profile_free(nc_profile *p);
/* Merge a JSON profile file into p. Errors name the file, line and key. */
int nc_profile_load_file(nc_profile *p, const char *path, nc_error *err);
/* Set one key from its string form, as a flag would (`mem_limit`, "512m").
 * Repeatable keys (allowed_hosts, binds, ...) append. `where` names the
 * origin for messages (e.g. "--mem-limit"); NULL means the key itself. */
int nc_profile_set(nc_profile *p, const char *key, const char *value, const char *where, nc_error *err);
/* Check the whole profile for conflicts; called by nc_run too. */
int nc_profile_validate(const nc_profile *p, nc_error *err);
/* The canonical JSON of the effective profile (malloc'd, caller frees). */
char *nc_profile_to_json(const nc_profile *p, nc_error *err);

/* What became of a run. */
typedef struct nc_run_result {
  char id[33];          /* sandbox id, 32 hex chars */
  int exit_code;        /* the command's status, or 124/125/126/127 */
  int signal;           /* signal that killed the command, or 0 */
  bool timed_out;       /* the deadline fired */
  bool oom_killed;      /* the memory limit killed something */
  bool output_truncated;/* --output-limit dropped output */
  uint64_t wall_ms;
  uint64_t cpu_user_ms;
  uint64_t cpu_sys_ms;
  uint64_t mem_peak_bytes;
  uint64_t output_dropped_bytes;
  /* which limits were enforced: memory, cpu_shares, cpus, pids */
  bool enforced_memory, enforced_cpu_shares, enforced_cpus, enforced_pids;
  /* egress through the allowlist proxy (all 0 without allowed_hosts):
   * connections allowed and run, denied by the allowlist (or unreadable),
   * allowed but failed (resolve/connect), and bytes relayed each way */
  uint64_t net_allowed, net_denied, net_failed;
  uint64_t net_bytes_out, net_bytes_in;
} nc_run_result;

/* Run argv (argv[0] looked up in the sandbox's PATH) in a fresh sandbox
 * built from profile p, with the caller's stdin/stdout/stderr. Returns 0
 * when the sandbox ran (the command's status is in *res), negative with
 * err filled when it could not be set up. Leaves nothing behind. */
int nc_run(const nc_profile *p, char *const argv[], nc_run_result *res, nc_error *err);

/* The run result as one JSON object (malloc'd, caller frees). */
char *nc_run_result_to_json(const nc_profile *p, const nc_run_result *res);

/* ---- sessions: one sandbox, many commands ----
 * A session is a sandbox that stays up between commands: its pid 1 starts
 * each exec'd command inside (with the profile's user, no capabilities,
 * seccomp) so a command costs a fork+exec, not a new sandbox. The profile's
 * deadline covers the whole session; everything dies at nc_session_stop. */
typedef struct nc_session nc_session;

int nc_session_start(const nc_profile *p, nc_session **ret, nc_error *err);
const char *nc_session_id(const nc_session *s);

typedef struct nc_exec_result {
  int exit_code;        /* 128+N for signal N; 124 when timeout_ms passed; 126/127 not executable/found */
  int signal;
  bool timed_out;       /* this exec's own timeout (the command and its children were killed) */
  uint64_t wall_ms;
  char *out, *err;      /* NUL-terminated captures (malloc'd) */
  size_t out_len, err_len;
  bool out_truncated, err_truncated; /* output_cap reached; the rest was read and dropped */
} nc_exec_result;

/* Run argv inside the session with stdin_data (may be NULL) as its standard
 * input, capturing stdout and stderr up to output_cap bytes each (0: 1 MiB).
 * timeout_ms 0: only the session's deadline. Returns 0 when the command ran
 * (or could not be found/executed: exit_code 126/127), negative with err
 * when the session is gone or broken. */
int nc_session_exec(nc_session *s, char *const argv[], const void *stdin_data, size_t stdin_len, uint64_t timeout_ms,
                    size_t output_cap, nc_exec_result *res, nc_error *err);
void nc_exec_result_free(nc_exec_result *r);

/* Kill everything in the session, collect the result (may be NULL), free s. */
int nc_session_stop(nc_session *s, nc_run_result *res, nc_error *err);

/* ---- agents: the model loop outside, the tools inside ----
 * execute() opens one session on the sandbox profile for the whole task,
 * asks the model (OpenAI-compatible chat completions with tool calling) and
 * runs the tools it calls (run_command, read_file, write_file, list_dir)
 * inside the session, until the model answers or max_steps/the deadline is
 * reached. The API key is read from the environment variable the profile
 * names (default OPENAI_API_KEY) and never enters the sandbox. */
typedef struct nc_agent nc_agent;

nc_agent *nc_agent_new(const char *name, const char *model, const nc_profile *sandbox, nc_error *err);
/* 0 with *response (malloc'd) the model's final answer; negative with err. */
int nc_agent_execute(nc_agent *a, const char *prompt, char **response, nc_error *err);

/* How a task ended, for callers that react differently (bindings map these
 * to exception classes). */
typedef enum nc_agent_outcome {
  NC_AGENT_ANSWERED,  /* the model answered */
  NC_AGENT_SETUP,     /* configuration (no key, bad URL, a key in env) or the sandbox could not start */
  NC_AGENT_MODEL,     /* the model API failed: key rejected, model not found, bad answers, retries exhausted */
  NC_AGENT_MAX_STEPS, /* the model still called tools after max_steps requests */
  NC_AGENT_DEADLINE,  /* the profile's deadline (timeout) passed */
  NC_AGENT_CANCELLED, /* interrupted */
  NC_AGENT_SANDBOX,   /* the session broke during the task */
} nc_agent_outcome;

/* nc_agent_execute that also says how it ended (outcome may be NULL). */
int nc_agent_execute_ex(nc_agent *a, const char *prompt, char **response, nc_agent_outcome *outcome, nc_error *err);
void nc_agent_free(nc_agent *a);

/* ---- introspection: the profile keys (for bindings and tools) ----
 * The i-th key of a profile (i = 0, 1, ... in `nanoclaw run --help` order)
 * as nc_profile_set names it ("mem_limit", "audit.log"); NULL past the last. */
const char *nc_profile_key_name(size_t i);
/* The default and one-line help of key as `--help` shows them (static
 * strings), and whether it is a list (each nc_profile_set appends). Any out
 * pointer may be NULL. 0, or -ENOENT when there is no such key. */
int nc_profile_key_info(const char *key, const char **def, const char **help, bool *is_list);

const char *nc_version(void);

#ifdef __cplusplus
}
#endif
#endif
