/* flags.h — command-line flags of `nanoclaw run`: the same key table as the JSON profile. */
#ifndef NC_CONFIG_FLAGS_H
#define NC_CONFIG_FLAGS_H

#include "nanoclaw.h"

/* Parse run options from argv[start..argc): first load --config FILE (if
 * given, wherever it appears), then apply every other flag in order, so
 * flags override the file. Stops at "--" (skipped) or at the first
 * argument that is not an option. *ret_next = index of the command.
 * Unknown flags, missing values and bad values are errors naming the flag
 * and the value. "-h"/"--help" set *ret_help and return 0. */
int nc_profile_parse_args(nc_profile *p, int argc, char *const argv[], int start, int *ret_next,
                          int *ret_help, nc_error *err);

/* The option reference (one line per flag) generated from the key table,
 * for `nanoclaw run --help`. Static storage. */
const char *nc_profile_flags_help(void);

#endif
