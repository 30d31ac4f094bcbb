/* agent.c — the agent loop: the model is asked in this process, its tool
 * calls run inside one sandbox session that lives for the whole task, and
 * every request, answer, call and result goes to the session's audit log.
 * The API key stays here: it is read from our environment, sent only in the
 * Authorization header, kept out of the audit log, and a profile that would
 * pass it into the sandbox is refused. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/llm-internal.h"
#include "agent/llm.h"
#include "agent/text.h"
#include "agent/tools.h"
#include "config/profile.h"
#include "core/error.h"
#include "core/util.h"
#include "run/session.h"

#define AUDIT_BUDGET 64000u /* bytes of a record's fields: NC_AUDIT_RECORD_MAX less the envelope */
#define NAME_MAX_BYTES 256
#define CALLS_PER_ANSWER_MAX 64         /* tool calls run from one answer; the rest are refused to the model */
#define CONVERSATION_MAX (32u << 20)    /* bytes of messages sent in one request */
#define DEFAULT_NAME "agent"

struct nc_agent {
  char *name;
  char *model;
  const nc_profile *profile; /* borrowed: must outlive the agent */
};

/* One execute(): everything the loop carries. */
struct task {
  nc_agent *a;
  const nc_profile *p;
  struct nc_agent_report *rep;
  nc_session *s;
  struct nc_llm *llm;
  json_t *messages, *tools;
  size_t logged;            /* messages already in a model_request record */
  size_t conversation;      /* bytes of the messages (compact JSON) */
  char *key;                /* the API key (zeroed and freed at the end), or NULL */
  const char *key_env;
  char *url;                /* the base URL as configured */
  char *base_url;           /* without userinfo, for records and messages */
  uint64_t t0, deadline_ns; /* deadline 0: none */
  uint64_t tool_timeout_ms, max_steps;
  volatile sig_atomic_t *cancel;
};

static const char *secs(char *buf, size_t n, uint64_t ms) {
  if (ms % 1000) snprintf(buf, n, "%llu.%03llus", (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000));
  else snprintf(buf, n, "%llus", (unsigned long long)(ms / 1000));
  return buf;
}

static bool printable_utf8(const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    size_t k = nc_text_utf8_seq((const unsigned char *)s + i, n - i);
    if (!k || (k == 1 && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f))) return false;
    i += k;
  }
  return true;
}

nc_agent *nc_agent_new(const char *name, const char *model, const nc_profile *sandbox, nc_error *err) {
  char q[300];
  if (!sandbox) {
    nc_error_set(err, EINVAL, "nc_agent_new: no sandbox profile");
    return NULL;
  }
  if (!name || !*name) name = sandbox->name && *sandbox->name ? sandbox->name : DEFAULT_NAME;
  if (strlen(name) > NAME_MAX_BYTES || !printable_utf8(name)) {
    nc_error_set(err, EINVAL, "agent name \"%s\": expected up to %d bytes of printable UTF-8",
                 nc_quote(q, sizeof q, name), NAME_MAX_BYTES);
    return NULL;
  }
  if (!model || !*model) model = sandbox->agent.model;
  if (!model || !*model) {
    nc_error_set(err, EINVAL, "agent %s: no model given (agent.model in the profile, or --model)", name);
    return NULL;
  }
  if (!printable_utf8(model)) {
    nc_error_set(err, EINVAL, "agent %s: model \"%s\": not printable UTF-8", name, nc_quote(q, sizeof q, model));
    return NULL;
  }
  if (nc_profile_validate(sandbox, err) < 0) return NULL;
  nc_agent *a = calloc(1, sizeof *a);
  if (a) {
    a->name = strdup(name);
    a->model = strdup(model);
    a->profile = sandbox;
  }
  if (!a || !a->name || !a->model) {
    nc_agent_free(a);
    nc_error_set(err, ENOMEM, "nc_agent_new: out of memory");
    return NULL;
  }
  return a;
}

void nc_agent_free(nc_agent *a) {
  if (!a) return;
  free(a->name);
  free(a->model);
  free(a);
}

