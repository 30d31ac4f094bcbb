/* profile.h — struct nc_profile: the one parsed, validated form every backend reads. */
#ifndef NC_CONFIG_PROFILE_H
#define NC_CONFIG_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nanoclaw.h"

/* Secure defaults (issue 2). */
#define NC_DEFAULT_MEM_LIMIT (512ull << 20)
#define NC_DEFAULT_CPU_SHARES 1024
#define NC_DEFAULT_PIDS_LIMIT 256
#define NC_DEFAULT_TIMEOUT_MS 60000
#define NC_DEFAULT_TMP_SIZE (64ull << 20)
#define NC_DEFAULT_UID 1000
#define NC_DEFAULT_GID 1000
#define NC_DEFAULT_HOSTNAME "sandbox"

/* Bounds on what a profile may ask for. */
#define NC_MAX_LIST 256    /* entries in any list key */
#define NC_MAX_PATH 4096   /* bytes in a path */
#define NC_MAX_STR 4096    /* bytes in any other string */

struct nc_strv {
  char **v;
  size_t n;
};

struct nc_tmpfs {
  char *path;     /* absolute, normalised, inside the sandbox */
  uint64_t size;  /* bytes, > 0 */
};

struct nc_bind {
  char *src;      /* absolute host path (realpath'd at validation time) */
  char *dst;      /* absolute, normalised, inside the sandbox */
  bool rw;
};

enum nc_limits_mode { NC_LIMITS_STRICT = 0, NC_LIMITS_BEST_EFFORT = 1 };

/* The audit log (issue 5): on by default, at the default path. */
struct nc_audit_settings {
  char *log;            /* NULL: the default path */
  bool off;             /* log "none": no audit log at all */
  bool fsync_batch;     /* fsync "batch" rather than every record */
  bool append_only;     /* chattr +a the file (root) */
  char *syslog;         /* tcp://HOST:PORT or udp://HOST:PORT */
  char *http;           /* http(s)://... */
  bool required;        /* a sink failure fails the run */
  uint64_t output_cap;  /* bytes of output recorded per run; 0 = the default (1 MiB) */
};

/* The agent loop (issue 6): the model outside, the tools inside. */
struct nc_agent_settings {
  char *model;          /* NULL: none given (an error for `nanoclaw agent`) */
  char *base_url;       /* NULL: $OPENAI_BASE_URL, else https://api.openai.com/v1 */
  char *api_key_env;    /* NULL: OPENAI_API_KEY */
  uint64_t max_steps;   /* model requests per task; 0 = default 20 */
  uint64_t tool_timeout_ms;    /* per tool call; 0 = default 30 s */
  uint64_t request_timeout_ms; /* per model request; 0 = default 120 s */
  char *system_prompt;  /* NULL: the built-in one */
};

struct nc_profile {
  char *name;          /* NULL: none */
  char *image;         /* "host", an absolute directory path, or a store image NAME[:TAG|@DIGEST] */
  uint64_t mem_limit;  /* bytes; 0 = unlimited */
  uint64_t cpu_shares; /* 2..262144 */
  uint64_t cpus_milli; /* 0 = unlimited; 1000 = one CPU */
  uint64_t pids_limit; /* 0 = unlimited */
  uint64_t timeout_ms; /* 0 = no deadline */
  bool network_disabled;
  struct nc_strv allowed_hosts; /* HOST[:PORT] */
  struct nc_strv add_hosts;     /* NAME:IP */
  struct nc_tmpfs *tmpfs;
  size_t n_tmpfs;
  struct nc_bind *binds;
  size_t n_binds;
  struct nc_strv env;  /* NAME=VALUE, resolved (no bare names) */
  char *workdir;       /* absolute; default "/" */
  uid_t uid;
  gid_t gid;
  char *hostname;
  char *result_json;   /* NULL, "-", or a path */
  enum nc_limits_mode limits;
  uint64_t output_limit; /* bytes; 0 = unlimited */
  struct nc_audit_settings audit;
  struct nc_agent_settings agent;
  /* A store image's config, applied when `image` is set (src/image): its Env
   * went to the front of env (image_env: what it added; the profile's own
   * entries, later in the list, win), its WorkingDir and User apply unless
   * workdir/user were set; image_cmd is Entrypoint + Cmd, for a run given no
   * command; image_digest pins the manifest the rootfs is built from. */
  struct nc_strv image_env;
  struct nc_strv image_cmd;
  char *image_digest;
  bool workdir_set, user_set;
  /* declared dependencies, for `nanoclaw export dockerfile` (issue 7) */
  struct nc_strv deps_apt, deps_pip, deps_npm;
};

int nc_strv_push(struct nc_strv *v, const char *s);
/* profile_json.c: the profile with env values replaced by their names (a
 * new jansson object), and the SHA-256 of its canonical form. */
struct json_t;
struct json_t *nc_profile_json_redacted(const nc_profile *p, nc_error *err);
int nc_profile_digest(const nc_profile *p, char out[65], nc_error *err);
int nc_profile_digest_of(const struct json_t *redacted, char out[65], nc_error *err);
void nc_strv_free(struct nc_strv *v);

#endif
