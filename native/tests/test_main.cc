// Runner for the native core unit tests: keeps the registry TEST() fills,
// runs each test (optionally only those whose name contains argv[1]) and
// prints TAP version 13 on stdout, one `ok` / `not ok` line per test with a
// `  # file:line: expression` line per failed expectation. Exits 1 when any
// test failed so CI and tests/native/core.test.ts both see it.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "tests/test_harness.h"

namespace mcrtest {
namespace {

struct TestCase {
  const char* name;
  TestFn fn;
};

// Function-local statics: registration runs during static initialisation of
// the other translation units, whose order relative to this one is unknown.
std::vector<TestCase>& registry() {
  static std::vector<TestCase> tests;
  return tests;
}

std::vector<std::string>& current_failures() {
  static std::vector<std::string> failures;
  return failures;
}

// Keeps TAP diagnostics on one line each: a consumer reads one line per
// diagnostic, and a stray newline in a message would end it early.
std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

}  // namespace

void register_test(const char* name, TestFn fn) { registry().push_back({name, fn}); }

void record_failure(const char* file, int line, const std::string& what) {
  current_failures().push_back(std::string(file) + ":" + std::to_string(line) + ": " + what);
}

}  // namespace mcrtest

int main(int argc, char** argv) {
  using mcrtest::registry;
  const char* filter = argc > 1 ? argv[1] : nullptr;

  std::vector<mcrtest::TestCase> selected;
  for (const auto& test : registry()) {
    if (filter == nullptr || std::strstr(test.name, filter) != nullptr) selected.push_back(test);
  }

  std::printf("TAP version 13\n1..%zu\n", selected.size());
  std::fflush(stdout);
  if (selected.empty()) {
    // A filter that matches nothing is almost always a typo; failing makes
    // that visible instead of reporting a green empty run.
    std::fprintf(stderr, "no test name contains \"%s\"\n", filter != nullptr ? filter : "");
    return 1;
  }

  size_t failed = 0;
  for (size_t i = 0; i < selected.size(); ++i) {
    auto& failures = mcrtest::current_failures();
    failures.clear();
    // The core itself does not throw, but the test code uses std containers;
    // an escaped exception must fail this test, not abort the whole run.
    try {
      selected[i].fn();
    } catch (const std::exception& e) {
      failures.push_back(std::string("unexpected exception: ") + e.what());
    } catch (...) {
      failures.push_back("unexpected non-standard exception");
    }
    const bool ok = failures.empty();
    if (!ok) ++failed;
    std::printf("%s %zu - %s\n", ok ? "ok" : "not ok", i + 1, selected[i].name);
    for (const auto& f : failures) std::printf("  # %s\n", mcrtest::one_line(f).c_str());
    // Flushed per test so the order stays right when interleaved with stderr
    // (valgrind reports, a crash) in a pipe.
    std::fflush(stdout);
  }
  if (failed != 0) std::printf("# %zu of %zu tests failed\n", failed, selected.size());
  return failed == 0 ? 0 : 1;
}