/* ---- configuration: where the model is, the key, and that the key stays out ---- */

static int resolve_base_url(const struct nc_profile *p, const char **ret, nc_error *err) {
  char host[256], q[300];
  const char *env = getenv("OPENAI_BASE_URL");
  const char *url = p->agent.base_url ? p->agent.base_url : env && *env ? env : NC_LLM_DEFAULT_BASE_URL;
  if (nc_llm_url_host(url, host, sizeof host) < 0)
    return nc_error_set(err, EINVAL, "%s \"%s\": not an http:// or https:// URL",
                        p->agent.base_url ? "agent.base_url" : "OPENAI_BASE_URL", nc_quote(q, sizeof q, url));
  *ret = url;
  return 0;
}

/* A profile env entry that carries the key would put it inside: refused. */
static int key_stays_out(const struct nc_profile *p, const char *key, nc_error *err) {
  if (!key) return 0;
  size_t kl = strlen(key);
  for (size_t i = 0; i < p->env.n; i++) {
    const char *e = p->env.v[i], *eq = strchr(e, '=');
    const char *v = eq ? eq + 1 : "";
    if (!strcmp(v, key) || (kl >= 8 && strstr(v, key)))
      return nc_error_set(err, EPERM, "env %.*s: its value is the agent's API key, which must not enter the sandbox",
                          (int)(eq ? eq - e : (ptrdiff_t)strlen(e)), e);
  }
  return 0;
}

/* Everything that can be checked without holding the key: the URL, that a
 * key is there when one is needed, that the profile does not pass it in. */
static int check_config(struct task *t, nc_error *err) {
  const struct nc_profile *p = t->p;
  const char *url = NULL;
  int r = resolve_base_url(p, &url, err);
  if (r < 0) return r;
  t->url = strdup(url);
  t->base_url = nc_llm_url_public(url);
  if (!t->url || !t->base_url) return nc_error_set(err, ENOMEM, "agent: out of memory");
  t->key_env = p->agent.api_key_env ? p->agent.api_key_env : NC_LLM_DEFAULT_KEY_ENV;
  const char *key = getenv(t->key_env);
  if ((!key || !*key) && !nc_llm_url_loopback(url)) {
    /* A local server (llama.cpp, Ollama, vLLM on loopback) may need no key; anything else does. */
    return nc_error_set(err, EINVAL, "%s is not set (the API key for %s)", t->key_env, t->base_url);
  }
  if ((r = key_stays_out(p, key && *key ? key : NULL, err)) < 0) return r;
  t->max_steps = p->agent.max_steps ? p->agent.max_steps : NC_AGENT_DEFAULT_MAX_STEPS;
  t->tool_timeout_ms = p->agent.tool_timeout_ms ? p->agent.tool_timeout_ms : NC_AGENT_DEFAULT_TOOL_TIMEOUT_MS;
  return 0;
}

/* The model client, made once the session is up: the sandbox's pid 1 starts
 * as a copy of this process, and that copy holds no copy of the key made here. */
static int connect_model(struct task *t, nc_error *err) {
  const char *key = getenv(t->key_env);
  if (key && *key) {
    if (!(t->key = strdup(key))) return nc_error_set(err, ENOMEM, "agent: out of memory");
  } else if (!nc_llm_url_loopback(t->url)) {
    return nc_error_set(err, EINVAL, "%s is not set (the API key for %s)", t->key_env, t->base_url);
  }
  struct nc_llm_config cfg = {
      .base_url = t->url,
      .api_key = t->key,
      .api_key_env = t->key_env,
      .model = t->a->model,
      .timeout_ms = t->p->agent.request_timeout_ms,
      .deadline_ns = t->deadline_ns,
      .cancel = t->cancel,
  };
  return nc_llm_new(&cfg, &t->llm, err);
}

/* ---- the conversation ---- */

static void put_list(char *buf, size_t n, size_t *o, const char *item) {
  int w = snprintf(buf + *o, n - *o, "%s%s", *o ? ", " : "", item);
  if (w > 0 && (size_t)w < n - *o) *o += (size_t)w;
}

