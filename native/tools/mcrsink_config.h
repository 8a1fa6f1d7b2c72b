// mcrsink's command line (mcrsink.cc describes the tool): the options,
// checked once here into a Config that the socket and receive loop trust.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>

namespace mcrsink {

constexpr const char* kTool = "mcrsink";

struct Config {
  uint16_t port = 0;
  bool has_group = false;
  in_addr group{};
  std::string ifname;
  in_addr bind_addr{};
  bool v6 = false;
  in6_addr group6{};
  in6_addr bind6{};
  uint64_t count = UINT64_MAX;
  bool has_duration = false;
  double duration = 0;
  bool has_idle = false;
  double idle = 0;
  bool latency = false;
};

// Exits 2 with one line naming the option on any bad or conflicting value.
Config parse_args(int argc, char** argv);

}  // namespace mcrsink
