// Implementation of the traffic tools' argv parser and error lines
// (contract in tool_args.h).
#include "tools/tool_args.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

ToolArgs::ToolArgs(const char* tool, const char* summary, std::vector<ToolOption> options,
                   int argc, char** argv)
    : tool_(tool), options_(std::move(options)) {
  for (int i = 1; i < argc; i++) {
    std::string word = argv[i];
    if (word == "--help" || word == "-h") {
      print_help(summary);
      std::exit(0);
    }
    if (word.size() < 3 || word.compare(0, 2, "--") != 0) {
      usage_error("unexpected argument \"" + word + "\" (see --help)");
    }
    std::string name = word.substr(2);
    std::string value;
    bool have_value = false;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      have_value = true;
    }
    bool known = false;
    bool flag = false;
    for (const auto& o : options_) {
      if (name != o.name) continue;
      known = true;
      flag = o.metavar == nullptr;
    }
    if (!known) usage_error("unknown option \"--" + name + "\" (see --help)");
    if (flag) {
      if (have_value) bad(name.c_str(), "takes no value");
      value = "1";
    } else if (!have_value) {
      if (i + 1 >= argc) bad(name.c_str(), "expected a value");
      value = argv[++i];
    }
    // Last occurrence wins, like most CLIs, so wrappers can append overrides.
    bool replaced = false;
    for (auto& [n, v] : values_) {
      if (n == name) {
        v = value;
        replaced = true;
      }
    }
    if (!replaced) values_.emplace_back(name, value);
  }
}

const std::string* ToolArgs::find(const char* name) const {
  for (const auto& [n, v] : values_) {
    if (n == name) return &v;
  }
  return nullptr;
}

bool ToolArgs::has(const char* name) const { return find(name) != nullptr; }

std::string ToolArgs::str(const char* name, const char* def) const {
  const std::string* v = find(name);
  return v != nullptr ? *v : std::string(def);
}

std::string ToolArgs::required_str(const char* name) const {
  const std::string* v = find(name);
  if (v == nullptr) bad(name, "required option missing (see --help)");
  if (v->empty()) bad(name, "expected a non-empty value");
  return *v;
}

uint64_t ToolArgs::uint(const char* name, uint64_t min, uint64_t max, uint64_t def) const {
  const std::string* v = find(name);
  if (v == nullptr) return def;
  // strtoull accepts "-1" (wrapping it) and leading blanks; allow digits only.
  bool digits = !v->empty() && v->size() <= 20;
  for (char c : *v) digits = digits && c >= '0' && c <= '9';
  errno = 0;
  const unsigned long long n = digits ? std::strtoull(v->c_str(), nullptr, 10) : 0;
  if (!digits || errno == ERANGE || n < min || n > max) {
    bad(name, "expected an integer " + std::to_string(min) + ".." + std::to_string(max) +
                  ", got \"" + *v + "\"");
  }
  return n;
}

uint64_t ToolArgs::required_uint(const char* name, uint64_t min, uint64_t max) const {
  if (!has(name)) bad(name, "required option missing (see --help)");
  return uint(name, min, max, 0);
}

double ToolArgs::num(const char* name, double min, double max, double def) const {
  const std::string* v = find(name);
  if (v == nullptr) return def;
  char* end = nullptr;
  errno = 0;
  const double d = v->empty() ? NAN : std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || errno == ERANGE || !std::isfinite(d) || d < min || d > max) {
    char range[96];
    std::snprintf(range, sizeof range, "%g..%g", min, max);
    bad(name, std::string("expected a number ") + range + ", got \"" + *v + "\"");
  }
  return d;
}

in_addr ToolArgs::ipv4(const char* name, in_addr def) const {
  const std::string* v = find(name);
  if (v == nullptr) return def;
  in_addr a{};
  // inet_pton, unlike inet_aton, rejects shorthand such as "10.1" and octal.
  if (inet_pton(AF_INET, v->c_str(), &a) != 1) {
    bad(name, "expected an IPv4 address, got \"" + *v + "\"");
  }
  return a;
}

in_addr ToolArgs::required_ipv4(const char* name) const {
  if (!has(name)) bad(name, "required option missing (see --help)");
  return ipv4(name, in_addr{});
}

void ToolArgs::require_one_of(const char* a, const char* b) const {
  if (!has(a) && !has(b)) {
    usage_error(std::string("one of --") + a + " or --" + b + " is required (see --help)");
  }
}

void ToolArgs::bad(const char* name, const std::string& message) const {
  usage_error(std::string("--") + name + ": " + message);
}

void ToolArgs::usage_error(const std::string& message) const {
  std::fprintf(stderr, "%s: %s\n", tool_, message.c_str());
  std::exit(2);
}

void ToolArgs::print_help(const char* summary) const {
  std::printf("usage: %s [options]\n%s\n\noptions:\n", tool_, summary);
  for (const auto& o : options_) {
    const std::string left = std::string("--") + o.name + (o.metavar != nullptr ? std::string(" ") + o.metavar : std::string());
    std::printf("  %-22s %s\n", left.c_str(), o.help);
  }
  std::printf("  %-22s %s\n", "--help", "show this help");
}

std::string errno_name(int err) {
  // strerrorname_np: glibc >= 2.32 (Debian 12 ships 2.36).
  if (const char* n = strerrorname_np(err)) return n;
  return "E" + std::to_string(err);
}

void tool_fail(const char* tool, int err, const std::string& what, const char* hint) {
  std::fprintf(stderr, "%s: %s: %s: %s%s%s\n", tool, errno_name(err).c_str(), what.c_str(),
               std::strerror(err), hint != nullptr ? " — " : "", hint != nullptr ? hint : "");
  std::exit(1);
}

unsigned tool_ifindex(const char* tool, const std::string& ifname) {
  const unsigned idx = if_nametoindex(ifname.c_str());
  if (idx == 0) {
    const int err = errno;
    tool_fail(tool, err, "--interface " + ifname, "see `ip -br link` for the names on this host");
  }
  return idx;
}
