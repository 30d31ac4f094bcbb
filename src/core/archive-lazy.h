/* archive-lazy.h — libarchive, loaded with dlopen on first use (as libcurl
 * is: see curl-lazy.h). Linked, it brought ~14 shared libraries (xml2, lzma,
 * zstd, lz4, bz2, nettle, acl...) into every `nanoclaw run`, about 1.5 ms of
 * loading before anything happens; only unpacking image layers needs it.
 * Include this instead of <archive.h>; call nc_archive_load() before any
 * archive_* function. */
#ifndef NC_CORE_ARCHIVE_LAZY_H
#define NC_CORE_ARCHIVE_LAZY_H

#include <archive.h>
#include <archive_entry.h>
#include <stdbool.h>

#include "core/error.h"

#define NC_ARCHIVE_FUNCS(X)                                                                                          \
  X(archive_read_new) X(archive_read_free) X(archive_read_support_filter_gzip) X(archive_read_support_filter_zstd) \
  X(archive_read_support_format_raw) X(archive_read_support_format_tar) X(archive_read_open_fd)                   \
  X(archive_read_open) X(archive_read_next_header) X(archive_read_data) X(archive_read_data_block)                \
  X(archive_error_string) X(archive_set_error) X(archive_entry_filetype) X(archive_entry_hardlink)                \
  X(archive_entry_mtime) X(archive_entry_mtime_nsec) X(archive_entry_pathname) X(archive_entry_perm)              \
  X(archive_entry_size) X(archive_entry_size_is_set) X(archive_entry_symlink)

struct nc_archive_api {
#define NC_ARCHIVE_FIELD(f) __typeof__(f) *f;
  NC_ARCHIVE_FUNCS(NC_ARCHIVE_FIELD)
#undef NC_ARCHIVE_FIELD
};
extern struct nc_archive_api nc_archive_fns;

/* true once libarchive is loaded; false with err saying what is missing. */
bool nc_archive_load(nc_error *err);

#ifndef NC_ARCHIVE_LAZY_IMPL
#define archive_read_new nc_archive_fns.archive_read_new
#define archive_read_free nc_archive_fns.archive_read_free
#define archive_read_support_filter_gzip nc_archive_fns.archive_read_support_filter_gzip
#define archive_read_support_filter_zstd nc_archive_fns.archive_read_support_filter_zstd
#define archive_read_support_format_raw nc_archive_fns.archive_read_support_format_raw
#define archive_read_support_format_tar nc_archive_fns.archive_read_support_format_tar
#define archive_read_open_fd nc_archive_fns.archive_read_open_fd
#define archive_read_open nc_archive_fns.archive_read_open
#define archive_read_next_header nc_archive_fns.archive_read_next_header
#define archive_read_data nc_archive_fns.archive_read_data
#define archive_read_data_block nc_archive_fns.archive_read_data_block
#define archive_error_string nc_archive_fns.archive_error_string
#define archive_set_error nc_archive_fns.archive_set_error
#define archive_entry_filetype nc_archive_fns.archive_entry_filetype
#define archive_entry_hardlink nc_archive_fns.archive_entry_hardlink
#define archive_entry_mtime nc_archive_fns.archive_entry_mtime
#define archive_entry_mtime_nsec nc_archive_fns.archive_entry_mtime_nsec
#define archive_entry_pathname nc_archive_fns.archive_entry_pathname
#define archive_entry_perm nc_archive_fns.archive_entry_perm
#define archive_entry_size nc_archive_fns.archive_entry_size
#define archive_entry_size_is_set nc_archive_fns.archive_entry_size_is_set
#define archive_entry_symlink nc_archive_fns.archive_entry_symlink
#endif

#endif
