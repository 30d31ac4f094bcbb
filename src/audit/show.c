/* show.c — print audit records readably (or as they are), filtered, and follow a growing log. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "audit/audit-internal.h"
#include "core/error.h"
#include "core/util.h"

#define SHOW_DATA_MAX 4096 /* bytes of an output chunk shown; the rest is summarised */

/* A string as a quoted, escaped value: no control characters (C0, DEL, C1), no bidi overrides reach the
 * terminal, and quotes cannot close it early. Bytes that are not known UTF-8 (!utf8) are escaped from 0x80 up. */
static void put_escaped(FILE *f, const unsigned char *s, size_t n, size_t max, bool utf8) {
  fputc('"', f);
  size_t i = 0;
  for (; i < n && i < max; i++) {
    unsigned char c = s[i];
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c == '\n')
      fputs("\\n", f);
    else if (c == '\t')
      fputs("\\t", f);
    else if (c == '\r')
      fputs("\\r", f);
    else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
      fprintf(f, "\\x%02x", c);
    else if (c == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f) /* C1 controls */
      fprintf(f, "\\u%04x", s[++i]);
    else if (c == 0xe2 && i + 2 < n && s[i + 1] == 0x80 && s[i + 2] >= 0xa8 && s[i + 2] <= 0xae) /* LS, PS, LRE..RLO */
      fprintf(f, "\\u%04x", 0x2000 + (s[i + 2] - 0x80)), i += 2;
    else if (c == 0xe2 && i + 2 < n && s[i + 1] == 0x81 && s[i + 2] >= 0xa6 && s[i + 2] <= 0xa9) /* LRI..PDI */
      fprintf(f, "\\u%04x", 0x2040 + (s[i + 2] - 0x80)), i += 2;
    else
      fputc(c, f);
  }
  fputc('"', f);
  if (i < n) fprintf(f, "...(%zu more bytes)", n - i);
}

static bool plain(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr("._/:@+-,=", *s)))
      return false;
  return true;
}

static void put_value(FILE *f, json_t *v) {
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    if (plain(s))
      fputs(s, f);
    else
      put_escaped(f, (const unsigned char *)s, json_string_length(v), SIZE_MAX, true);
  } else {
    /* numbers, booleans, null, arrays, objects: compact JSON, ASCII only (strings in it stay escaped) */
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
    fputs(s ? s : "?", f);
    free(s);
  }
}

static void put_output(FILE *f, json_t *obj) {
  const char *stream = json_string_value(json_object_get(obj, "stream"));
  json_t *data = json_object_get(obj, "data");
  const char *enc = json_string_value(json_object_get(obj, "encoding"));
  fprintf(f, " %s: ", stream && plain(stream) ? stream : "?");
  if (enc && !strcmp(enc, "base64") && json_is_string(data)) {
    size_t n = json_string_length(data);
    unsigned char *raw = malloc(n / 4 * 3 + 3);
    int k = raw ? EVP_DecodeBlock(raw, (const unsigned char *)json_string_value(data), (int)n) : -1;
    if (k < 0) {
      fputs("(bad base64)", f);
    } else {
      /* EVP_DecodeBlock counts the padding as zero bytes */
      const char *s = json_string_value(data);
      while (n > 0 && s[n - 1] == '=' && k > 0) n--, k--;
      put_escaped(f, raw, (size_t)k, SHOW_DATA_MAX, false);
    }
    free(raw);
  } else if (json_is_string(data)) {
    put_escaped(f, (const unsigned char *)json_string_value(data), json_string_length(data), SHOW_DATA_MAX, true);
  } else {
    fputs("(no data)", f);
  }
}