static char *system_prompt(const nc_agent *a, const struct nc_profile *p) {
  char *s = NULL;
  if (p->agent.system_prompt) return strdup(p->agent.system_prompt);
  char writable[1024] = "", net[1024] = "";
  size_t w = 0, o = 0;
  for (size_t i = 0; i < p->n_tmpfs; i++) put_list(writable, sizeof writable, &w, p->tmpfs[i].path);
  for (size_t i = 0; i < p->n_binds; i++)
    if (p->binds[i].rw) put_list(writable, sizeof writable, &w, p->binds[i].dst);
  if (!p->network_disabled)
    for (size_t i = 0; i < p->allowed_hosts.n; i++) put_list(net, sizeof net, &o, p->allowed_hosts.v[i]);
  bool named = strcmp(a->name, DEFAULT_NAME) != 0;
  if (asprintf(&s,
               "You are %s%san agent working inside a sandbox: an isolated Linux machine. Use the tools to run "
               "commands and to read, write and list files there. The working directory is %s. Writable: %s; "
               "everything else is read-only. Network: %s%s. Each tool call is a new process; files persist for "
               "the whole task. When the task is done, reply with the final answer and call no more tools.",
               named ? a->name : "", named ? ", " : "", p->workdir ? p->workdir : "/", w ? writable : "nothing",
               o ? "only these hosts, through a proxy: " : "none", net) < 0)
    return NULL;
  return s;
}

static json_t *text_message(const char *role, const char *content) {
  return json_pack("{s:s, s:o}", "role", role, "content", nc_text_json(content, strlen(content)));
}

/* The assistant message to send back: role, content, and the tool calls
 * normalised (an id for each, arguments as a JSON text), nothing else. */
static json_t *assistant_message(json_t *msg, unsigned step, json_t **ret_calls) {
  json_t *content = json_object_get(msg, "content");
  json_t *calls = json_object_get(msg, "tool_calls");
  json_t *out = json_pack("{s:s, s:O}", "role", "assistant", "content",
                          json_is_string(content) ? content : json_null());
  *ret_calls = NULL;
  if (!out || !json_is_array(calls) || json_array_size(calls) == 0) return out;
  json_t *norm = json_array();
  size_t i;
  json_t *c;
  json_array_foreach(calls, i, c) {
    json_t *fn = json_object_get(c, "function");
    const char *id = json_string_value(json_object_get(c, "id"));
    const char *name = json_string_value(json_object_get(fn, "name"));
    json_t *args = json_object_get(fn, "arguments");
    char idbuf[48];
    if (!id || !*id) snprintf(idbuf, sizeof idbuf, "call_%u_%zu", step, i), id = idbuf;
    char *argtext = json_is_string(args) ? strdup(json_string_value(args))
                    : args && !json_is_null(args) ? json_dumps(args, JSON_COMPACT)
                                                  : strdup("{}");
    json_t *n = json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id, "type", "function", "function", "name",
                          name ? name : "", "arguments", argtext ? argtext : "{}");
    free(argtext);
    if (!n || json_array_append_new(norm, n) < 0) {
      json_decref(norm);
      json_decref(out);
      return NULL;
    }
  }
  json_object_set_new(out, "tool_calls", norm);
  *ret_calls = norm;
  return out;
}

/* Append m (stolen) to the conversation, counting its size. */
static int append(struct task *t, json_t *m) {
  if (!m) return -ENOMEM;
  t->conversation += json_dumpb(m, NULL, 0, JSON_COMPACT) + 1;
  return json_array_append_new(t->messages, m) < 0 ? -ENOMEM : 0;
}

/* ---- audit ---- */

static void audit(struct task *t, const char *event, json_t *fields) {
  nc_session_audit(t->s, event, nc_text_audit_fit(fields, AUDIT_BUDGET, t->key));
}

static json_t *usage_json(const struct nc_llm_usage *u) {
  return json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)u->prompt_tokens, "completion_tokens",
                   (json_int_t)u->completion_tokens, "total_tokens", (json_int_t)u->total_tokens);
}

