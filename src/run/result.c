/* result.c — the run result as one JSON object (--result-json, the C API's twin). */
#include <jansson.h>
#include <stdlib.h>

#include "config/profile.h"
#include "nanoclaw.h"

char *nc_run_result_to_json(const nc_profile *p, const nc_run_result *res) {
  json_t *limits = json_pack("{s:b, s:b, s:b, s:b, s:I, s:I, s:I, s:I, s:I}",
                             "memory", res->enforced_memory, "cpu_shares", res->enforced_cpu_shares,
                             "cpus", res->enforced_cpus, "pids", res->enforced_pids,
                             "mem_limit_bytes", (json_int_t)p->mem_limit, "cpu_shares_value", (json_int_t)p->cpu_shares,
                             "cpus_milli", (json_int_t)p->cpus_milli, "pids_limit", (json_int_t)p->pids_limit,
                             "timeout_ms", (json_int_t)p->timeout_ms);
  json_t *net = json_pack("{s:s, s:s?, s:I, s:I, s:I, s:I, s:I}", "mode",
                           p->allowed_hosts.n ? "proxy" : "none", "proxy", p->allowed_hosts.n ? "127.0.0.1:3128" : NULL,
                           "allowed", (json_int_t)res->net_allowed, "denied", (json_int_t)res->net_denied,
                           "failed", (json_int_t)res->net_failed, "bytes_out", (json_int_t)res->net_bytes_out,
                           "bytes_in", (json_int_t)res->net_bytes_in);
  json_t *o = json_pack("{s:s?, s:s, s:i, s:i, s:b, s:b, s:I, s:I, s:I, s:I, s:b, s:I, s:o, s:o}",
                        "name", p->name, "id", res->id, "exit_code", res->exit_code, "signal", res->signal,
                        "timed_out", res->timed_out, "oom_killed", res->oom_killed,
                        "wall_ms", (json_int_t)res->wall_ms, "cpu_user_ms", (json_int_t)res->cpu_user_ms,
                        "cpu_sys_ms", (json_int_t)res->cpu_sys_ms, "mem_peak_bytes", (json_int_t)res->mem_peak_bytes,
                        "output_truncated", res->output_truncated,
                        "output_dropped_bytes", (json_int_t)res->output_dropped_bytes, "limits", limits,
                        "network", net);
  if (!o) return NULL;
  char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(o);
  return s;
}

const char *nc_version(void) { return NC_VERSION; }
