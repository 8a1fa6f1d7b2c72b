// mcrgen's one JSON object on stdout (its fields are listed in mcrgen.cc).
#pragma once

#include "tools/mcrgen_config.h"
#include "tools/mcrgen_sender.h"
#include "tools/stream_source.h"

namespace mcrgen {

// `source`: the stream source whose injected faults are reported, or null.
void print_json(const Config& c, const Stats& st, const StreamSource* source);

}  // namespace mcrgen
