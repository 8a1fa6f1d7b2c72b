// A deliberately tiny unit-test harness for the native core, so the C++ tests
// build from binding.gyp alone with no third-party framework to vendor or
// install. TEST(name) registers a function at static-initialisation time;
// CHECK / CHECK_EQ record a failure with file:line and let the test go on, so
// one run reports every broken expectation; REQUIRE stops the current test
// when continuing would dereference something that is not there.
// test_main.cc runs the registered tests and prints TAP version 13, which
// tests/native/core.test.ts turns into one tap assertion per test.
#pragma once
#include <concepts>
#include <ostream>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

namespace mcrtest {

using TestFn = void (*)();

// Adds a test to the global registry; returns nothing useful. Called from the
// static Registrar object that TEST() defines, before main() runs.
void register_test(const char* name, TestFn fn);

// Records one failed expectation against the test currently running.
void record_failure(const char* file, int line, const std::string& what);

struct Registrar {
  Registrar(const char* name, TestFn fn) { register_test(name, fn); }
};

// Renders a value for a failure message. Bytes print as numbers (a uint8_t
// field would otherwise print as a raw control character), enums as their
// underlying value unless the test file provides an operator<< for them
// (found by ADL at instantiation, e.g. mcr::DropReason prints its name).
template <typename T>
std::string describe(const T& value) {
  std::ostringstream os;
  if constexpr (std::is_same_v<T, bool>) {
    os << (value ? "true" : "false");
  } else if constexpr (std::is_integral_v<T> && sizeof(T) == 1) {
    os << static_cast<int>(value);
  } else if constexpr (requires(std::ostream& s, const T& v) { s << v; }) {
    os << value;
  } else if constexpr (std::is_enum_v<T>) {
    os << static_cast<long long>(static_cast<std::underlying_type_t<T>>(value));
  } else {
    os << "<unprintable>";
  }
  return os.str();
}

// Integer comparisons go through std::cmp_equal so that CHECK_EQ(size_t, int)
// compares values, not wrapped bit patterns, and does not trip -Wsign-compare.
template <typename A, typename B>
bool equal(const A& a, const B& b) {
  if constexpr (std::is_integral_v<A> && std::is_integral_v<B> && !std::is_same_v<A, bool> &&
                !std::is_same_v<B, bool>) {
    return std::cmp_equal(a, b);
  } else {
    return a == b;
  }
}

template <typename A, typename B>
bool check_eq(const A& a, const B& b, const char* a_text, const char* b_text, const char* file,
              int line) {
  if (equal(a, b)) return true;
  record_failure(file, line,
                 std::string("CHECK_EQ(") + a_text + ", " + b_text + "): " + describe(a) +
                     " != " + describe(b));
  return false;
}

}  // namespace mcrtest

// The function is static so the same test name in two files cannot collide at
// link time; the registrar's name carries __LINE__ for the same reason.
#define MCRTEST_CAT2(a, b) a##b
#define MCRTEST_CAT(a, b) MCRTEST_CAT2(a, b)
#define TEST(name)                                                                \
  static void mcrtest_##name();                                                   \
  static const ::mcrtest::Registrar MCRTEST_CAT(mcrtest_registrar_, __LINE__)(    \
      #name, &mcrtest_##name);                                                    \
  static void mcrtest_##name()

#define CHECK(expr)                                                               \
  do {                                                                            \
    if (!(expr)) ::mcrtest::record_failure(__FILE__, __LINE__, "CHECK(" #expr ")"); \
  } while (0)

#define CHECK_EQ(a, b) ((void)::mcrtest::check_eq((a), (b), #a, #b, __FILE__, __LINE__))

// Only usable directly in a test body (or another void function): on failure
// it records and returns, ending the test.
#define REQUIRE(expr)                                                             \
  do {                                                                            \
    if (!(expr)) {                                                                \
      ::mcrtest::record_failure(__FILE__, __LINE__, "REQUIRE(" #expr ")");         \
      return;                                                                     \
    }                                                                             \
  } while (0)
