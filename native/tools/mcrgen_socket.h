// mcrgen's sending socket, IPv4 or IPv6 by --dest's family.
#pragma once

#include "tools/mcrgen_config.h"

namespace mcrgen {

// A non-blocking UDP socket with TTL / hop limits, IP_RECVERR, --interface
// and --source / --source-port applied. Exits 1 on any failure.
int open_socket(const Config& c);

}  // namespace mcrgen