static json_t *error_json(const char *msg) { return nc_text_json(msg, strlen(msg)); }

static void audit_request(struct task *t, unsigned step) {
  size_t n = json_array_size(t->messages);
  json_t *fresh = json_array();
  for (size_t i = t->logged; i < n && fresh; i++) json_array_append(fresh, json_array_get(t->messages, i));
  t->logged = n;
  audit(t, "model_request",
        json_pack("{s:I, s:s, s:s, s:I, s:o}", "step", (json_int_t)step, "model", t->a->model, "url", t->base_url,
                  "message_count", (json_int_t)n, "new_messages", fresh ? fresh : json_null()));
}

/* ---- failing ---- */

static int fail(struct task *t, enum nc_agent_outcome why, int r) {
  t->rep->outcome = why;
  return r;
}

static bool deadline_passed(const struct task *t) { return t->deadline_ns && nc_now_ns() >= t->deadline_ns; }

static int deadline_error(struct task *t, const char *during, nc_error *err) {
  char b[32];
  return fail(t, NC_AGENT_DEADLINE,
              nc_error_set(err, ETIMEDOUT, "the task's deadline (timeout %s) passed %s after %u model request%s",
                           secs(b, sizeof b, t->p->timeout_ms), during, t->rep->steps, t->rep->steps == 1 ? "" : "s"));
}

static int check_time(struct task *t, const char *during, nc_error *err) {
  if (t->cancel && *t->cancel)
    return fail(t, NC_AGENT_CANCELLED, nc_error_set(err, ECANCELED, "agent %s: cancelled", t->a->name));
  if (deadline_passed(t)) return deadline_error(t, during, err);
  return 0;
}

/* ---- tools ---- */

static int exec_plan(struct task *t, const struct nc_tool_plan *plan, uint64_t *ret_timeout, nc_exec_result *res,
                     nc_error *err) {
  uint64_t timeout = t->tool_timeout_ms, now = nc_now_ns();
  if (t->deadline_ns) {
    if (now >= t->deadline_ns) return deadline_error(t, "before a tool call", err);
    uint64_t left = (t->deadline_ns - now) / 1000000 + 1;
    if (left < timeout) timeout = left;
  }
  *ret_timeout = timeout;
  nc_error e = {0};
  int r = nc_session_exec(t->s, (char *const *)plan->argv, plan->stdin_data, plan->stdin_len, timeout,
                          plan->output_cap, res, &e);
  if (r < 0) {
    if (deadline_passed(t)) return deadline_error(t, "during a tool call", err);
    if (t->cancel && *t->cancel)
      return fail(t, NC_AGENT_CANCELLED, nc_error_set(err, ECANCELED, "agent %s: cancelled", t->a->name));
    return fail(t, NC_AGENT_SANDBOX, nc_error_set(err, e.code ? e.code : -r, "sandbox session: %s", e.msg));
  }
  if (e.msg[0] && res->err_len == 0) { /* not found / not executable (126, 127): say why on stderr */
    char *why = strdup(e.msg);
    if (why) {
      free(res->err);
      res->err = why;
      res->err_len = strlen(why);
    }
  }
  return 0;
}

