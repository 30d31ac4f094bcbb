/* test_audit.c — the audit log: chain, every tamper case verify must catch, torn tails, crashes, concurrent
 * writers, output chunks, syslog TCP/UDP and HTTP sinks against sockets opened here, dead sinks, append-only. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/audit-internal.h"
#include "core/util.h"

/* ---- helpers ---------------------------------------------------------------------------------------- */

static char dir[64];
static char logp[128];

static void clear_attrs(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return;
  int flags = 0;
  if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_APPEND_FL)) {
    flags &= ~FS_APPEND_FL;
    ioctl(fd, FS_IOC_SETFLAGS, &flags);
  }
  close(fd);
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/nc-audit-test.XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(logp, sizeof logp, "%s/audit.jsonl", dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[256];
  clear_attrs(logp);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path, size_t *ret_len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  char *buf = NULL;
  size_t cap = 0, len = 0;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      cap = (len + 4096 + 1) * 2;
      char *nb = realloc(buf, cap);
      assert_non_null(nb);
      buf = nb;
    }
    size_t n = fread(buf + len, 1, 4096, f);
    len += n;
    if (n == 0) break;
  }
  fclose(f);
  buf[len] = '\0';
  if (ret_len) *ret_len = len;
  return buf;
}

static void spit(const char *path, const char *buf, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(buf, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

/* The file as lines (without newlines); *ret_tail: the file ends with a newline. */
struct lines {
  size_t n;
  char *l[4096];
};

static void split(const char *path, struct lines *ls) {
  size_t len;
  char *buf = slurp(path, &len);
  ls->n = 0;
  char *p = buf;
  while (p < buf + len) {
    char *nl = memchr(p, '\n', (size_t)(buf + len - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(buf + len - p);
    assert_true(ls->n < 4096);
    ls->l[ls->n] = strndup(p, n);
    ls->n++;
    p += n + (nl ? 1 : 0);
  }
  free(buf);
}

static void join(const char *path, struct lines *ls) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  for (size_t i = 0; i < ls->n; i++) fprintf(f, "%s\n", ls->l[i]);
  assert_int_equal(fclose(f), 0);
}

static void lines_free(struct lines *ls) {
  for (size_t i = 0; i < ls->n; i++) free(ls->l[i]);
  ls->n = 0;
}

static void drop(struct lines *ls, size_t i) {
  free(ls->l[i]);
  memmove(&ls->l[i], &ls->l[i + 1], (ls->n - i - 1) * sizeof ls->l[0]);
  ls->n--;
}

static void insert(struct lines *ls, size_t i, const char *s) {
  memmove(&ls->l[i + 1], &ls->l[i], (ls->n - i) * sizeof ls->l[0]);
  ls->l[i] = strdup(s);
  ls->n++;
}

/* verify's printed output, and its return in *rc. */
static char verify_out[8192];
static int verify_path(const char *path, const struct nc_audit_verify_opts *o) {
  FILE *f = fmemopen(verify_out, sizeof verify_out, "w");
  assert_non_null(f);
  nc_error err = {0};
  int rc = nc_audit_verify(path, o, f, &err);
  fclose(f);
  if (rc < 0) snprintf(verify_out, sizeof verify_out, "error: %s", err.msg);
  print_message("verify: %s", verify_out);
  return rc;
}

static void expect_bad(const char *path, const char *prefix) {
  assert_int_equal(verify_path(path, NULL), 1);
  if (strncmp(verify_out, prefix, strlen(prefix))) fail_msg("expected [%s...], got [%s]", prefix, verify_out);
}

static void expect_ok(const char *path, unsigned long records) {
  char want[64];
  snprintf(want, sizeof want, "ok: %lu records, chain intact\n", records);
  assert_int_equal(verify_path(path, NULL), 0);
  if (strncmp(verify_out, want, strlen(want))) fail_msg("expected [%s], got [%s]", want, verify_out);
}

static void expect_chain_ok(const char *path) {
  assert_int_equal(verify_path(path, NULL), 0);
  assert_true(!strncmp(verify_out, "ok: ", 4));
}

static struct nc_audit *open_log(const struct nc_audit_config *c) {
  struct nc_audit_config def = {.path = logp};
  if (!c) c = &def;
  struct nc_audit *a = NULL;
  nc_error err = {0};
  if (nc_audit_open(&a, c, &err) < 0) fail_msg("open: %s", err.msg);
  return a;
}

static void emit_i(struct nc_audit *a, const char *sandbox, int i) {
  nc_error err = {0};
  json_t *f = json_pack("{s:i,s:[s,s]}", "i", i, "argv", "echo", "hi");
  int r = nc_audit_emit(a, sandbox, "exec", f, &err);
  json_decref(f);
  if (r < 0) fail_msg("emit: %s", err.msg);
}

/* a log of genesis + n exec records */
static void make_log(int n) {
  struct nc_audit *a = open_log(NULL);
  for (int i = 0; i < n; i++) emit_i(a, "sb1", i);
  assert_int_equal(nc_audit_close(a, NULL), 0);
}

static void close_ok(struct nc_audit *a) {
  nc_error err = {0};
  if (nc_audit_close(a, &err) < 0) fail_msg("close: %s", err.msg);
}

/* ---- the chain ---------------------------------------------------------------------------------------- */

static void chain_from_genesis(void **state) {
  (void)state;
  make_log(10);
  struct lines ls;
  split(logp, &ls);
  assert_int_equal(ls.n, 11);
  struct nc_audit_rec r;
  assert_int_equal(nc_audit_record_parse(ls.l[0], strlen(ls.l[0]), &r, NULL), 0);
  assert_string_equal(r.event, "genesis");
  assert_int_equal(r.seq, 0);
  assert_null(r.sandbox);
  assert_string_equal(r.prev, "0000000000000000000000000000000000000000000000000000000000000000");
  assert_int_equal(json_integer_value(json_object_get(r.obj, "version")), 1);
  assert_non_null(json_string_value(json_object_get(r.obj, "host")));
  assert_true(nc_audit_is_time(json_string_value(json_object_get(r.obj, "created"))));
  nc_audit_rec_free(&r);
  for (size_t i = 1; i < ls.n; i++) {
    char h[NC_AUDIT_HEX_LEN + 1];
    nc_audit_sha256_hex(ls.l[i - 1], strlen(ls.l[i - 1]), h);
    assert_int_equal(nc_audit_record_parse(ls.l[i], strlen(ls.l[i]), &r, NULL), 0);
    assert_int_equal(r.seq, i);
    assert_string_equal(r.prev, h);
    assert_string_equal(r.sandbox, "sb1");
    assert_string_equal(r.event, "exec");
    assert_true(nc_audit_is_time(r.time));
    assert_int_equal(json_integer_value(json_object_get(r.obj, "i")), (json_int_t)i - 1);
    /* keys in order: seq time sandbox event fields... prev digest */
    assert_true(!strncmp(ls.l[i], "{\"seq\":", 7));
    assert_non_null(strstr(ls.l[i], "\"event\":\"exec\",\"i\":"));
    nc_audit_rec_free(&r);
  }
  lines_free(&ls);
  expect_ok(logp, 11);
  /* a second handle goes on with the same chain */
  make_log(3);
  expect_ok(logp, 14);
  assert_non_null(strstr(verify_out, "head: seq 13 sha256 "));
}

static void tamper_edit_one_byte(void **state) {
  (void)state;
  make_log(8);
  size_t len;
  char *buf = slurp(logp, &len);
  /* line 5 (seq 4): "echo" -> "ecHo" */
  char *p = buf;
  for (int i = 0; i < 4; i++) p = strchr(p, '\n') + 1;
  char *e = strstr(p, "echo");
  e[2] = 'H';
  spit(logp, buf, len);
  expect_bad(logp, "line 5: the record's bytes do not match its digest");
  e[2] = 'h';
  /* the last line too: its digest covers it */
  char *last = buf + len - 2;
  while (*last != '\n') last--;
  char *ec = strstr(last, "echo");
  ec[0] = 'E';
  spit(logp, buf, len);
  expect_bad(logp, "line 9: the record's bytes do not match its digest");
  /* a byte of the digest itself */
  ec[0] = 'e';
  buf[len - 4] = buf[len - 4] == 'a' ? 'b' : 'a';
  spit(logp, buf, len);
  expect_bad(logp, "line 9: ");
  free(buf);
}

static void tamper_delete_a_line(void **state) {
  (void)state;
  make_log(8);
  struct lines ls;
  split(logp, &ls);
  drop(&ls, 4); /* seq 4 */
  join(logp, &ls);
  expect_bad(logp, "line 5: seq 5 follows seq 3");
  lines_free(&ls);
  make_log(0);
}

static void tamper_delete_genesis(void **state) {
  (void)state;
  make_log(3);
  struct lines ls;
  split(logp, &ls);
  drop(&ls, 0);
  join(logp, &ls);
  expect_bad(logp, "line 1: the log does not start with a genesis record");
  lines_free(&ls);
}

static void tamper_swap_lines(void **state) {
  (void)state;
  make_log(8);
  struct lines ls;
  split(logp, &ls);
  char *t = ls.l[3];
  ls.l[3] = ls.l[4];
  ls.l[4] = t;
  join(logp, &ls);
  expect_bad(logp, "line 4: seq 4 follows seq 2");
  lines_free(&ls);
}

static void tamper_insert_lines(void **state) {
  (void)state;
  make_log(8);
  struct lines ls;
  split(logp, &ls);
  /* a copy of a record */
  insert(&ls, 6, ls.l[2]);
  join(logp, &ls);
  expect_bad(logp, "line 7: seq 2 follows seq 5");
  drop(&ls, 6);
  /* junk */
  insert(&ls, 6, "{\"seq\":6,\"event\":\"exec\"}");
  join(logp, &ls);
  expect_bad(logp, "line 7: not an audit record (no digest at the end)");
  drop(&ls, 6);
  /* a well-formed record with its own valid digest, forged into the chain at the right seq but without the
   * right prev */
  char *forged;
  size_t flen;
  assert_int_equal(
      nc_audit_record_format(6, "2026-01-01T00:00:00.000000Z", "sb1", "exec", NULL, true,
                             "1111111111111111111111111111111111111111111111111111111111111111", &forged, &flen, NULL),
      0);
  insert(&ls, 6, forged);
  free(forged);
  join(logp, &ls);
  expect_bad(logp, "line 7: prev does not match the SHA-256 of line 6");
  lines_free(&ls);
}

static void tamper_second_genesis(void **state) {
  (void)state;
  make_log(3);
  struct lines ls;
  split(logp, &ls);
  insert(&ls, 2, ls.l[0]);
  join(logp, &ls);
  expect_bad(logp, "line 3: a second genesis record");
  lines_free(&ls);
}

static void forged_seq_gap(void **state) {
  (void)state;
  make_log(3);
  struct lines ls;
  split(logp, &ls);
  char h[NC_AUDIT_HEX_LEN + 1], *forged;
  size_t flen;
  nc_audit_sha256_hex(ls.l[3], strlen(ls.l[3]), h);
  assert_int_equal(
      nc_audit_record_format(5, "2026-01-01T00:00:00.000000Z", "sb1", "exec", NULL, true, h, &forged, &flen, NULL), 0);
  insert(&ls, 4, forged);
  free(forged);
  join(logp, &ls);
  expect_bad(logp, "line 5: seq 5 follows seq 3");
  lines_free(&ls);
}

static void truncate_in_the_middle(void **state) {
  (void)state;
  make_log(8);
  size_t len;
  char *buf = slurp(logp, &len);
  /* cut the second half of line 4 and its newline: lines 4 and 5 run together */
  char *p = buf;
  for (int i = 0; i < 3; i++) p = strchr(p, '\n') + 1;
  char *nl = strchr(p, '\n');
  size_t half = (size_t)(nl - p) / 2;
  memmove(p + half, nl + 1, len - (size_t)(nl + 1 - buf));
  len -= (size_t)(nl + 1 - (p + half));
  spit(logp, buf, len);
  expect_bad(logp, "line 4: ");
  assert_non_null(strstr(verify_out, "digest"));
  free(buf);
}

static void truncated_at_the_end_is_a_note(void **state) {
  (void)state;
  make_log(8);
  size_t len;
  char *buf = slurp(logp, &len);
  assert_int_equal(truncate(logp, (off_t)len - 40), 0);
  assert_int_equal(verify_path(logp, NULL), 0);
  assert_non_null(strstr(verify_out, "ok: 8 records, chain intact\n"));
  assert_non_null(strstr(verify_out, "note: last line incomplete (interrupted write), not counted"));
  /* whole records cut from the end: undetectable from the file alone, caught with an expected head */
  struct lines ls;
  spit(logp, buf, len);
  split(logp, &ls);
  char head[NC_AUDIT_HEX_LEN + 1];
  nc_audit_sha256_hex(ls.l[8], strlen(ls.l[8]), head);
  drop(&ls, 8);
  join(logp, &ls);
  expect_ok(logp, 8);
  struct nc_audit_verify_opts o = {.expect_seq = 8};
  assert_int_equal(verify_path(logp, &o), 1);
  assert_non_null(strstr(verify_out, "end of file: the chain ends at seq 7, expected seq 8"));
  o = (struct nc_audit_verify_opts){.expect_seq = -1, .expect_head = head};
  assert_int_equal(verify_path(logp, &o), 1);
  assert_non_null(strstr(verify_out, "end of file: no record has sha256"));
  spit(logp, buf, len);
  assert_int_equal(verify_path(logp, &o), 0);
  o.expect_seq = 8;
  assert_int_equal(verify_path(logp, &o), 0);
  o.expect_seq = 7;
  assert_int_equal(verify_path(logp, &o), 1);
  o.expect_head = "nothex";
  assert_true(verify_path(logp, &o) < 0);
  lines_free(&ls);
  free(buf);
}

/* A writer finds a torn tail: it ends the line and writes a `torn` record chained to the last complete one. */
static void torn_tail_repaired_by_next_writer(void **state) {
  (void)state;
  make_log(5);
  size_t len;
  char *buf = slurp(logp, &len);
  assert_int_equal(truncate(logp, (off_t)len - 30), 0);
  make_log(2);
  struct lines ls;
  split(logp, &ls);
  assert_int_equal(ls.n, 9); /* genesis, 4, the fragment, torn, 2 */
  struct nc_audit_rec r;
  assert_int_equal(nc_audit_record_parse(ls.l[6], strlen(ls.l[6]), &r, NULL), 0);
  assert_string_equal(r.event, "torn");
  assert_int_equal(r.seq, 5);
  assert_true(r.has_torn);
  assert_int_equal(r.torn_bytes, strlen(ls.l[5]));
  char h[NC_AUDIT_HEX_LEN + 1];
  nc_audit_sha256_hex(ls.l[5], strlen(ls.l[5]), h);
  assert_string_equal(r.torn_sha256, h);
  nc_audit_sha256_hex(ls.l[4], strlen(ls.l[4]), h);
  assert_string_equal(r.prev, h);
  nc_audit_rec_free(&r);
  expect_ok(logp, 8);
  /* the fragment changed afterwards: caught */
  ls.l[5][3] ^= 1;
  join(logp, &ls);
  expect_bad(logp, "line 6: ");
  assert_non_null(strstr(verify_out, "does not acknowledge it"));
  /* a fragment line with no torn record after it */
  ls.l[5][3] ^= 1;
  drop(&ls, 6);
  join(logp, &ls);
  expect_bad(logp, "line 6: ");
  lines_free(&ls);
  free(buf);
}

/* The rarer shapes: the newline alone lost (a complete record without it), two fragments in a row (a crash
 * during the repair), a genesis cut short. */
static void torn_odd_shapes(void **state) {
  (void)state;
  make_log(4);
  size_t len;
  char *buf = slurp(logp, &len);
  assert_int_equal(truncate(logp, (off_t)len - 1), 0);
  expect_ok(logp, 4); /* the last line, complete or not, is not counted without its newline */
  make_log(1);
  expect_ok(logp, 6); /* genesis, 3, torn (which takes seq 4 back from the unterminated line), 1 */
  free(buf);

  /* "R\nF1\nF2": F1 ended by a repair whose torn record was cut */
  buf = slurp(logp, &len);
  char frag1[] = "{\"seq\":7,\"time\":\"2026-";
  char frag2[] = "{\"seq\":7,\"time\":\"2026-11-27T0";
  FILE *f = fopen(logp, "ab");
  fprintf(f, "%s\n%s", frag1, frag2);
  fclose(f);
  make_log(1);
  expect_ok(logp, 8);
  struct lines ls;
  split(logp, &ls);
  struct nc_audit_rec r;
  assert_int_equal(nc_audit_record_parse(ls.l[ls.n - 2], strlen(ls.l[ls.n - 2]), &r, NULL), 0);
  assert_string_equal(r.event, "torn");
  assert_int_equal(r.torn_bytes, strlen(frag1) + 1 + strlen(frag2));
  nc_audit_rec_free(&r);
  lines_free(&ls);
  free(buf);

  /* a genesis cut short: the repair starts the chain with a genesis that acknowledges it */
  static const char cut[] = "{\"seq\":0,\"time\":\"2026-11";
  spit(logp, cut, strlen(cut));
  make_log(2);
  expect_ok(logp, 3);
  split(logp, &ls);
  assert_int_equal(ls.n, 4);
  assert_int_equal(nc_audit_record_parse(ls.l[1], strlen(ls.l[1]), &r, NULL), 0);
  assert_string_equal(r.event, "genesis");
  assert_int_equal(r.torn_bytes, strlen(cut));
  nc_audit_rec_free(&r);
  lines_free(&ls);
}

static void bad_input_never_crashes(void **state) {
  (void)state;
  spit(logp, "", 0);
  expect_bad(logp, "line 1: the file is empty");
  spit(logp, "hello\n", 6);
  expect_bad(logp, "line 1: not JSON");
  spit(logp, "[1,2]\n", 6);
  expect_bad(logp, "line 1: not an audit record");
  spit(logp, "\x00\x01\x02\xff\xfe\n\x7f", 7);
  expect_bad(logp, "line 1: not JSON");
  char *big = malloc(200000);
  memset(big, 'x', 200000);
  big[199999] = '\n';
  spit(logp, big, 200000);
  expect_bad(logp, "line 1: longer than 65535 bytes");
  /* random junk after a good start */
  unlink(logp);
  make_log(2);
  FILE *f = fopen(logp, "ab");
  for (int i = 0; i < 5000; i++) fputc((i * 7919) % 256, f);
  fclose(f);
  assert_int_equal(verify_path(logp, NULL), 1);
  free(big);
  /* every prefix of a log verifies or fails cleanly */
  unlink(logp);
  make_log(3);
  size_t len;
  char *buf = slurp(logp, &len);
  char path2[160];
  snprintf(path2, sizeof path2, "%s/prefix", dir);
  for (size_t n = 0; n <= len; n += 7) {
    spit(path2, buf, n);
    int rc = verify_path(path2, NULL);
    assert_true(rc == 0 || rc == 1);
    /* flip each byte of the prefix's region: never ok unless the byte is in the last, incomplete line */
  }
  for (size_t i = 0; i < len; i += 13) {
    if (buf[i] == '\n') continue;
    buf[i] ^= 0x20;
    spit(path2, buf, len);
    assert_int_equal(verify_path(path2, NULL), 1);
    buf[i] ^= 0x20;
  }
  free(buf);
  assert_true(verify_path("/nonexistent/x", NULL) < 0);
  assert_non_null(strstr(verify_out, "/nonexistent/x"));
  /* a tail of 300 KiB junk: appends refuse rather than chain to garbage */
  unlink(logp);
  make_log(1);
  FILE *jf = fopen(logp, "ab");
  for (int i = 0; i < 300 * 1024; i++) fputc('j', jf);
  fclose(jf);
  struct nc_audit *a = open_log(NULL);
  nc_error err = {0};
  assert_int_equal(nc_audit_emit(a, "sb", "exec", NULL, &err), -EBADMSG);
  assert_non_null(strstr(err.msg, "damaged"));
  assert_int_equal(nc_audit_close(a, NULL), 0);
}

static void refuses_what_is_not_a_log(void **state) {
  (void)state;
  struct nc_audit *a = NULL;
  nc_error err = {0};
  char p[160], target[160];
  /* a symlink */
  make_log(1);
  snprintf(p, sizeof p, "%s/link.jsonl", dir);
  assert_int_equal(symlink(logp, p), 0);
  struct nc_audit_config c = {.path = p};
  assert_int_equal(nc_audit_open(&a, &c, &err), -ELOOP);
  assert_non_null(strstr(err.msg, "symbolic link"));
  /* a file that is not an audit log (as --audit-log /etc/passwd would be) */
  snprintf(target, sizeof target, "%s/passwd", dir);
  spit(target, "root:x:0:0::/root:/bin/sh\n", 26);
  c.path = target;
  assert_int_equal(nc_audit_open(&a, &c, &err), -EBADMSG);
  assert_non_null(strstr(err.msg, "not a nanoclaw audit log"));
  size_t len;
  char *s = slurp(target, &len);
  assert_int_equal(len, 26); /* untouched */
  free(s);
  /* a fifo */
  snprintf(target, sizeof target, "%s/fifo", dir);
  assert_int_equal(mkfifo(target, 0600), 0);
  c.path = target;
  assert_int_equal(nc_audit_open(&a, &c, &err), -EINVAL);
  assert_non_null(strstr(err.msg, "not a regular file"));
  /* a directory name */
  c.path = "/tmp/";
  assert_true(nc_audit_open(&a, &c, &err) < 0);
  /* bad urls */
  c.path = logp;
  c.syslog_url = "http://x";
  assert_int_equal(nc_audit_open(&a, &c, &err), -EINVAL);
  assert_non_null(strstr(err.msg, "tcp://HOST:PORT"));
  c.syslog_url = "tcp://host";
  assert_int_equal(nc_audit_open(&a, &c, &err), -EINVAL);
  c.syslog_url = "tcp://host:99999";
  assert_int_equal(nc_audit_open(&a, &c, &err), -EINVAL);
  c.syslog_url = NULL;
  c.http_url = "ftp://x";
  assert_int_equal(nc_audit_open(&a, &c, &err), -EINVAL);
  /* created 0600 in a created 0700 directory */
  snprintf(p, sizeof p, "%s/deep/er/audit.jsonl", dir);
  c = (struct nc_audit_config){.path = p};
  a = open_log(&c);
  close_ok(a);
  struct stat st;
  assert_int_equal(stat(p, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  snprintf(p, sizeof p, "%s/deep/er", dir);
  assert_int_equal(stat(p, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);
}

static void emit_refuses_bad_records(void **state) {
  (void)state;
  struct nc_audit *a = open_log(NULL);
  nc_error err = {0};
  json_t *f = json_pack("{s:i}", "seq", 5);
  assert_int_equal(nc_audit_emit(a, "sb", "exec", f, &err), -EINVAL);
  assert_non_null(strstr(err.msg, "reserved"));
  json_decref(f);
  f = json_pack("{s:s}", "prev", "x");
  assert_int_equal(nc_audit_emit(a, "sb", "exec", f, &err), -EINVAL);
  json_decref(f);
  assert_int_equal(nc_audit_emit(a, "sb", "Exec", NULL, &err), -EINVAL);
  assert_int_equal(nc_audit_emit(a, "sb", "genesis", NULL, &err), -EINVAL);
  assert_int_equal(nc_audit_emit(a, "sb", "torn", NULL, &err), -EINVAL);
  assert_int_equal(nc_audit_emit(a, "sb", "", NULL, &err), -EINVAL);
  assert_int_equal(nc_audit_emit(a, "sb", "a\nb", NULL, &err), -EINVAL);
  assert_non_null(strstr(err.msg, "a\\x0ab"));
  assert_int_equal(nc_audit_emit(a, "sb\xff", "exec", NULL, &err), -EINVAL);
  f = json_array();
  assert_int_equal(nc_audit_emit(a, "sb", "exec", f, &err), -EINVAL);
  json_decref(f);
  char *big = malloc(70000);
  memset(big, 'a', 69999);
  big[69999] = '\0';
  f = json_pack("{s:s}", "big", big);
  assert_int_equal(nc_audit_emit(a, "sb", "exec", f, &err), -E2BIG);
  assert_non_null(strstr(err.msg, "65536"));
  json_decref(f);
  free(big);
  /* untrusted strings are escaped inside records (JSON), newline included: still one line each */
  f = json_pack("{s:s}", "cmd", "rm -rf /\n{\"seq\":99}");
  assert_int_equal(nc_audit_emit(a, NULL, "exec", f, &err), 0);
  json_decref(f);
  close_ok(a);
  expect_ok(logp, 2);
}

/* ---- output chunks ------------------------------------------------------------------------------------- */

static void output_chunks_and_cap(void **state) {
  (void)state;
  struct nc_audit_config c = {.path = logp, .output_cap_bytes = 40000};
  struct nc_audit *a = open_log(&c);
  nc_error err = {0};
  assert_int_equal(nc_audit_output(a, "sb", NC_AUDIT_STDOUT, "hello\n", 6, &err), 0);
  assert_int_equal(nc_audit_output(a, "sb", NC_AUDIT_STDERR, "\xff\xfe\x00x", 4, &err), 0);
  char *big = malloc(50000);
  /* UTF-8 text with 3-byte characters; the 16 KiB cut must not split one */
  for (size_t i = 0; i < 50000; i += 3)
    memcpy(big + i, i + 3 <= 50000 ? "\xe2\x82\xac" : "xx", i + 3 <= 50000 ? 3 : 50000 - i);
  assert_int_equal(nc_audit_output(a, "sb", NC_AUDIT_STDOUT, big, 50000, &err), 0);
  assert_int_equal(nc_audit_output(a, "sb", NC_AUDIT_STDOUT, "more", 4, &err), 0);
  assert_int_equal(nc_audit_output(a, "sb", 3, "x", 1, &err), -EINVAL);
  /* another sandbox has its own cap */
  assert_int_equal(nc_audit_output(a, "other", NC_AUDIT_STDOUT, "x", 1, &err), 0);
  assert_int_equal(nc_audit_output_end(a, "sb", &err), 0);
  close_ok(a);
  expect_ok(logp, 0 + 1 + 2 + 3 + 1 + 1 + 1 + 0); /* genesis, 2 small, 3 chunks, truncated, other, dropped */
  struct lines ls;
  split(logp, &ls);
  struct nc_audit_rec r;
  uint64_t recorded = 0;
  int truncated = 0, dropped = 0, b64 = 0;
  for (size_t i = 1; i < ls.n; i++) {
    assert_int_equal(nc_audit_record_parse(ls.l[i], strlen(ls.l[i]), &r, NULL), 0);
    if (!strcmp(r.event, "output") && !strcmp(r.sandbox, "sb")) {
      json_int_t n = json_integer_value(json_object_get(r.obj, "bytes"));
      assert_true(n <= (json_int_t)NC_AUDIT_CHUNK_MAX);
      recorded += (uint64_t)n;
      const char *enc = json_string_value(json_object_get(r.obj, "encoding"));
      if (enc) {
        assert_string_equal(enc, "base64");
        assert_string_equal(json_string_value(json_object_get(r.obj, "data")), "//4AeA==");
        assert_string_equal(json_string_value(json_object_get(r.obj, "stream")), "stderr");
        b64++;
      } else {
        assert_int_equal(json_string_length(json_object_get(r.obj, "data")), (size_t)n);
      }
    }
    if (!strcmp(r.event, "output_truncated")) {
      truncated++;
      assert_int_equal(json_integer_value(json_object_get(r.obj, "cap_bytes")), 40000);
    }
    if (!strcmp(r.event, "output_dropped")) {
      dropped++;
      assert_int_equal(json_integer_value(json_object_get(r.obj, "stdout_dropped_bytes")), 50000 + 4 + 6 + 4 - 40000);
      assert_int_equal(json_integer_value(json_object_get(r.obj, "stderr_dropped_bytes")), 0);
    }
    nc_audit_rec_free(&r);
  }
  assert_int_equal(recorded, 40000);
  assert_int_equal(truncated, 1);
  assert_int_equal(dropped, 1);
  assert_int_equal(b64, 1);
  lines_free(&ls);
  free(big);
}

/* ---- concurrency and crashes --------------------------------------------------------------------------- */

static void twenty_concurrent_writers(void **state) {
  (void)state;
  make_log(0);
  pid_t kids[20];
  for (int k = 0; k < 20; k++) {
    kids[k] = fork();
    assert_true(kids[k] >= 0);
    if (kids[k] == 0) {
      struct nc_audit_config c = {.path = logp};
      struct nc_audit *a = NULL;
      char sb[16];
      snprintf(sb, sizeof sb, "sb%d", k);
      if (nc_audit_open(&a, &c, NULL) < 0) _exit(1);
      for (int i = 0; i < 50; i++) {
        json_t *f = json_pack("{s:i}", "i", i);
        if (nc_audit_emit(a, sb, "exec", f, NULL) < 0) _exit(1);
        json_decref(f);
      }
      _exit(nc_audit_close(a, NULL) < 0);
    }
  }
  for (int k = 0; k < 20; k++) {
    int st;
    assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  expect_ok(logp, 1001);
}

/* Concurrent writers into a log that does not exist yet: one genesis wins. */
static void concurrent_creation(void **state) {
  (void)state;
  pid_t kids[8];
  for (int k = 0; k < 8; k++) {
    kids[k] = fork();
    if (kids[k] == 0) {
      struct nc_audit_config c = {.path = logp};
      struct nc_audit *a = NULL;
      if (nc_audit_open(&a, &c, NULL) < 0) _exit(1);
      if (nc_audit_emit(a, "sb", "exec", NULL, NULL) < 0) _exit(1);
      _exit(nc_audit_close(a, NULL) < 0);
    }
  }
  for (int k = 0; k < 8; k++) {
    int st;
    waitpid(kids[k], &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  expect_ok(logp, 9);
}

static void sigkill_at_random_times(void **state) {
  (void)state;
  make_log(0);
  srand((unsigned)getpid());
  int torn_seen = 0;
  for (int round = 0; round < 8; round++) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      struct nc_audit_config c = {.path = logp, .fsync_batch = round % 2 == 1};
      struct nc_audit *a = NULL;
      if (nc_audit_open(&a, &c, NULL) < 0) _exit(1);
      static char chunk[NC_AUDIT_CHUNK_MAX];
      memset(chunk, 'z', sizeof chunk);
      for (int i = 0;; i++) {
        if (i % 3 == 0)
          nc_audit_output(a, "crash", NC_AUDIT_STDOUT, chunk, sizeof chunk, NULL);
        else
          emit_i(a, "crash", i);
      }
    }
    usleep((useconds_t)(20000 + rand() % 100000));
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    int rc = verify_path(logp, NULL);
    if (rc != 0) fail_msg("round %d: %s", round, verify_out);
    torn_seen += strstr(verify_out, "note: last line incomplete") != NULL;
  }
  /* a writer after the last crash repairs any torn tail */
  make_log(1);
  assert_int_equal(verify_path(logp, NULL), 0);
  assert_null(strstr(verify_out, "note:"));
  print_message("torn tails seen: %d of 8\n", torn_seen);
}

/* ---- sinks ------------------------------------------------------------------------------------------- */

static int listen_on(int type, int *port) {
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  socklen_t sl = sizeof sa;
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
  *port = ntohs(sa.sin_port);
  if (type == SOCK_STREAM) assert_int_equal(listen(fd, 16), 0);
  return fd;
}

/* a loopback port nobody listens on */
static int dead_port(void) {
  int port, fd = listen_on(SOCK_STREAM, &port);
  close(fd);
  return port;
}

/* Check one RFC 5424 message against a line of the file. */
static void check_syslog_msg(const char *msg, size_t len, const char *line) {
  char head[64];
  snprintf(head, sizeof head, "<86>1 ");
  assert_true(len > 6 && !memcmp(msg, head, 6));
  /* <86>1 TIME HOST nanoclaw PID - - JSON */
  const char *p = msg + 6;
  struct nc_audit_rec r;
  assert_int_equal(nc_audit_record_parse(line, strlen(line), &r, NULL), 0);
  assert_true(!strncmp(p, r.time, NC_AUDIT_TIME_LEN));
  nc_audit_rec_free(&r);
  p = strchr(p + NC_AUDIT_TIME_LEN + 1, ' ');
  char want[64];
  snprintf(want, sizeof want, " nanoclaw %ld - - ", (long)getpid());
  assert_true(!strncmp(p, want, strlen(want)));
  p += strlen(want);
  assert_int_equal((size_t)(msg + len - p), strlen(line));
  assert_true(!memcmp(p, line, strlen(line)));
}

static void syslog_tcp_octet_counting(void **state) {
  (void)state;
  int port, lfd = listen_on(SOCK_STREAM, &port);
  char url[64];
  snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
  struct nc_audit_config c = {.path = logp, .syslog_url = url};
  struct nc_audit *a = open_log(&c);
  for (int i = 0; i < 3; i++) emit_i(a, "sb", i);
  json_t *f = json_pack("{s:s}", "note", "spaces and\nnewlines 5 <13>1 inside");
  assert_int_equal(nc_audit_emit(a, "sb", "exec", f, NULL), 0);
  json_decref(f);
  close_ok(a);
  int cfd = accept(lfd, NULL, NULL);
  assert_true(cfd >= 0);
  static char buf[1 << 16];
  size_t got = 0;
  for (ssize_t n; (n = read(cfd, buf + got, sizeof buf - got)) > 0;) got += (size_t)n;
  close(cfd);
  close(lfd);
  struct lines ls;
  split(logp, &ls);
  assert_int_equal(ls.n, 5);
  size_t off = 0, frames = 0;
  while (off < got) {
    char *sp = memchr(buf + off, ' ', got - off);
    assert_non_null(sp);
    size_t mlen = strtoul(buf + off, NULL, 10);
    const char *msg = sp + 1;
    assert_true(msg + mlen <= buf + got);
    check_syslog_msg(msg, mlen, ls.l[frames]);
    frames++;
    off = (size_t)(msg + mlen - buf);
  }
  assert_int_equal(frames, 5); /* the genesis too: this handle created the log */
  lines_free(&ls);
}

static void syslog_udp_datagrams(void **state) {
  (void)state;
  int port, ufd = listen_on(SOCK_DGRAM, &port);
  char url[64];
  snprintf(url, sizeof url, "udp://127.0.0.1:%d", port);
  struct nc_audit_config c = {.path = logp, .syslog_url = url};
  struct nc_audit *a = open_log(&c);
  for (int i = 0; i < 3; i++) emit_i(a, "sb", i);
  char *big = malloc(9001);
  memset(big, 'b', 9000);
  big[9000] = '\0';
  json_t *f = json_pack("{s:s}", "big", big);
  assert_int_equal(nc_audit_emit(a, "sb", "exec", f, NULL), 0); /* too big for a datagram: dropped, counted */
  json_decref(f);
  free(big);
  emit_i(a, "sb", 4);
  close_ok(a);
  struct lines ls;
  split(logp, &ls);
  static char buf[65536];
  size_t n = 0, k = 0;
  ssize_t m;
  while ((m = recv(ufd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
    assert_true(m <= 8192);
    while (k < ls.n && strstr(ls.l[k], "\"big\"")) k++;
    check_syslog_msg(buf, (size_t)m, ls.l[k]);
    k++;
    n++;
  }
  close(ufd);
  assert_true(n >= 5); /* genesis, 3, the one after (and perhaps the sink_loss record) */
  /* the loss is in the file */
  struct nc_audit_rec r;
  bool loss = false;
  for (size_t i = 0; i < ls.n; i++) {
    assert_int_equal(nc_audit_record_parse(ls.l[i], strlen(ls.l[i]), &r, NULL), 0);
    if (!strcmp(r.event, "sink_loss")) {
      loss = true;
      assert_int_equal(json_integer_value(json_object_get(r.obj, "records_lost")), 1);
      assert_true(json_integer_value(json_object_get(r.obj, "bytes_lost")) > 9000);
      assert_non_null(strstr(json_string_value(json_object_get(r.obj, "sink")), "syslog udp://127.0.0.1:"));
    }
    nc_audit_rec_free(&r);
  }
  assert_true(loss);
  size_t nlines = ls.n;
  lines_free(&ls);
  expect_ok(logp, nlines);
}

/* Sum of records_lost over the file's sink_loss records. */
static uint64_t lost_in_file(void) {
  struct lines ls;
  split(logp, &ls);
  uint64_t lost = 0;
  struct nc_audit_rec r;
  for (size_t i = 0; i < ls.n; i++) {
    if (nc_audit_record_parse(ls.l[i], strlen(ls.l[i]), &r, NULL) < 0) continue;
    if (!strcmp(r.event, "sink_loss")) lost += (uint64_t)json_integer_value(json_object_get(r.obj, "records_lost"));
    nc_audit_rec_free(&r);
  }
  lines_free(&ls);
  return lost;
}

static void dead_sink_never_blocks(void **state) {
  (void)state;
  char url[64];
  snprintf(url, sizeof url, "tcp://127.0.0.1:%d", dead_port());
  struct nc_audit_config c = {.path = logp, .syslog_url = url, .sink_flush_ms = 300, .fsync_batch = true};
  uint64_t t0 = nc_now_ns();
  struct nc_audit *a = open_log(&c);
  for (int i = 0; i < 200; i++) emit_i(a, "sb", i);
  uint64_t t1 = nc_now_ns();
  nc_error err = {0};
  assert_int_equal(nc_audit_close(a, &err), 0); /* not required: a loss is recorded, not an error */
  uint64_t t2 = nc_now_ns();
  print_message("200 emits %llu ms, close %llu ms\n", (unsigned long long)(t1 - t0) / 1000000,
                (unsigned long long)(t2 - t1) / 1000000);
  assert_true(t1 - t0 < 2000000000ull);
  assert_true(t2 - t1 < 600000000ull);   /* the 300 ms bound, and the 100 ms join grace */
  assert_int_equal(lost_in_file(), 201); /* the genesis and 200 records */
  expect_ok(logp, 202);
  /* the http sink too */
  unlink(logp);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/logs", dead_port());
  c = (struct nc_audit_config){.path = logp, .http_url = url, .sink_flush_ms = 300};
  t1 = nc_now_ns();
  a = open_log(&c);
  emit_i(a, "sb", 1);
  assert_int_equal(nc_audit_close(a, &err), 0);
  assert_true(nc_now_ns() - t1 < 600000000ull);
  assert_int_equal(lost_in_file(), 2);
}

/* Peers that accept and then never answer (HTTP) or never read (syslog TCP): close still returns within its
 * bound, aborting the transfer in flight. */
static void stuck_sinks_close_is_bounded(void **state) {
  (void)state;
  int hport, hfd = listen_on(SOCK_STREAM, &hport), sport, sfd = listen_on(SOCK_STREAM, &sport);
  char hurl[64], surl[64];
  snprintf(hurl, sizeof hurl, "http://127.0.0.1:%d/logs", hport);
  snprintf(surl, sizeof surl, "tcp://127.0.0.1:%d", sport);
  struct nc_audit_config c = {.path = logp,
                              .http_url = hurl,
                              .syslog_url = surl,
                              .sink_flush_ms = 300,
                              .fsync_batch = true,
                              .output_cap_bytes = UINT64_MAX};
  struct nc_audit *a = open_log(&c);
  static char chunk[NC_AUDIT_CHUNK_MAX];
  memset(chunk, 'q', sizeof chunk);
  uint64_t t0 = nc_now_ns();
  for (int i = 0; i < 400; i++) /* 8 MiB: more than the peer's socket buffers and the sink queue */
    assert_int_equal(nc_audit_output(a, "sb", NC_AUDIT_STDOUT, chunk, sizeof chunk / 2 * (size_t)(1 + i % 2), NULL), 0);
  uint64_t t1 = nc_now_ns();
  close_ok(a);
  uint64_t t2 = nc_now_ns();
  print_message("emits %llu ms, close %llu ms\n", (unsigned long long)(t1 - t0) / 1000000,
                (unsigned long long)(t2 - t1) / 1000000);
  assert_true(t2 - t1 < 600000000ull);
  assert_true(lost_in_file() > 0);
  close(hfd);
  close(sfd);
  expect_chain_ok(logp);
}

static void full_queue_drops_and_counts(void **state) {
  (void)state;
  char url[64];
  snprintf(url, sizeof url, "tcp://127.0.0.1:%d", dead_port());
  struct nc_audit_config c = {
      .path = logp, .syslog_url = url, .sink_flush_ms = 100, .sink_buffer_bytes = 4096, .fsync_batch = true};
  struct nc_audit *a = open_log(&c);
  for (int i = 0; i < 100; i++) emit_i(a, "sb", i);
  close_ok(a);
  assert_int_equal(lost_in_file(), 101);
}

static void required_sink_failure_is_an_error(void **state) {
  (void)state;
  char url[64];
  snprintf(url, sizeof url, "tcp://127.0.0.1:%d", dead_port());
  struct nc_audit_config c = {.path = logp, .syslog_url = url, .sink_flush_ms = 200, .required = true};
  struct nc_audit *a = open_log(&c);
  nc_error err = {0};
  int r = 0;
  for (int i = 0; i < 200 && r == 0; i++) {
    r = nc_audit_emit(a, "sb", "exec", NULL, &err);
    usleep(10000);
  }
  assert_int_equal(r, -EIO);
  assert_non_null(strstr(err.msg, url));
  assert_non_null(strstr(err.msg, "Connection refused"));
  r = nc_audit_close(a, &err);
  assert_int_equal(r, -EIO);
  assert_non_null(strstr(err.msg, "lost"));
  assert_non_null(strstr(err.msg, url));
  expect_chain_ok(logp);
}

/* A sink that comes back: delivery resumes and a sink_loss record says what was lost meanwhile. */
static void sink_recovers_and_reports_loss(void **state) {
  (void)state;
  int port = dead_port();
  char url[64];
  snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
  struct nc_audit_config c = {.path = logp, .syslog_url = url, .sink_buffer_bytes = 2048, .fsync_batch = true};
  struct nc_audit *a = open_log(&c);
  for (int i = 0; i < 30; i++) emit_i(a, "sb", i);
  /* now a receiver appears on the port */
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {
      .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons((uint16_t)port)};
  assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(lfd, 4), 0);
  uint64_t lost = 0;
  for (int i = 0; i < 150 && lost == 0; i++) { /* the backoff is at most a few seconds here */
    usleep(50000);
    emit_i(a, "sb", 100 + i);
    lost = lost_in_file();
  }
  assert_true(lost > 0);
  close_ok(a);
  int cfd = accept(lfd, NULL, NULL);
  assert_true(cfd >= 0);
  static char buf[1 << 20];
  size_t got = 0;
  for (ssize_t n; (n = read(cfd, buf + got, sizeof buf - got - 1)) > 0;) got += (size_t)n;
  buf[got] = '\0';
  close(cfd);
  close(lfd);
  assert_non_null(strstr(buf, "\"event\":\"sink_loss\"")); /* the loss record reached the sink too */
  expect_chain_ok(logp);
}

/* ---- HTTP -------------------------------------------------------------------------------------------- */

struct http_srv {
  int lfd;
  int requests, status_first;
  size_t records;
  bool bad;
  char first_ct[128];
};

static void *http_srv_main(void *arg) {
  struct http_srv *s = arg;
  for (;;) {
    struct pollfd p = {.fd = s->lfd, .events = POLLIN};
    if (poll(&p, 1, 1000) <= 0) return NULL;
    int cfd = accept(s->lfd, NULL, NULL);
    if (cfd < 0) return NULL;
    static char buf[1 << 20];
    size_t got = 0;
    for (;;) { /* requests on this connection */
      char *end;
      while (!(end = memmem(buf, got, "\r\n\r\n", 4))) {
        ssize_t n = read(cfd, buf + got, sizeof buf - got);
        if (n <= 0) goto next;
        got += (size_t)n;
      }
      *end = '\0';
      char *cl = strcasestr(buf, "Content-Length:");
      size_t blen = cl ? strtoul(cl + 15, NULL, 10) : 0, hlen = (size_t)(end + 4 - buf);
      char *ct = strcasestr(buf, "Content-Type:");
      if (ct && !s->first_ct[0]) snprintf(s->first_ct, sizeof s->first_ct, "%.*s", (int)strcspn(ct, "\r"), ct);
      if (strncmp(buf, "POST /logs ", 11)) s->bad = true;
      while (got < hlen + blen) {
        ssize_t n = read(cfd, buf + got, sizeof buf - got);
        if (n <= 0) goto next;
        got += (size_t)n;
      }
      int status = s->requests++ == 0 ? s->status_first : 200;
      if (status == 200) {
        json_t *j = json_loadb(buf + hlen, blen, 0, NULL);
        if (!json_is_array(j)) s->bad = true;
        for (size_t i = 0; i < json_array_size(j); i++)
          if (!json_is_object(json_array_get(j, i)) || !json_object_get(json_array_get(j, i), "digest")) s->bad = true;
        s->records += json_array_size(j);
        json_decref(j);
      }
      char resp[128];
      int rl = snprintf(resp, sizeof resp, "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", status);
      if (write(cfd, resp, (size_t)rl) != rl) goto next;
      memmove(buf, buf + hlen + blen, got - hlen - blen);
      got -= hlen + blen;
    }
  next:
    close(cfd);
  }
}

static void http_posts_json_batches(void **state) {
  (void)state;
  int port;
  struct http_srv s = {.status_first = 503};
  s.lfd = listen_on(SOCK_STREAM, &port);
  pthread_t t;
  pthread_create(&t, NULL, http_srv_main, &s);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/logs", port);
  struct nc_audit_config c = {.path = logp, .http_url = url, .fsync_batch = true, .sink_flush_ms = 5000};
  struct nc_audit *a = open_log(&c);
  for (int i = 0; i < 250; i++) emit_i(a, "sb", i);
  close_ok(a);
  pthread_join(t, NULL);
  close(s.lfd);
  assert_false(s.bad);
  assert_int_equal(s.records, 251); /* the first POST got a 503 and was retried */
  assert_true(s.requests >= 4);     /* batches of at most 100 */
  assert_string_equal(s.first_ct, "Content-Type: application/json");
  assert_int_equal(lost_in_file(), 0);
  /* a 400 is final: the batch is dropped and counted */
  unlink(logp);
  s = (struct http_srv){.status_first = 400};
  s.lfd = listen_on(SOCK_STREAM, &port);
  pthread_create(&t, NULL, http_srv_main, &s);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/logs", port);
  c.http_url = url;
  a = open_log(&c);
  emit_i(a, "sb", 0);
  close_ok(a);
  pthread_join(t, NULL);
  close(s.lfd);
  assert_true(lost_in_file() >= 1);
}

/* ---- append-only, default path, show ------------------------------------------------------------------ */

static void append_only_attribute(void **state) {
  (void)state;
  struct nc_audit_config c = {.path = logp, .append_only = true};
  struct nc_audit *a = NULL;
  nc_error err = {0};
  int r = nc_audit_open(&a, &c, &err);
  if (geteuid() != 0) { /* the error path only: no CAP_LINUX_IMMUTABLE */
    assert_int_equal(r, -EPERM);
    assert_non_null(strstr(err.msg, logp));
    return;
  }
  if (r == -EOPNOTSUPP) {
    print_message("skipped: %s\n", err.msg); /* this file system has no attributes */
    return;
  }
  assert_int_equal(r, 0);
  emit_i(a, "sb", 1);
  int fd = open(logp, O_RDONLY | O_CLOEXEC);
  int flags = 0;
  assert_int_equal(ioctl(fd, FS_IOC_GETFLAGS, &flags), 0);
  close(fd);
  assert_true(flags & FS_APPEND_FL);
  assert_true(open(logp, O_WRONLY | O_TRUNC | O_CLOEXEC) < 0 && errno == EPERM);
  assert_true(truncate(logp, 10) < 0);
  assert_true(unlink(logp) < 0);
  emit_i(a, "sb", 2);
  close_ok(a);
  expect_ok(logp, 3);
  clear_attrs(logp);
  /* Without CAP_LINUX_IMMUTABLE it is an error naming the file, never a silent no. */
  char sub[160];
  snprintf(sub, sizeof sub, "%s/nobody", dir);
  assert_int_equal(chmod(dir, 0755), 0);
  assert_int_equal(mkdir(sub, 0777), 0);
  assert_int_equal(chmod(sub, 0777), 0);
  pid_t pid = fork();
  if (pid == 0) {
    if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0) _exit(3);
    char p[200];
    snprintf(p, sizeof p, "%s/audit.jsonl", sub);
    struct nc_audit_config cc = {.path = p, .append_only = true};
    struct nc_audit *aa = NULL;
    nc_error e = {0};
    int rr = nc_audit_open(&aa, &cc, &e);
    if (rr == 0) _exit(4);
    _exit(strstr(e.msg, "append-only") && strstr(e.msg, p) ? 0 : 5);
  }
  int st;
  waitpid(pid, &st, 0);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
}

static void default_path(void **state) {
  (void)state;
  char p[512];
  if (geteuid() == 0) {
    assert_int_equal(nc_audit_default_path(p, sizeof p, NULL), 0);
    assert_string_equal(p, "/var/log/nanoclaw/audit.jsonl");
  }
  pid_t pid = fork();
  if (pid == 0) {
    if (geteuid() == 0 && setresuid(65534, 65534, 65534) < 0) _exit(3);
    setenv("XDG_STATE_HOME", "/x/state", 1);
    if (nc_audit_default_path(p, sizeof p, NULL) < 0 || strcmp(p, "/x/state/nanoclaw/audit.jsonl")) _exit(4);
    setenv("XDG_STATE_HOME", "relative", 1);
    setenv("HOME", "/home/u", 1);
    if (nc_audit_default_path(p, sizeof p, NULL) < 0 || strcmp(p, "/home/u/.local/state/nanoclaw/audit.jsonl"))
      _exit(5);
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
}

static char *show(const struct nc_audit_show_opts *o) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  nc_error err = {0};
  assert_int_equal(nc_audit_show(logp, o, f, &err), 0);
  fclose(f);
  return buf;
}

static void show_readable_and_filtered(void **state) {
  (void)state;
  struct nc_audit *a = open_log(NULL);
  json_t *f = json_pack("{s:[s,s],s:s}", "argv", "ls", "-l", "cwd", "/work dir");
  assert_int_equal(nc_audit_emit(a, "sb1", "exec", f, NULL), 0);
  json_decref(f);
  assert_int_equal(nc_audit_output(a, "sb1", NC_AUDIT_STDOUT, "hi\x1b[31m\n", 8, NULL), 0);
  assert_int_equal(nc_audit_output(a, "sb2", NC_AUDIT_STDERR, "\xff\x1b]0;x\x07", 7, NULL), 0);
  f = json_pack("{s:s}", "host",
                "evil\xe2\x80\xae"
                "exe.txt\xc2\x9b");
  assert_int_equal(nc_audit_emit(a, "sb2", "net", f, NULL), 0);
  json_decref(f);
  close_ok(a);
  char *out = show(NULL);
  print_message("%s", out);
  assert_non_null(strstr(out, " 0 - genesis version=1 "));
  assert_non_null(strstr(out, " 1 sb1 exec argv=[\"ls\",\"-l\"] cwd=\"/work dir\"\n"));
  assert_non_null(strstr(out, " 2 sb1 output stdout: \"hi\\x1b[31m\\n\" offset=0 bytes=8\n"));
  assert_non_null(strstr(out, " 3 sb2 output stderr: \"\\xff\\x1b]0;x\\x07\" offset=0 bytes=7\n"));
  assert_non_null(strstr(out, " 4 sb2 net host=\"evil\\u202eexe.txt\\u009b\"\n"));
  assert_null(strchr(out, '\x1b'));
  assert_null(strstr(out, "prev="));
  free(out);
  struct nc_audit_show_opts o = {.sandbox = "sb2"};
  out = show(&o);
  assert_null(strstr(out, "sb1"));
  assert_non_null(strstr(out, " 4 sb2 net "));
  free(out);
  o = (struct nc_audit_show_opts){.event = "exec", .json = true};
  out = show(&o);
  assert_true(!strncmp(out, "{\"seq\":1,", 9));
  assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out)); /* one line */
  free(out);
  /* junk lines are named, not fatal */
  FILE *fp = fopen(logp, "ab");
  fputs("junk\n{\"seq\":", fp);
  fclose(fp);
  out = show(NULL);
  assert_non_null(strstr(out, "line 6: not a record: not JSON"));
  assert_non_null(strstr(out, "line 7: incomplete"));
  free(out);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(chain_from_genesis, setup, teardown),
      cmocka_unit_test_setup_teardown(tamper_edit_one_byte, setup, teardown),
      cmocka_unit_test_setup_teardown(tamper_delete_a_line, setup, teardown),
      cmocka_unit_test_setup_teardown(tamper_delete_genesis, setup, teardown),
      cmocka_unit_test_setup_teardown(tamper_swap_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(tamper_insert_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(tamper_second_genesis, setup, teardown),
      cmocka_unit_test_setup_teardown(forged_seq_gap, setup, teardown),
      cmocka_unit_test_setup_teardown(truncate_in_the_middle, setup, teardown),
      cmocka_unit_test_setup_teardown(truncated_at_the_end_is_a_note, setup, teardown),
      cmocka_unit_test_setup_teardown(torn_tail_repaired_by_next_writer, setup, teardown),
      cmocka_unit_test_setup_teardown(torn_odd_shapes, setup, teardown),
      cmocka_unit_test_setup_teardown(bad_input_never_crashes, setup, teardown),
      cmocka_unit_test_setup_teardown(refuses_what_is_not_a_log, setup, teardown),
      cmocka_unit_test_setup_teardown(emit_refuses_bad_records, setup, teardown),
      cmocka_unit_test_setup_teardown(output_chunks_and_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(twenty_concurrent_writers, setup, teardown),
      cmocka_unit_test_setup_teardown(concurrent_creation, setup, teardown),
      cmocka_unit_test_setup_teardown(sigkill_at_random_times, setup, teardown),
      cmocka_unit_test_setup_teardown(syslog_tcp_octet_counting, setup, teardown),
      cmocka_unit_test_setup_teardown(syslog_udp_datagrams, setup, teardown),
      cmocka_unit_test_setup_teardown(dead_sink_never_blocks, setup, teardown),
      cmocka_unit_test_setup_teardown(stuck_sinks_close_is_bounded, setup, teardown),
      cmocka_unit_test_setup_teardown(full_queue_drops_and_counts, setup, teardown),
      cmocka_unit_test_setup_teardown(required_sink_failure_is_an_error, setup, teardown),
      cmocka_unit_test_setup_teardown(sink_recovers_and_reports_loss, setup, teardown),
      cmocka_unit_test_setup_teardown(http_posts_json_batches, setup, teardown),
      cmocka_unit_test_setup_teardown(append_only_attribute, setup, teardown),
      cmocka_unit_test_setup_teardown(default_path, setup, teardown),
      cmocka_unit_test_setup_teardown(show_readable_and_filtered, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
