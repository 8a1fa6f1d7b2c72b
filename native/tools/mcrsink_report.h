// mcrsink's one JSON object on stdout (its fields are listed in mcrsink.cc).
#pragma once

#include "tools/mcrsink_tally.h"

namespace mcrsink {

// `latency`: --latency was given (else "latency" is null).
void print_json(const Totals& t, bool latency);

}  // namespace mcrsink