static void put_record(FILE *f, const struct nc_audit_rec *r) {
  fprintf(f, "%s %6" PRIu64 " ", r->time, r->seq);
  if (!r->sandbox)
    fputc('-', f);
  else if (plain(r->sandbox))
    fputs(r->sandbox, f);
  else
    put_escaped(f, (const unsigned char *)r->sandbox, strlen(r->sandbox), 256, true);
  fprintf(f, " %s", r->event);
  bool output = !strcmp(r->event, "output");
  if (output) put_output(f, r->obj);
  const char *key;
  json_t *v;
  json_object_foreach(r->obj, key, v) {
    static const char *const skip[] = {"seq", "time", "sandbox", "event", "prev", "digest"};
    static const char *const skip_output[] = {"stream", "data", "encoding"};
    bool hide = false;
    for (size_t i = 0; i < NC_ARRAY_SIZE(skip); i++) hide |= !strcmp(key, skip[i]);
    for (size_t i = 0; output && i < NC_ARRAY_SIZE(skip_output); i++) hide |= !strcmp(key, skip_output[i]);
    if (hide) continue;
    fputc(' ', f);
    if (plain(key))
      fputs(key, f);
    else
      put_escaped(f, (const unsigned char *)key, strlen(key), 128, true);
    fputc('=', f);
    put_value(f, v);
  }
  fputc('\n', f);
}

static void show_line(const struct nc_audit_show_opts *o, FILE *out, uint64_t lineno, const char *text, size_t len) {
  struct nc_audit_rec r;
  nc_error e = {0};
  if (nc_audit_record_parse(text, len, &r, &e) < 0) {
    if (!o->json && !o->sandbox && !o->event) fprintf(out, "line %" PRIu64 ": not a record: %s\n", lineno, e.msg);
    return;
  }
  bool match =
      (!o->event || !strcmp(o->event, r.event)) && (!o->sandbox || (r.sandbox && !strcmp(o->sandbox, r.sandbox)));
  if (match && o->json) {
    fwrite(text, 1, len, out);
    fputc('\n', out);
  } else if (match) {
    put_record(out, &r);
  }
  nc_audit_rec_free(&r);
}

/* Wait for the file to grow: inotify when it works, else a short sleep. */
static void wait_more(int ino) {
  struct pollfd p = {.fd = ino, .events = POLLIN};
  if (ino >= 0 && poll(&p, 1, 1000) > 0) {
    char buf[4096];
    while (read(ino, buf, sizeof buf) > 0) {
    }
  } else if (ino < 0) {
    usleep(200 * 1000);
  }
}

int nc_audit_show(const char *path, const struct nc_audit_show_opts *o, FILE *out, nc_error *err) {
  static const struct nc_audit_show_opts none = {0};
  if (!o) o = &none;
  nc_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return nc_error_sys(err, errno, "opening audit log `%s`", path);
  nc_autoclose int ino = -1;
  if (o->follow) {
    ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ino >= 0 && inotify_add_watch(ino, path, IN_MODIFY) < 0) {
      close(ino);
      ino = -1;
    }
  }
  struct nc_linereader lr;
  if (nc_linereader_init(&lr, fd) < 0) return nc_error_set(err, ENOMEM, "reading audit log `%s`", path);
  int rc = 0;
  for (;;) {
    const char *text;
    size_t len;
    int n = nc_linereader_next(&lr, &text, &len);
    if (n == -E2BIG) {
      if (!o->json && !o->sandbox && !o->event)
        fprintf(out, "line %" PRIu64 ": not a record: longer than %u bytes\n", lr.lineno, NC_AUDIT_RECORD_MAX - 1);
      continue;
    }
    if (n < 0) {
      rc = nc_error_sys(err, -n, "reading audit log `%s`", path);
      break;
    }
    if (n > 0) {
      show_line(o, out, lr.lineno, text, len);
      continue;
    }
    if (!o->follow) {
      if (nc_linereader_pending(&lr) && !o->json && !o->sandbox && !o->event)
        fprintf(out, "line %" PRIu64 ": incomplete (interrupted write or a write in progress)\n", lr.lineno + 1);
      break;
    }
    fflush(out);
    if (ferror(out)) break; /* the reader went away (a closed pipe) */
    wait_more(ino);
  }
  nc_linereader_fini(&lr);
  return rc;
}