/* Run one tool call; append the tool message for the model. */
static int run_tool(struct task *t, unsigned step, json_t *call, nc_error *err) {
  const char *id = json_string_value(json_object_get(call, "id"));
  json_t *fn = json_object_get(call, "function");
  const char *name = json_string_value(json_object_get(fn, "name"));
  json_t *args = json_object_get(fn, "arguments");
  audit(t, "tool_call",
        json_pack("{s:I, s:s, s:s, s:O}", "step", (json_int_t)step, "id", id, "name", name, "arguments", args));
  struct nc_tool_plan plan;
  char *content = NULL;
  json_t *rec;
  if (nc_tool_plan(name, args, &plan, &content) < 0) {
    if (!content) content = strdup("error: out of memory");
    rec = json_pack("{s:I, s:s, s:s, s:o}", "step", (json_int_t)step, "id", id, "name", name, "error",
                    error_json(content ? content : ""));
  } else {
    nc_exec_result res = {0};
    uint64_t timeout = 0;
    int r = exec_plan(t, &plan, &timeout, &res, err);
    if (r < 0) {
      audit(t, "tool_result", json_pack("{s:I, s:s, s:s, s:o}", "step", (json_int_t)step, "id", id, "name", name,
                                        "error", error_json(err->msg)));
      nc_tool_plan_free(&plan);
      return r;
    }
    t->rep->tool_calls++;
    content = nc_tool_result_text(&plan, &res, timeout);
    rec = json_pack("{s:I, s:s, s:s, s:i, s:b, s:i, s:I, s:b, s:b, s:o}", "step", (json_int_t)step, "id", id, "name",
                    name, "exit_code", res.exit_code, "timed_out", res.timed_out, "signal", res.signal, "ms",
                    (json_int_t)res.wall_ms, "stdout_truncated", res.out_truncated, "stderr_truncated",
                    res.err_truncated, "content", error_json(content ? content : ""));
    nc_exec_result_free(&res);
    nc_tool_plan_free(&plan);
  }
  audit(t, "tool_result", rec);
  json_t *m = json_pack("{s:s, s:s, s:o}", "role", "tool", "tool_call_id", id, "content",
                        error_json(content ? content : ""));
  free(content);
  if (append(t, m) < 0) return fail(t, NC_AGENT_SANDBOX, nc_error_set(err, ENOMEM, "agent: out of memory"));
  return check_time(t, "after a tool call", err);
}

/* A call past CALLS_PER_ANSWER_MAX: not run, the model is told. */
static int refuse_call(struct task *t, unsigned step, json_t *call, nc_error *err) {
  const char *id = json_string_value(json_object_get(call, "id"));
  char text[128];
  snprintf(text, sizeof text, "error: not run: more than %d tool calls in one answer", CALLS_PER_ANSWER_MAX);
  audit(t, "tool_result", json_pack("{s:I, s:s, s:s}", "step", (json_int_t)step, "id", id, "error", text));
  if (append(t, json_pack("{s:s, s:s, s:s}", "role", "tool", "tool_call_id", id, "content", text)) < 0)
    return fail(t, NC_AGENT_SANDBOX, nc_error_set(err, ENOMEM, "agent: out of memory"));
  return 0;
}

/* ---- the loop ---- */

