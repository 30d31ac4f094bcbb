/* seccomp-prebuilt.c — the default filter as compiled at build time (see seccomp-gen.c). */
#include <linux/filter.h>

#include "seccomp-bpf.h"

extern const struct sock_filter nc_seccomp_prebuilt_insns[];
extern const unsigned short nc_seccomp_prebuilt_len;

const struct sock_filter nc_seccomp_prebuilt_insns[] = {NC_SECCOMP_PREBUILT_INSNS};
const unsigned short nc_seccomp_prebuilt_len = NC_SECCOMP_PREBUILT_LEN;
