/* audit-internal.h — what the audit files share: record format, the locked file append, sinks, a line reader. */
#ifndef NC_AUDIT_INTERNAL_H
#define NC_AUDIT_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit/audit.h"

#define NC_AUDIT_VERSION 1
#define NC_AUDIT_HEX_LEN 64                                    /* a sha256 in hex, without NUL */
#define NC_AUDIT_TIME_LEN 27                                   /* 2026-11-27T05:40:01.123456Z */
#define NC_AUDIT_DIGEST_SUFFIX_LEN (11 + NC_AUDIT_HEX_LEN + 2) /* ,"digest":"<hex>"} */
#define NC_AUDIT_TORN_MAX (4u * NC_AUDIT_RECORD_MAX)           /* bytes of incomplete lines one torn record covers */

/* ---- record.c ---- */

/* sha256 of buf as 64 lowercase hex chars and a NUL. */
void nc_audit_sha256_hex(const void *buf, size_t len, char out[NC_AUDIT_HEX_LEN + 1]);
bool nc_audit_is_hex64(const char *s);
/* RFC 3339 UTC with microseconds of CLOCK_REALTIME now. */
void nc_audit_now(char out[NC_AUDIT_TIME_LEN + 1]);
bool nc_audit_is_time(const char *s);
/* 1-64 of [a-z0-9_] */
bool nc_audit_event_ok(const char *event);
/* Serialize one record (no newline) into *ret (malloc'd). fields may be NULL. Refuses reserved keys only when
 * check_keys (internal callers add torn_* themselves). -E2BIG past NC_AUDIT_RECORD_MAX. */
int nc_audit_record_format(uint64_t seq, const char *time, const char *sandbox, const char *event, json_t *fields,
                           bool check_keys, const char *prev_hex, char **ret, size_t *ret_len, nc_error *err);

/* A line that passed nc_audit_record_parse; the strings point into obj. */
struct nc_audit_rec {
  json_t *obj;
  uint64_t seq;
  const char *time, *sandbox /* NULL for null */, *event, *prev;
  bool has_torn; /* carries torn_bytes and torn_sha256 */
  uint64_t torn_bytes;
  const char *torn_sha256;
};
/* Check a line as a record: digest, JSON, the fields and their types. 0, or -EBADMSG with err->msg saying why
 * (no "line N:" prefix). On success the caller frees with nc_audit_rec_free. */
int nc_audit_record_parse(const char *line, size_t len, struct nc_audit_rec *r, nc_error *err);
void nc_audit_rec_free(struct nc_audit_rec *r);

/* ---- file.c ---- */

/* Open path for appending (O_APPEND|O_CLOEXEC|O_NOFOLLOW through an O_DIRECTORY|O_NOFOLLOW fd of its parent),
 * creating the parent 0700 and the file 0600 with a genesis record put in place atomically. *ret_genesis
 * (may be NULL) gets the genesis line when this call created the file, else NULL. */
int nc_audit_file_open(const char *path, bool append_only, int *ret_fd, char **ret_genesis, nc_error *err);

/* The lines one append wrote (genesis and torn records when needed, then the record), for the sinks. */
struct nc_audit_written {
  size_t n;
  char *line[3];
  size_t len[3];
  char time[NC_AUDIT_TIME_LEN + 1];
};
void nc_audit_written_free(struct nc_audit_written *w);

/* Under flock(LOCK_EX): find seq and prev from the file's tail (repairing a torn tail), write the record with
 * one write(), fsync when sync, unlock. */
int nc_audit_file_append(int fd, const char *path, const char *sandbox, const char *event, json_t *fields, bool sync,
                         struct nc_audit_written *w, nc_error *err);

/* ---- sink.c ---- */

struct nc_sink;
struct nc_sink_rec {
  struct nc_sink_rec *next;
  bool dropped; /* set by send: undeliverable for good (counted as lost) */
  size_t len;
  char time[NC_AUDIT_TIME_LEN + 1];
  char line[];
};