/* One model request: 1 when tools ran (ask again), 0 with *response when the model answered. */
static int step(struct task *t, unsigned n, char **response, nc_error *err) {
  int r = check_time(t, "before a model request", err);
  if (r < 0) return r;
  if (t->conversation > CONVERSATION_MAX)
    return fail(t, NC_AGENT_MODEL, nc_error_set(err, EFBIG, "the conversation grew past %u MiB after %u model requests",
                                                CONVERSATION_MAX >> 20, n - 1));
  audit_request(t, n);
  t->rep->steps = n;
  struct nc_llm_reply rep;
  r = nc_llm_chat(t->llm, t->messages, t->tools, &rep, err);
  if (r < 0) {
    audit(t, "model_response", json_pack("{s:I, s:I, s:I, s:I, s:o}", "step", (json_int_t)n, "status",
                                         (json_int_t)rep.status, "attempts", (json_int_t)rep.attempts, "ms",
                                         (json_int_t)rep.ms, "error", error_json(err->msg)));
    if (r == -ECANCELED) return fail(t, NC_AGENT_CANCELLED, r);
    if (r == -ETIMEDOUT && deadline_passed(t)) return deadline_error(t, "waiting for the model", err);
    return fail(t, NC_AGENT_MODEL, r);
  }
  struct nc_llm_usage *u = &t->rep->usage;
  u->prompt_tokens += rep.usage.prompt_tokens;
  u->completion_tokens += rep.usage.completion_tokens;
  u->total_tokens += rep.usage.total_tokens;
  audit(t, "model_response",
        json_pack("{s:I, s:I, s:I, s:I, s:s?, s:o, s:O}", "step", (json_int_t)n, "status", (json_int_t)rep.status,
                  "attempts", (json_int_t)rep.attempts, "ms", (json_int_t)rep.ms, "finish_reason",
                  rep.finish_reason, "usage", usage_json(&rep.usage), "message", rep.message));
  json_t *calls;
  json_t *am = assistant_message(rep.message, n, &calls);
  if (!am) {
    nc_llm_reply_clear(&rep);
    return fail(t, NC_AGENT_SANDBOX, nc_error_set(err, ENOMEM, "agent: out of memory"));
  }
  if (!calls) {
    const char *c = json_string_value(json_object_get(rep.message, "content"));
    *response = strdup(c ? c : "");
    json_decref(am);
    nc_llm_reply_clear(&rep);
    if (!*response) return fail(t, NC_AGENT_SANDBOX, nc_error_set(err, ENOMEM, "agent: out of memory"));
    t->rep->outcome = NC_AGENT_ANSWERED;
    return 0;
  }
  nc_llm_reply_clear(&rep);
  if (append(t, am) < 0) return fail(t, NC_AGENT_SANDBOX, nc_error_set(err, ENOMEM, "agent: out of memory"));
  if (n >= t->max_steps) {
    /* These calls would have no model request left to report to: not run. */
    return fail(t, NC_AGENT_MAX_STEPS, nc_error_set(err, ELOOP, "the model did not finish within max_steps=%llu",
                                                    (unsigned long long)t->max_steps));
  }
  size_t i;
  json_t *c;
  json_array_foreach(calls, i, c) {
    if ((r = i < CALLS_PER_ANSWER_MAX ? run_tool(t, n, c, err) : refuse_call(t, n, c, err)) < 0) return r;
  }
  return 1;
}

static void audit_end(struct task *t, int r, const char *answer, const nc_error *err) {
  static const char *const outcome[] = {"answered", "setup", "model", "max_steps", "deadline", "cancelled", "sandbox"};
  t->rep->wall_ms = (nc_now_ns() - t->t0) / 1000000;
  audit(t, "agent_end",
        json_pack("{s:s, s:s, s:o, s:o, s:I, s:I, s:o, s:I}", "agent", t->a->name, "outcome",
                  outcome[t->rep->outcome], "answer", answer ? error_json(answer) : json_null(), "error",
                  r < 0 ? error_json(err->msg) : json_null(), "steps", (json_int_t)t->rep->steps, "tool_calls",
                  (json_int_t)t->rep->tool_calls, "usage", usage_json(&t->rep->usage), "wall_ms",
                  (json_int_t)t->rep->wall_ms));
}

static void audit_start(struct task *t) {
  audit(t, "agent_start",
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "agent", t->a->name, "model", t->a->model, "url",
                  t->base_url, "api_key_env", t->key_env, "api_key", t->key ? "set" : "none", "max_steps",
                  (json_int_t)t->max_steps, "tool_timeout_ms", (json_int_t)t->tool_timeout_ms, "deadline_ms",
                  (json_int_t)t->p->timeout_ms));
}

static int converse(struct task *t, const char *prompt, char **response, nc_error *err) {
  nc_autofree char *sys = system_prompt(t->a, t->p);
  t->messages = json_array();
  t->tools = nc_tools_schema();
  if (!sys || !t->messages || !t->tools || append(t, text_message("system", sys)) < 0 ||
      append(t, text_message("user", prompt)) < 0)
    return fail(t, NC_AGENT_SETUP, nc_error_set(err, ENOMEM, "agent: out of memory"));
  audit_start(t);
  int r = 1;
  for (unsigned n = 1; r == 1; n++) r = step(t, n, response, err);
  return r;
}

