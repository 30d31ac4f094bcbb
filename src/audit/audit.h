/* audit.h — the tamper-evident audit log: hash-chained JSON Lines records, their remote sinks, verify and show.
 *
 * The file. One record a line. Line 1 is a genesis record (seq 0, event "genesis", prev = 64 zeros). Every
 * record is a JSON object whose keys come in this order:
 *
 *   {"seq":N,"time":"2026-11-27T05:40:01.123456Z","sandbox":"ID"|null,"event":"TYPE", ...fields...,
 *    "prev":"<sha256 hex of the previous line>","digest":"<sha256 hex of this line up to ,\"digest\">"}
 *
 * `prev` is the lowercase hex SHA-256 of the previous line's exact bytes (without its newline), so the file is
 * a hash chain; `digest` covers the record's own bytes before `,"digest":"`, so an edit of the last record is
 * caught too. `seq` goes up by one. Appends from any number of processes and handles take flock(LOCK_EX) on
 * the file, re-read its tail for seq/prev and write the whole record with one write().
 *
 * Crashes. A writer killed mid-write leaves a torn last line (no newline). The next writer ends it with "\n"
 * and writes a `torn` record (torn_bytes, torn_sha256 of the bytes between the last complete record and
 * itself, without that final newline) chained to the last complete record; `verify` accepts incomplete lines
 * only when such a record acknowledges them, and accepts a torn last line at the end of the file with a note.
 *
 * What the file alone cannot prove. Whole records cut from the END of the file leave a valid, shorter chain,
 * and anyone who can write the file can recompute a whole chain. The remote sinks (syslog, HTTP) hold a copy
 * the sandboxed process cannot reach, `audit.append_only` (FS_APPEND_FL) stops any process without
 * CAP_LINUX_IMMUTABLE, root included, from rewriting or truncating it, and `verify --expect-seq N` /
 * `--expect-head SHA256` checks the file against a head recorded elsewhere (verify prints the head it found).
 *
 * Sinks. Each configured sink has a thread and a bounded queue; emit only queues (it never waits for the
 * network). Records that do not fit the queue, or that a sink refuses for good, are counted; a `sink_loss`
 * record {sink ("syslog tcp://h:p", no credentials), records_lost, bytes_lost, reason, at_close} is written
 * (and sent) at the first emit after the sink delivers again, and at close for whatever is still lost (then to
 * the file only). Delivery retries with backoff (100 ms doubling to 5 s); close waits sink_flush_ms, then
 * aborts what is in flight (a stuck resolver is left behind on a detached thread). Syslog goes out as
 * RFC 5424 with facility authpriv (10) and severity info (6), i.e. <86>, because records carry command output
 * and authpriv files are readable by root only on common setups; MSG is the record's JSON line. A receiver must
 * take 64 KiB messages (rsyslog: global(maxMessageSize="64k")); over UDP, messages over 8 KiB are dropped and
 * counted. HTTP posts batches of up to 100 records / 256 KiB; 2xx is delivered, 408/429/5xx and network errors
 * are retried, any other status drops the batch (counted).
 *
 * A handle is safe to use from several threads; do not use it across fork() (a child must not call it).
 * Its fds are O_CLOEXEC. An append waits for the file lock, which other writers hold for one write (+fsync). */
#ifndef NC_AUDIT_AUDIT_H
#define NC_AUDIT_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nanoclaw.h"

#define NC_AUDIT_RECORD_MAX 65536u              /* bytes of one record line, newline included */
#define NC_AUDIT_CHUNK_MAX 16384u               /* raw output bytes carried by one `output` record */
#define NC_AUDIT_OUTPUT_CAP_DEFAULT (1u << 20)  /* output bytes recorded per sandbox */
#define NC_AUDIT_SINK_BUFFER_DEFAULT (4u << 20) /* bytes a sink may hold undelivered */
#define NC_AUDIT_SINK_FLUSH_MS_DEFAULT 2000u    /* how long close waits for the sinks */
#define NC_AUDIT_FSYNC_BATCH_RECORDS 64u        /* fsync_batch: sync after this many records... */
#define NC_AUDIT_FSYNC_BATCH_MS 100u            /* ...or this long since the last sync (checked at emit) */

enum { NC_AUDIT_STDOUT = 1, NC_AUDIT_STDERR = 2 };