#define NC_SINK_BATCH_MAX 100
struct nc_sink_ops {
  const char *name; /* "syslog", "http" */
  size_t batch_records /* <= NC_SINK_BATCH_MAX */, batch_bytes;
  /* parse the url into s->priv; no network. */
  int (*init)(struct nc_sink *s, const char *url, nc_error *err);
  /* Deliver recs[0..n). Set *ret_done to how many were handled from the first (delivered, or marked dropped).
   * 0 when all n were handled; < 0 on a failure worth retrying later (err says what). Must return soon
   * (-ECANCELED) once s->wakefd is readable. */
  int (*send)(struct nc_sink *s, struct nc_sink_rec **recs, size_t n, size_t *ret_done, nc_error *err);
  void (*fini)(struct nc_sink *s);
};

extern const struct nc_sink_ops nc_sink_syslog_ops, nc_sink_http_ops;

struct nc_sink {
  const struct nc_sink_ops *ops;
  char label[320]; /* "syslog tcp://h:p" with any userinfo and query cut, for messages and records */
  void *priv;      /* the backend's */
  int wakefd;      /* eventfd: readable once the sink must stop */
  pthread_mutex_t mu;
  pthread_cond_t cv, drained;
  pthread_t thread;
  int refs; /* the handle and the thread; the last one frees */
  /* under mu */
  struct nc_sink_rec *head, **tailp;
  uint64_t queued_bytes, bound;
  bool in_flight, stop, done, down;
  uint64_t next_try_ns, backoff_ms;
  char why[512];                     /* the last failure */
  uint64_t lost_records, lost_bytes; /* not yet reported in a sink_loss record */
  uint64_t total_lost_records;       /* ever */
  bool recovered;                    /* delivered something since lost_* grew */
  uint64_t delivered;
};

int nc_sink_start(struct nc_sink **ret, const struct nc_sink_ops *ops, const char *url, uint64_t bound, nc_error *err);
/* Queue a copy of line; drops and counts it when the queue is full. Never waits for the network. */
void nc_sink_push(struct nc_sink *s, const char *line, size_t len, const char *time);
/* Losses to report now (the sink delivered since, or final): the counts, reset them. */
bool nc_sink_take_loss(struct nc_sink *s, bool final, uint64_t *ret_records, uint64_t *ret_bytes, char *why, size_t n);
/* Records lost since the start, and the last failure (or "its queue was full"). */
uint64_t nc_sink_total_lost(struct nc_sink *s, char *why, size_t n);
/* True (and why) when the last delivery attempt failed. */
bool nc_sink_failing(struct nc_sink *s, char *why, size_t n);
/* Let the sink drain until deadline_ns (CLOCK_MONOTONIC), then stop it; what is left is counted as lost. */
void nc_sink_stop(struct nc_sink *s, uint64_t deadline_ns);
void nc_sink_unref(struct nc_sink *s);
/* wait up to ms for s->wakefd or fd to become ready for events; 1 ready, 0 timeout, -ECANCELED stop. */
int nc_sink_wait_fd(struct nc_sink *s, int fd, short events, int ms);

/* ---- lines.c ---- */

/* Reads a file line by line in a bounded buffer; lines longer than NC_AUDIT_RECORD_MAX - 1 are refused. */
struct nc_linereader {
  int fd;
  char *buf;
  size_t start, end;
  uint64_t lineno; /* of the line last returned */
};
int nc_linereader_init(struct nc_linereader *r, int fd);
void nc_linereader_fini(struct nc_linereader *r);
/* 1: a complete line (without its newline) in line and len; 0: no complete line before the end of the file (bytes
 * of an incomplete one may be pending: nc_linereader_pending); -E2BIG: a line too long (skipped, so a caller
 * may go on); other < 0: read error. */
int nc_linereader_next(struct nc_linereader *r, const char **line, size_t *len);
size_t nc_linereader_pending(const struct nc_linereader *r);

#endif
