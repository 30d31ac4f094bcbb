/* parse.h — strict parsers for sizes, durations, integers and CPU counts. */
#ifndef NC_CORE_PARSE_H
#define NC_CORE_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* "512m", "1g", "4096", "64k", "1.5g": bytes. Units b,k,m,g,t (binary,
 * case-insensitive, optional trailing "b"/"ib"). 0 on success, -EINVAL bad,
 * -ERANGE overflow. */
int nc_parse_size(const char *s, uint64_t *ret);
/* seconds with fractions ("60", "0.25", "1.5s", "500ms") -> milliseconds. */
int nc_parse_duration_ms(const char *s, uint64_t *ret);
/* decimal unsigned integer with bounds */
int nc_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
/* CPU count with up to 3 decimals ("0.5", "2") -> millicpus (500, 2000). */
int nc_parse_millicpus(const char *s, uint64_t *ret);
int nc_parse_bool(const char *s, bool *ret);

#endif
