/* cmd_agent.c — `nanoclaw agent`: flags -> profile -> one agent task (the model asked from here, its tools run
 * in one sandbox session) -> the answer on stdout. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "cli/commands.h"
#include "config/flags.h"
#include "config/profile.h"
#include "core/util.h"

#define PROMPT_MAX (1u << 20) /* bytes of a prompt read from stdin */
#define EXIT_FAILED 1         /* the model failed, or did not finish within max_steps */
#define EXIT_CANCELLED 130

static const char agent_usage[] =
    "Usage: nanoclaw agent [-v|--verbose] [OPTIONS] [--] PROMPT\n"
    "\n"
    "Give PROMPT to a model (OpenAI-compatible chat completions with tool calling) and run the\n"
    "tools it calls (run_command, read_file, write_file, list_dir) inside one sandbox that lives\n"
    "for the whole task; print the model's final answer on stdout. The model is asked from this\n"
    "process: the API key (from $OPENAI_API_KEY, or the variable --api-key-env names) never\n"
    "enters the sandbox. PROMPT \"-\" reads it from stdin. The profile's --timeout covers the\n"
    "whole task (default 60 s). Every request, answer, tool call and result goes to the audit log.\n"
    "\n"
    "  -v, --verbose      (first) print steps, tool calls and token usage to stderr at the end\n"
    "\n"
    "Exit status: 0 answered; 1 the model API failed or the model did not finish within\n"
    "--max-steps; 124 the deadline passed; 125 a configuration error (no model, no key) or\n"
    "the sandbox could not be set up; 130 interrupted.\n"
    "\n"
    "Options (each is also a key of the JSON profile; the agent.* ones are under \"agent\"):\n";

static volatile sig_atomic_t cancel_flag;

static void on_signal(int sig) {
  (void)sig;
  cancel_flag = 1;
}

/* SIGINT/SIGTERM/SIGHUP end the task at its next step; the sandbox is torn down as usual. */
static void catch_signals(void) {
  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
}

static char *read_prompt(const char *arg) {
  if (strcmp(arg, "-")) return strdup(arg);
  char *buf = malloc(PROMPT_MAX + 1);
  if (!buf) return NULL;
  size_t n = 0;
  for (;;) {
    ssize_t r = read(STDIN_FILENO, buf + n, PROMPT_MAX - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += (size_t)r;
    if (n == PROMPT_MAX) {
      fprintf(stderr, "nanoclaw: agent: the prompt on stdin is longer than %u bytes\n", PROMPT_MAX);
      free(buf);
      return NULL;
    }
  }
  buf[n] = '\0';
  return buf;
}

static int exit_status(enum nc_agent_outcome o) {
  switch (o) {
    case NC_AGENT_ANSWERED: return 0;
    case NC_AGENT_MODEL:
    case NC_AGENT_MAX_STEPS: return EXIT_FAILED;
    case NC_AGENT_DEADLINE: return NC_EXIT_TIMEOUT;
    case NC_AGENT_CANCELLED: return EXIT_CANCELLED;
    case NC_AGENT_SETUP:
    case NC_AGENT_SANDBOX: break;
  }
  return NC_EXIT_SETUP;
}


static void verbose_report(const struct nc_agent_report *rep) {
  fprintf(stderr,
          "nanoclaw: agent: %u model requests, %u tool calls, %llu tokens (%llu prompt + %llu completion), "
          "%llu.%03llu s, sandbox %s\n",
          rep->steps, rep->tool_calls, (unsigned long long)rep->usage.total_tokens,
          (unsigned long long)rep->usage.prompt_tokens, (unsigned long long)rep->usage.completion_tokens,
          (unsigned long long)(rep->wall_ms / 1000), (unsigned long long)(rep->wall_ms % 1000),
          rep->sandbox_id[0] ? rep->sandbox_id : "(none)");
}

static int run_task(struct nc_profile *p, const char *prompt_arg, bool verbose) {
  nc_error err = {0};
  nc_autofree char *prompt = read_prompt(prompt_arg);
  if (!prompt) {
    if (strcmp(prompt_arg, "-")) fprintf(stderr, "nanoclaw: out of memory\n");
    return NC_EXIT_SETUP;
  }
  if (!*prompt) {
    fprintf(stderr, "nanoclaw: agent: the prompt is empty\n");
    return NC_EXIT_SETUP;
  }
  nc_agent *a = nc_agent_new(NULL, NULL, p, &err);
  if (!a) {
    fprintf(stderr, "nanoclaw: %s\n", err.msg);
    return NC_EXIT_SETUP;
  }
  catch_signals();
  struct nc_agent_options opt = {.cancel = &cancel_flag};
  struct nc_agent_report rep;
  char *answer = NULL;
  int r = nc_agent_run(a, prompt, &opt, &rep, &answer, &err);
  int status = exit_status(r < 0 ? rep.outcome : NC_AGENT_ANSWERED);
  if (r < 0) fprintf(stderr, "nanoclaw: %s\n", err.msg);
  else printf("%s%s", answer, answer[0] && answer[strlen(answer) - 1] == '\n' ? "" : "\n");
  fflush(stdout);
  if (verbose) verbose_report(&rep);
  nc_autofree char *json = p->result_json ? nc_agent_report_json(a, &rep, answer, r < 0 ? &err : NULL) : NULL;
  if (nc_cli_write_json(p, json) < 0 && status == 0) status = NC_EXIT_SETUP;
  free(answer);
  nc_agent_free(a);
  return status;
}

int nc_cmd_agent(int argc, char **argv) {
  int first = 1;
  bool verbose = false;
  for (; first < argc && (!strcmp(argv[first], "-v") || !strcmp(argv[first], "--verbose")); first++) verbose = true;
  struct nc_profile *p = nc_profile_new();
  if (!p) {
    fprintf(stderr, "nanoclaw: out of memory\n");
    return NC_EXIT_SETUP;
  }
  nc_error err = {0};
  int next = argc, help = 0, status;
  if (nc_profile_parse_args(p, argc, argv, first, &next, &help, &err) < 0) {
    fprintf(stderr, "nanoclaw: %s\n", err.msg);
    status = NC_EXIT_SETUP;
  } else if (help) {
    fputs(agent_usage, stdout);
    fputs(nc_profile_flags_help(), stdout);
    status = 0;
  } else if (next >= argc) {
    fprintf(stderr, "nanoclaw: agent: no prompt given (usage: nanoclaw agent [OPTIONS] [--] PROMPT)\n");
    status = NC_EXIT_SETUP;
  } else if (next + 1 < argc) {
    fprintf(stderr, "nanoclaw: agent: expected one PROMPT argument, got %d (quote the prompt)\n", argc - next);
    status = NC_EXIT_SETUP;
  } else {
    status = run_task(p, argv[next], verbose);
  }
  nc_profile_free(p);
  return status;
}