int nc_agent_run(nc_agent *a, const char *prompt, const struct nc_agent_options *opt, struct nc_agent_report *rep,
                 char **response, nc_error *err) {
  nc_error local = {0};
  if (!err) err = &local;
  memset(rep, 0, sizeof *rep);
  rep->outcome = NC_AGENT_SETUP;
  if (response) *response = NULL;
  if (!a || !prompt || !*prompt || !response)
    return nc_error_set(err, EINVAL, "nc_agent_execute: no agent, prompt or response pointer");
  struct task t = {
      .a = a,
      .p = a->profile,
      .rep = rep,
      .t0 = nc_now_ns(),
      .cancel = opt ? opt->cancel : NULL,
  };
  if (t.p->timeout_ms) t.deadline_ns = t.t0 + t.p->timeout_ms * 1000000ull;
  bool named = strcmp(a->name, DEFAULT_NAME) != 0;
  int r = check_config(&t, err);
  if (r < 0) {
    nc_error_wrap(err, "agent%s%s", named ? " " : "", named ? a->name : "");
  } else if ((r = nc_session_start(t.p, &t.s, err)) < 0) {
    nc_error_wrap(err, "agent%s%s: starting the sandbox", named ? " " : "", named ? a->name : "");
  } else {
    snprintf(rep->sandbox_id, sizeof rep->sandbox_id, "%s", nc_session_id(t.s));
    if ((r = connect_model(&t, err)) < 0) nc_error_wrap(err, "agent%s%s", named ? " " : "", named ? a->name : "");
    else r = converse(&t, prompt, response, err);
    audit_end(&t, r, *response, err);
    nc_error e = {0};
    int sr = nc_session_stop(t.s, &rep->result, &e);
    rep->have_result = sr == 0;
    if (sr < 0 && r == 0) {
      free(nc_steal_ptr(response));
      r = fail(&t, NC_AGENT_SANDBOX, nc_error_set(err, e.code ? e.code : -sr, "sandbox session: %s", e.msg));
    }
  }
  if (r < 0) free(nc_steal_ptr(response));
  rep->wall_ms = (nc_now_ns() - t.t0) / 1000000;
  json_decref(t.messages);
  json_decref(t.tools);
  nc_llm_free(t.llm);
  free(t.url);
  free(t.base_url);
  if (t.key) {
    explicit_bzero(t.key, strlen(t.key));
    free(t.key);
  }
  return r;
}

int nc_agent_execute(nc_agent *a, const char *prompt, char **response, nc_error *err) {
  return nc_agent_execute_ex(a, prompt, response, NULL, err);
}

int nc_agent_execute_ex(nc_agent *a, const char *prompt, char **response, nc_agent_outcome *outcome, nc_error *err) {
  struct nc_agent_report rep;
  memset(&rep, 0, sizeof rep);
  rep.outcome = NC_AGENT_SETUP;
  int r = nc_agent_run(a, prompt, NULL, &rep, response, err);
  if (outcome) *outcome = rep.outcome;
  return r;
}

char *nc_agent_report_json(const nc_agent *a, const struct nc_agent_report *rep, const char *answer,
                           const nc_error *err) {
  static const char *const outcome[] = {"answered", "setup", "model", "max_steps", "deadline", "cancelled", "sandbox"};
  json_t *sandbox = json_null();
  if (rep->have_result) {
    char *rj = nc_run_result_to_json(a->profile, &rep->result);
    json_t *j = rj ? json_loads(rj, 0, NULL) : NULL;
    free(rj);
    if (j) sandbox = j;
  }
  json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:o, s:I, s:s?, s:o}", "agent", a->name, "model",
                        a->model, "outcome", outcome[rep->outcome], "answer",
                        answer ? error_json(answer) : json_null(), "error",
                        err && err->msg[0] && rep->outcome != NC_AGENT_ANSWERED ? error_json(err->msg) : json_null(),
                        "steps", (json_int_t)rep->steps, "tool_calls", (json_int_t)rep->tool_calls, "usage",
                        usage_json(&rep->usage), "wall_ms", (json_int_t)rep->wall_ms, "sandbox_id",
                        rep->sandbox_id[0] ? rep->sandbox_id : NULL, "sandbox", sandbox);
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  return s;
}
