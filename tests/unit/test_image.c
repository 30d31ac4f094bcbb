/* test_image.c — image references as Docker reads them, tar path cleaning,
 * and the unpacker on small hostile layers built in memory. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/util.h"
#include "image/image.h"

static void ref_ok(const char *in, const char *registry, const char *repo, const char *tag, const char *digest) {
  struct nc_image_ref r;
  nc_error err = {0};
  int rc = nc_image_ref_parse(in, &r, &err);
  if (rc != 0) fail_msg("%s: %s", in, err.msg);
  assert_string_equal(r.registry, registry);
  assert_string_equal(r.repo, repo);
  assert_string_equal(r.tag, tag);
  assert_string_equal(r.digest, digest);
}

static void ref_bad(const char *in, const char *why) {
  struct nc_image_ref r;
  nc_error err = {0};
  assert_true(nc_image_ref_parse(in, &r, &err) < 0);
  if (!strstr(err.msg, why)) fail_msg("%s: [%s] lacks [%s]", in, err.msg, why);
}

#define D "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_refs_docker_rules(void **state) {
  (void)state;
  ref_ok("python:3.11-slim", "docker.io", "library/python", "3.11-slim", "");
  ref_ok("python", "docker.io", "library/python", "latest", "");
  ref_ok("user/app", "docker.io", "user/app", "latest", "");
  ref_ok("docker.io/library/busybox:1", "docker.io", "library/busybox", "1", "");
  ref_ok("index.docker.io/x/y", "docker.io", "x/y", "latest", "");
  ref_ok("localhost:5000/x/y:tag", "localhost:5000", "x/y", "tag", "");
  ref_ok("localhost/x", "localhost", "x", "latest", "");
  ref_ok("127.0.0.1:5000/test/busybox:1", "127.0.0.1:5000", "test/busybox", "1", "");
  ref_ok("ghcr.io/org/team/tool:v1.2", "ghcr.io", "org/team/tool", "v1.2", "");
  ref_ok("[::1]:5000/a:b", "[::1]:5000", "a", "b", "");
  ref_ok("alpine@" D, "docker.io", "library/alpine", "", D);
  ref_ok("alpine:3@" D, "docker.io", "library/alpine", "3", D);
  ref_ok("a__b/c-d--e/f.g_h", "docker.io", "a__b/c-d--e/f.g_h", "latest", "");
  char out[600];
  struct nc_image_ref r;
  nc_error err;
  assert_int_equal(nc_image_ref_parse("python:3.11-slim", &r, &err), 0);
  nc_image_ref_format(&r, out, sizeof out);
  assert_string_equal(out, "docker.io/library/python:3.11-slim");
  assert_string_equal(nc_image_ref_api_host(&r), "registry-1.docker.io");
}

static void test_refs_refused(void **state) {
  (void)state;
  ref_bad("", "empty");
  ref_bad("Python", "lower-case");
  ref_bad("x/Y:1", "lower-case");
  ref_bad("x:bad tag", "not a valid tag");
  ref_bad("x:-lead", "not a valid tag");
  ref_bad("x@sha256:abc", "digest");
  ref_bad(
      "x@md5:"
      "0123456789abcdef0123456789abcdef",
      "digest");
  ref_bad("a..b", "repository component");
  ref_bad("a/../b", "repository component");
  ref_bad("x/", "trailing");
  ref_bad("host:99999/x", "registry");
  ref_bad("-x", "repository component");
}

static void test_loopback(void **state) {
  (void)state;
  assert_true(nc_image_host_is_loopback("localhost:5000"));
  assert_true(nc_image_host_is_loopback("127.0.0.1"));
  assert_true(nc_image_host_is_loopback("127.3.2.1:80"));
  assert_true(nc_image_host_is_loopback("[::1]:5000"));
  assert_false(nc_image_host_is_loopback("localhost.evil.com"));
  assert_false(nc_image_host_is_loopback("128.0.0.1"));
  assert_false(nc_image_host_is_loopback("127.0.0.1.nip.io"));
  assert_false(nc_image_host_is_loopback("[::2]"));
  assert_false(nc_image_host_is_loopback("registry-1.docker.io"));
}

static void clean(const char *in, int want, const char *out) {
  char buf[NC_IMAGE_PATH_MAX];
  int r = nc_image_clean_path(in, buf, sizeof buf);
  if (r != want) fail_msg("%s: got %d want %d", in, r, want);
  if (r == 0) assert_string_equal(buf, out);
}

static void test_clean_path(void **state) {
  (void)state;
  clean("a/b/c", 0, "a/b/c");
  clean("./a/b", 0, "a/b");
  clean("/etc/passwd", 0, "etc/passwd");
  clean("///a//b/./c/", 0, "a/b/c");
  clean("./", 1, "");
  clean("/", 1, "");
  clean(".", 1, "");
  clean("..", -EINVAL, "");
  clean("../x", -EINVAL, "");
  clean("a/../../x", -EINVAL, "");
  clean("a/..", -EINVAL, "");
  clean("a/..b/c..", 0, "a/..b/c..");
  clean(".wh..wh..opq", 0, ".wh..wh..opq");
  char longname[300];
  memset(longname, 'x', 299);
  longname[299] = '\0';
  clean(longname, -ENAMETOOLONG, "");
  char small[8];
  assert_int_equal(nc_image_clean_path("abcdefgh", small, sizeof small), -ENAMETOOLONG);
}

/* ---- the unpacker ---- */