struct nc_audit_config {
  const char *path;           /* the log file; NULL = nc_audit_default_path() */
  bool fsync_batch;           /* false: fsync every record; true: see NC_AUDIT_FSYNC_BATCH_*, and at close */
  bool append_only;           /* set FS_APPEND_FL (chattr +a) on the file; an error if that is impossible */
  const char *syslog_url;     /* tcp://HOST:PORT (octet-counted, RFC 6587) or udp://HOST:PORT, or NULL */
  const char *http_url;       /* http(s)://... : POST JSON arrays of records, or NULL */
  bool required;              /* a sink failure is an error of emit (once known) and of close */
  uint64_t sink_buffer_bytes; /* bound of each sink's queue; 0 = NC_AUDIT_SINK_BUFFER_DEFAULT */
  uint64_t sink_flush_ms;     /* how long close waits for sinks to drain; 0 = NC_AUDIT_SINK_FLUSH_MS_DEFAULT */
  uint64_t output_cap_bytes;  /* output recorded per sandbox; 0 = NC_AUDIT_OUTPUT_CAP_DEFAULT, UINT64_MAX = none */
};

struct nc_audit;

/* The default log path: /var/log/nanoclaw/audit.jsonl for root, else $XDG_STATE_HOME/nanoclaw/audit.jsonl
 * (when XDG_STATE_HOME is absolute) or ~/.local/state/nanoclaw/audit.jsonl. */
int nc_audit_default_path(char *buf, size_t n, nc_error *err);

/* Open (creating it, its missing parent directories 0700 and its genesis record, mode 0600) the log file and
 * start the sinks. Refuses a symlink, a non-regular file and a file that is not a nanoclaw audit log. */
int nc_audit_open(struct nc_audit **ret, const struct nc_audit_config *cfg, nc_error *err);

/* The log file's path (the default one when the config had none). */
const char *nc_audit_path(const struct nc_audit *a);

/* Append one record: seq, time, sandbox (NULL: JSON null), event, then the caller's fields in their order
 * (a borrowed JSON object or NULL; the keys seq, time, sandbox, event, prev, digest, torn_bytes, torn_sha256
 * are refused), then prev and digest. event is 1-64 of [a-z0-9_], not genesis or torn. Records are bounded
 * by NC_AUDIT_RECORD_MAX (-E2BIG). Returns 0 or a negative errno. With `required`, returns -EIO once a sink is
 * known to be failing (the record is in the file all the same). */
int nc_audit_emit(struct nc_audit *a, const char *sandbox, const char *event, json_t *fields, nc_error *err);

/* Record what a sandbox printed: `output` records {stream:"stdout"|"stderr", offset, bytes, data} of at most
 * NC_AUDIT_CHUNK_MAX raw bytes each; data is a JSON string when the chunk is valid UTF-8, else base64 with
 * "encoding":"base64". offset counts the stream's bytes (recorded or not). Past output_cap_bytes per sandbox
 * (both streams together) bytes are dropped and counted, and one `output_truncated` record {stream, cap_bytes}
 * marks where. */
int nc_audit_output(struct nc_audit *a, const char *sandbox, int stream, const void *buf, size_t len, nc_error *err);

/* The sandbox's output is over: if bytes were dropped, write `output_dropped` {cap_bytes,
 * stdout_dropped_bytes, stderr_dropped_bytes}; forget the sandbox's counters. Call it before the `end`
 * record; close does it for sandboxes still open. */
int nc_audit_output_end(struct nc_audit *a, const char *sandbox, nc_error *err);

/* fsync the file now (for fsync_batch callers with a timer). */
int nc_audit_sync(struct nc_audit *a, nc_error *err);

/* Finish output accounting, let the sinks drain for at most sink_flush_ms, write `sink_loss` records for what
 * they lost, fsync and free. Always frees a. With `required`, a sink that lost records is an error naming it. */
int nc_audit_close(struct nc_audit *a, nc_error *err);

struct nc_audit_verify_opts {
  int64_t expect_seq;      /* >= 0: the chain must reach this seq (a head known from elsewhere); -1: no check */
  const char *expect_head; /* sha256 hex of a record line the chain must contain, or NULL */
};

/* Check the chain. Prints to out "ok: N records, chain intact" and "head: seq S sha256 H" (plus a "note:"
 * for a torn last line) and returns 0; or prints "line N: why" for the first bad line (or "end of file: why"
 * for a failed expectation) and returns 1; or returns < 0 with err set when the file cannot be read. */
int nc_audit_verify(const char *path, const struct nc_audit_verify_opts *o, FILE *out, nc_error *err);

struct nc_audit_show_opts {
  const char *sandbox; /* only records of this sandbox (NULL: all) */
  const char *event;   /* only records of this event (NULL: all) */
  bool follow;         /* at the end, wait for appended records (like tail -f) until killed */
  bool json;           /* print the matching lines as they are instead of readably */
};

/* Print the records readably, one line each: `TIME SEQ SANDBOX EVENT key=value...` (output chunks as the
 * stream name and the escaped text). Lines that are not records are shown as `line N: not a record: why`.
 * Untrusted strings are escaped so that they cannot forge lines or drive the terminal. 0 or < 0. */
int nc_audit_show(const char *path, const struct nc_audit_show_opts *o, FILE *out, nc_error *err);

#endif
