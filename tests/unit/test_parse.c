/* test_parse.c — sizes, durations, CPU counts, bounded integers and booleans as a user writes them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/parse.h"

static uint64_t size_of(const char *s) {
  uint64_t v = 0xdeadbeef;
  assert_int_equal(nc_parse_size(s, &v), 0);
  return v;
}

static void sizes_accepted(void **state) {
  (void)state;
  assert_int_equal(size_of("512m"), 512ull << 20);
  assert_int_equal(size_of("512M"), 512ull << 20);
  assert_int_equal(size_of("512mb"), 512ull << 20);
  assert_int_equal(size_of("1g"), 1ull << 30);
  assert_int_equal(size_of("1GiB"), 1ull << 30);
  assert_int_equal(size_of("1.5g"), 3ull << 29);
  assert_int_equal(size_of("0.5k"), 512);
  assert_int_equal(size_of("64k"), 64ull << 10);
  assert_int_equal(size_of("2t"), 2ull << 40);
  assert_int_equal(size_of("4096"), 4096);
  assert_int_equal(size_of("4096b"), 4096);
  assert_int_equal(size_of("0"), 0);
}

static void sizes_refused(void **state) {
  (void)state;
  uint64_t v = 7;
  const char *bad[] = {"", "512q", "-1", "1.5", "m", " 512m", "512m ", "1.g", ".5g", "1kk", "1ib", "0x10",
                       "1,5g", "1e3", "+1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    print_message("size %s\n", bad[i]);
    assert_int_equal(nc_parse_size(bad[i], &v), -EINVAL);
  }
  assert_int_equal(nc_parse_size(NULL, &v), -EINVAL);
  assert_int_equal(v, 7); /* untouched on error */
}

static void sizes_overflow(void **state) {
  (void)state;
  uint64_t v;
  assert_int_equal(nc_parse_size("18446744073709551616", &v), -ERANGE);
  assert_int_equal(nc_parse_size("99999999999999999999999", &v), -ERANGE);
  assert_int_equal(nc_parse_size("16777216t", &v), -ERANGE); /* 2^64 */
  assert_int_equal(nc_parse_size("17179869184g", &v), -ERANGE);
  assert_int_equal(nc_parse_size("16777215t", &v), 0); /* just fits */
  assert_int_equal(v, 16777215ull << 40);
}

static uint64_t ms_of(const char *s) {
  uint64_t v = 0xdeadbeef;
  assert_int_equal(nc_parse_duration_ms(s, &v), 0);
  return v;
}

static void durations(void **state) {
  (void)state;
  assert_int_equal(ms_of("60"), 60000);
  assert_int_equal(ms_of("0"), 0);
  assert_int_equal(ms_of("0.25"), 250);
  assert_int_equal(ms_of("1.5s"), 1500);
  assert_int_equal(ms_of("500ms"), 500);
  assert_int_equal(ms_of("2m"), 120000);
  assert_int_equal(ms_of("2min"), 120000);
  assert_int_equal(ms_of("1h"), 3600000);
  assert_int_equal(ms_of("0.001"), 1);
  uint64_t v;
  const char *bad[] = {"", "-1", "1x", "s", "1 s", "1.", "1S", "ms", "1.5.5", "inf"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    print_message("duration %s\n", bad[i]);
    assert_int_equal(nc_parse_duration_ms(bad[i], &v), -EINVAL);
  }
  assert_int_equal(nc_parse_duration_ms(NULL, &v), -EINVAL);
  assert_int_equal(nc_parse_duration_ms("99999999999999999999", &v), -ERANGE);
  assert_int_equal(nc_parse_duration_ms("18446744073709552h", &v), -ERANGE);
}

static void millicpus(void **state) {
  (void)state;
  uint64_t v;
  assert_int_equal(nc_parse_millicpus("0.5", &v), 0);
  assert_int_equal(v, 500);
  assert_int_equal(nc_parse_millicpus("2", &v), 0);
  assert_int_equal(v, 2000);
  assert_int_equal(nc_parse_millicpus("0.001", &v), 0);
  assert_int_equal(v, 1);
  assert_int_equal(nc_parse_millicpus("1.250", &v), 0);
  assert_int_equal(v, 1250);
  assert_int_equal(nc_parse_millicpus("0", &v), 0); /* the profile refuses 0; the parser does not */
  assert_int_equal(v, 0);
  assert_int_equal(nc_parse_millicpus("1000000", &v), 0);
  assert_int_equal(v, 1000000000);
  assert_int_equal(nc_parse_millicpus("1000001", &v), -ERANGE);
  const char *bad[] = {"", "-1", "0.0005", "1.2345", "2x", ".5", "1.", "1e2", " 1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    print_message("cpus %s\n", bad[i]);
    assert_int_equal(nc_parse_millicpus(bad[i], &v), -EINVAL);
  }
  assert_int_equal(nc_parse_millicpus(NULL, &v), -EINVAL);
}

static void u64_bounds(void **state) {
  (void)state;
  uint64_t v = 0;
  assert_int_equal(nc_parse_u64("2", 2, 262144, &v), 0);
  assert_int_equal(v, 2);
  assert_int_equal(nc_parse_u64("262144", 2, 262144, &v), 0);
  assert_int_equal(v, 262144);
  assert_int_equal(nc_parse_u64("1", 2, 262144, &v), -ERANGE);
  assert_int_equal(nc_parse_u64("262145", 2, 262144, &v), -ERANGE);
  assert_int_equal(v, 262144); /* untouched on error */
  assert_int_equal(nc_parse_u64("0", 0, 10, &v), 0);
  assert_int_equal(v, 0);
  assert_int_equal(nc_parse_u64("007", 0, 10, &v), 0);
  assert_int_equal(v, 7);
  assert_int_equal(nc_parse_u64("4294967294", 0, 4294967294ull, &v), 0);
  assert_int_equal(nc_parse_u64("4294967295", 0, 4294967294ull, &v), -ERANGE);
  assert_int_equal(nc_parse_u64("99999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
  const char *bad[] = {"", "-1", "+1", " 1", "1 ", "1a", "0x10", "1.0", "1e3"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    print_message("u64 %s\n", bad[i]);
    assert_int_equal(nc_parse_u64(bad[i], 0, UINT64_MAX, &v), -EINVAL);
  }
  assert_int_equal(nc_parse_u64(NULL, 0, 1, &v), -EINVAL);
}

static void bools(void **state) {
  (void)state;
  bool b;
  const char *yes[] = {"true", "1", "yes"}, *no[] = {"false", "0", "no"};
  for (size_t i = 0; i < 3; i++) {
    b = false;
    assert_int_equal(nc_parse_bool(yes[i], &b), 0);
    assert_true(b);
    assert_int_equal(nc_parse_bool(no[i], &b), 0);
    assert_false(b);
  }
  const char *bad[] = {"", "2", "y", "on", "tru", "true ", "nope"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_int_equal(nc_parse_bool(bad[i], &b), -EINVAL);
  assert_int_equal(nc_parse_bool(NULL, &b), -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sizes_accepted), cmocka_unit_test(sizes_refused), cmocka_unit_test(sizes_overflow),
      cmocka_unit_test(durations),      cmocka_unit_test(millicpus),     cmocka_unit_test(u64_bounds),
      cmocka_unit_test(bools),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
