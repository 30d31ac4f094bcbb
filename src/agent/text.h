/* text.h — bytes from the sandbox or the model made safe for JSON (valid
 * UTF-8), and audit fields cut to fit the record bound. */
#ifndef NC_AGENT_TEXT_H
#define NC_AGENT_TEXT_H

#include <jansson.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one
 * (overlong forms, surrogates, past U+10FFFF, cut short, NUL). */
size_t nc_text_utf8_seq(const unsigned char *p, size_t n);
/* The largest m <= max such that s[0..m) does not end inside a sequence
 * (for valid UTF-8 input). */
size_t nc_text_utf8_cut(const char *s, size_t len, size_t max);
/* A JSON string of buf with every byte that is not part of valid UTF-8
 * (and NUL) replaced by U+FFFD. NULL on ENOMEM. */
json_t *nc_text_json(const char *buf, size_t len);
/* The same as a malloc'd C string; its length in *ret_len (may be NULL). */
char *nc_text_clean(const char *buf, size_t len, size_t *ret_len);

/* Prepare audit fields (stolen; returned, possibly replaced): every string
 * with secret in it gets "[REDACTED api key]" instead (secret may be NULL);
 * strings are cut (with "[... N bytes not recorded]") until the compact JSON
 * is at most budget bytes; as a last resort the fields become
 * {"not_recorded_bytes": N}. */
json_t *nc_text_audit_fit(json_t *fields, size_t budget, const char *secret);

#endif