struct ent {
  const char *name;
  mode_t type; /* AE_IF* */
  mode_t perm;
  const char *data; /* file content, or symlink/hardlink target */
  bool hardlink;
};

/* A tar (optionally gzip) of entries in a memfd, at offset 0. */
static int make_tar(const struct ent *v, size_t n, bool gz) {
  int fd = memfd_create("layer", MFD_CLOEXEC);
  assert_true(fd >= 0);
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gz) archive_write_add_filter_gzip(a);
  assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
  for (size_t i = 0; i < n; i++) {
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, v[i].name);
    archive_entry_set_perm(e, v[i].perm);
    archive_entry_set_mtime(e, 1700000000, 0);
    if (v[i].hardlink) {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_hardlink(e, v[i].data);
      archive_entry_set_size(e, 0);
    } else {
      archive_entry_set_filetype(e, v[i].type);
      if (v[i].type == AE_IFLNK) archive_entry_set_symlink(e, v[i].data);
      if (v[i].type == AE_IFCHR) archive_entry_set_rdev(e, makedev(1, 3));
      archive_entry_set_size(e, v[i].type == AE_IFREG && v[i].data ? (la_int64_t)strlen(v[i].data) : 0);
    }
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    if (!v[i].hardlink && v[i].type == AE_IFREG && v[i].data) archive_write_data(a, v[i].data, strlen(v[i].data));
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  lseek(fd, 0, SEEK_SET);
  return fd;
}

struct dirs {
  char root[64];
  int layer;
};

static int setup_dir(void **state) {
  struct dirs *d = calloc(1, sizeof *d);
  strcpy(d->root, "/tmp/nc-unit-image.XXXXXX");
  assert_non_null(mkdtemp(d->root));
  char p[128];
  snprintf(p, sizeof p, "%s/layer", d->root);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/outside", d->root);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/layer", d->root);
  d->layer = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  *state = d;
  return 0;
}

static int teardown_dir(void **state) {
  struct dirs *d = *state;
  close(d->layer);
  int fd = open("/tmp", O_RDONLY | O_DIRECTORY);
  nc_rm_rf_at(fd, d->root + 5);
  close(fd);
  free(d);
  return 0;
}

static int unpack(struct dirs *d, const struct ent *v, size_t n, bool gz, struct nc_unpack_stats *st, nc_error *err) {
  int fd = make_tar(v, n, gz);
  char diff[NC_DIGEST_LEN];
  int r = nc_unpack_layer(fd, d->layer, diff, st, err);
  close(fd);
  return r;
}

