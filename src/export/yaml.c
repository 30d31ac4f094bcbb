/* yaml.c — JSON values as block-style YAML for the Kubernetes export: every string double-quoted
 * (JSON escapes are valid YAML), so no value can be read as a boolean, a number or syntax. */
#include <string.h>

#include "export/yaml.h"

static bool plain_key(const char *k) {
  if (!*k) return false;
  for (const char *c = k; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("._/-", *c)))
      return false;
  return !(k[0] >= '0' && k[0] <= '9') && strcmp(k, "y") && strcmp(k, "n") && strcmp(k, "on") && strcmp(k, "off") &&
         strcmp(k, "yes") && strcmp(k, "no") && strcmp(k, "true") && strcmp(k, "false") && strcmp(k, "null");
}

static void scalar(struct nc_buf *b, json_t *v) {
  char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
  if (!s) {
    b->oom = true;
    return;
  }
  nc_buf_put(b, "%s", s);
  free(s);
}

static void key(struct nc_buf *b, const char *k) {
  if (plain_key(k)) {
    nc_buf_put(b, "%s:", k);
    return;
  }
  json_t *s = json_string(k);
  scalar(b, s);
  json_decref(s);
  nc_buf_put(b, ":");
}

static bool is_container(json_t *v) {
  return (json_is_object(v) && json_object_size(v)) || (json_is_array(v) && json_array_size(v));
}

static void node(struct nc_buf *b, json_t *v, int indent, bool inline_first);

/* The members of an object; the first one continues the current line when inline_first. */
static void members(struct nc_buf *b, json_t *o, int indent, bool inline_first) {
  const char *k;
  json_t *v;
  bool first = true;
  json_object_foreach(o, k, v) {
    if (!(first && inline_first)) nc_buf_put(b, "%*s", indent, "");
    first = false;
    key(b, k);
    if (is_container(v)) {
      nc_buf_put(b, "\n");
      node(b, v, indent + 2, false);
    } else {
      nc_buf_put(b, " ");
      node(b, v, 0, true);
      nc_buf_put(b, "\n");
    }
  }
}

static void node(struct nc_buf *b, json_t *v, int indent, bool inline_first) {
  if (json_is_object(v) && json_object_size(v)) {
    members(b, v, indent, inline_first);
  } else if (json_is_array(v) && json_array_size(v)) {
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
      nc_buf_put(b, "%*s- ", indent, "");
      if (json_is_object(e) && json_object_size(e)) {
        members(b, e, indent + 2, true);
      } else if (is_container(e)) {
        nc_buf_put(b, "\n");
        node(b, e, indent + 2, false);
      } else {
        node(b, e, 0, true);
        nc_buf_put(b, "\n");
      }
    }
  } else if (json_is_object(v)) {
    nc_buf_put(b, "{}");
  } else if (json_is_array(v)) {
    nc_buf_put(b, "[]");
  } else {
    scalar(b, v);
  }
}

void nc_yaml_document(struct nc_buf *b, json_t *doc) {
  nc_buf_put(b, "---\n");
  node(b, doc, 0, false);
}
