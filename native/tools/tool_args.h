// Command-line handling shared by the traffic tools (mcrgen, mcrsink,
// mcrinject): `--name value` (or `--name=value`) options, `--help`, typed
// lookups with ranges, and the one-line error conventions.
//
// Scripts and tests drive these tools, so every failure is exactly one line on
// stderr prefixed with the tool name: bad arguments exit 2
// (`mcrgen: --rate: expected an integer 0..100000000, got "x"`), runtime
// errors exit 1 and name the errno (`mcrgen: EADDRNOTAVAIL: bind 10.0.0.9:
// Cannot assign requested address — check --source ...`).
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

struct ToolOption {
  const char* name;     // without the leading "--"
  const char* metavar;  // shown in --help, e.g. "ADDR"; nullptr: a flag, given without a value
  const char* help;     // one line
};

class ToolArgs {
 public:
  // Parses argv against `options`. `--help` prints usage to stdout and exits
  // 0; unknown options, positional words and missing values exit 2.
  ToolArgs(const char* tool, const char* summary, std::vector<ToolOption> options, int argc,
           char** argv);

  const char* tool() const { return tool_; }
  bool has(const char* name) const;

  // Each getter returns the default when the option is absent; the required_
  // variants exit 2 naming the option instead. Out-of-range or malformed
  // values always exit 2.
  std::string str(const char* name, const char* def) const;
  std::string required_str(const char* name) const;
  uint64_t uint(const char* name, uint64_t min, uint64_t max, uint64_t def) const;
  uint64_t required_uint(const char* name, uint64_t min, uint64_t max) const;
  double num(const char* name, double min, double max, double def) const;
  in_addr ipv4(const char* name, in_addr def) const;
  in_addr required_ipv4(const char* name) const;

  // Exits 2 unless at least one of the two options was given.
  void require_one_of(const char* a, const char* b) const;

  // Prints `tool: --name: message` and exits 2.
  [[noreturn]] void bad(const char* name, const std::string& message) const;

 private:
  const std::string* find(const char* name) const;
  [[noreturn]] void usage_error(const std::string& message) const;
  void print_help(const char* summary) const;

  const char* tool_;
  std::vector<ToolOption> options_;
  std::vector<std::pair<std::string, std::string>> values_;
};

// "EADDRNOTAVAIL" for EADDRNOTAVAIL; "E<number>" when glibc has no name.
std::string errno_name(int err);

// Prints `tool: ENAME: what: strerror[ — hint]` to stderr and exits 1.
// `err` is a positive errno value.
[[noreturn]] void tool_fail(const char* tool, int err, const std::string& what,
                            const char* hint = nullptr);

// Resolves an interface name to its index, or fails with ENODEV naming the
// option (`mcrgen: ENODEV: --interface eth9: No such device`).
unsigned tool_ifindex(const char* tool, const std::string& ifname);