static void test_unpack_ordinary_layer(void **state) {
  struct dirs *d = *state;
  const struct ent v[] = {
      {"./", AE_IFDIR, 0755, NULL, false},
      {"bin/", AE_IFDIR, 0755, NULL, false},
      {"bin/tool", AE_IFREG, 04755, "#!/bin/sh\n", false},
      {"bin/alias", AE_IFREG, 0, "bin/tool", true},
      {"lib", AE_IFLNK, 0777, "/usr/lib", false},
      {"/abs/file", AE_IFREG, 0644, "abs", false},
      {"dev/null", AE_IFCHR, 0666, NULL, false},
      {"etc/.wh.gone", AE_IFREG, 0644, "", false},
      {"var/.wh..wh..opq", AE_IFREG, 0644, "", false},
  };
  struct nc_unpack_stats st;
  nc_error err = {0};
  int r = unpack(d, v, NC_ARRAY_SIZE(v), true, &st, &err);
  if (r < 0) fail_msg("%s", err.msg);
  struct stat s1, s2;
  assert_int_equal(fstatat(d->layer, "bin/tool", &s1, 0), 0);
  assert_int_equal(s1.st_mode & 07777, 0755); /* setuid stripped */
  assert_int_equal(fstatat(d->layer, "bin/alias", &s2, 0), 0);
  assert_int_equal(s1.st_ino, s2.st_ino);
  char buf[64];
  ssize_t n = readlinkat(d->layer, "lib", buf, sizeof buf);
  assert_int_equal(n, 8);
  assert_int_equal(fstatat(d->layer, "abs/file", &s1, 0), 0); /* inside the layer */
  assert_int_equal(fstatat(d->layer, "dev/null", &s1, AT_SYMLINK_NOFOLLOW), -1);
  assert_int_equal(fstatat(d->layer, "etc/gone", &s1, AT_SYMLINK_NOFOLLOW), 0);
  assert_true(S_ISCHR(s1.st_mode) && s1.st_rdev == makedev(0, 0)); /* an overlay whiteout */
  assert_int_equal(st.skipped_devices, 1);
  assert_int_equal(st.stripped_modes, 1);
  assert_int_equal(st.whiteouts, 1);
  assert_int_equal(st.opaques, 1);
}

static void refused(void **state, const struct ent *v, size_t n, const char *why) {
  struct dirs *d = *state;
  nc_error err = {0};
  struct nc_unpack_stats st;
  assert_true(unpack(d, v, n, false, &st, &err) < 0);
  if (!strstr(err.msg, why)) fail_msg("[%s] lacks [%s]", err.msg, why);
  char p[128];
  snprintf(p, sizeof p, "%s/outside", d->root);
  int o = open(p, O_RDONLY | O_DIRECTORY);
  struct stat st2;
  assert_int_equal(fstatat(o, "pwned", &st2, AT_SYMLINK_NOFOLLOW), -1); /* nothing written outside */
  close(o);
}

static void test_unpack_refuses_escapes(void **state) {
  struct dirs *d = *state;
  char out[128];
  snprintf(out, sizeof out, "%s/outside", d->root);
  const struct ent dotdot[] = {{"../outside/pwned", AE_IFREG, 0644, "x", false}};
  refused(state, dotdot, 1, "`..` component");
  const struct ent via_link[] = {{"out", AE_IFLNK, 0777, out, false}, {"out/pwned", AE_IFREG, 0644, "x", false}};
  refused(state, via_link, 2, "symlink");
  const struct ent via_rel[] = {{"up", AE_IFLNK, 0777, "../outside", false}, {"up/pwned", AE_IFREG, 0644, "x", false}};
  refused(state, via_rel, 2, "symlink");
  const struct ent hl_out[] = {{"pwned", AE_IFREG, 0, "/etc/passwd", true}};
  refused(state, hl_out, 1, "hardlink");
  const struct ent hl_link[] = {{"l", AE_IFLNK, 0777, "/etc", false}, {"pwned", AE_IFREG, 0, "l/passwd", true}};
  refused(state, hl_link, 2, "hardlink");
  const struct ent hl_sym[] = {{"s", AE_IFLNK, 0777, "/etc/passwd", false}, {"pwned", AE_IFREG, 0, "s", true}};
  refused(state, hl_sym, 2, "not a regular file");
  const struct ent wh[] = {{".wh...", AE_IFREG, 0644, "", false}};
  refused(state, wh, 1, "whiteout");
}

static void test_digest(void **state) {
  (void)state;
  char d[NC_DIGEST_LEN];
  nc_sha256_buf("", 0, d);
  assert_string_equal(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert_true(nc_digest_valid(d));
  assert_false(nc_digest_valid("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
  assert_false(nc_digest_valid("sha256:e3b0"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refs_docker_rules),
      cmocka_unit_test(test_refs_refused),
      cmocka_unit_test(test_loopback),
      cmocka_unit_test(test_clean_path),
      cmocka_unit_test(test_digest),
      cmocka_unit_test_setup_teardown(test_unpack_ordinary_layer, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_unpack_refuses_escapes, setup_dir, teardown_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
