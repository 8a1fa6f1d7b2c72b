// mcrsink's receiving socket, IPv4 or IPv6 by the family of --group / --bind.
#pragma once

#include "tools/mcrsink_config.h"

namespace mcrsink {

// A non-blocking UDP socket, bound and joined to --group, asking for each
// datagram's TTL (hop limit) and, with --latency, its kernel receive time.
// Exits 1 on any failure.
int open_socket(const Config& c);

}  // namespace mcrsink
