/* agent.h — internal: nc_agent_execute with what the CLI needs besides the
 * answer (why it failed, steps, token usage, the sandbox's result) and a
 * cancel flag for signals. */
#ifndef NC_AGENT_AGENT_H
#define NC_AGENT_AGENT_H

#include <signal.h>
#include <stdbool.h>

#include "agent/llm.h"
#include "nanoclaw.h"

#define NC_AGENT_DEFAULT_MAX_STEPS 20u
#define NC_AGENT_DEFAULT_TOOL_TIMEOUT_MS 30000u

/* enum nc_agent_outcome is public: nanoclaw.h */

struct nc_agent_report {
  enum nc_agent_outcome outcome;
  unsigned steps;          /* model requests made */
  unsigned tool_calls;     /* tools run */
  struct nc_llm_usage usage; /* summed over every answer */
  uint64_t wall_ms;
  char sandbox_id[33];     /* "" when no session started */
  bool have_result;        /* the session ran and was stopped: result is filled */
  nc_run_result result;
};

struct nc_agent_options {
  volatile sig_atomic_t *cancel; /* non-zero stops the task at the next request, wait or tool call */
};

/* nc_agent_execute, reporting; rep is filled on success and failure. */
int nc_agent_run(nc_agent *a, const char *prompt, const struct nc_agent_options *opt, struct nc_agent_report *rep,
                 char **response, nc_error *err);

/* JSON of a report (+ the answer, may be NULL) for --result-json (malloc'd). */
char *nc_agent_report_json(const nc_agent *a, const struct nc_agent_report *rep, const char *answer,
                           const nc_error *err);

#endif
