// mcrgen's report (mcrgen_report.h): counts, errors by errno name, the
// achieved rate over the run, and the faults --impair injected.
#include "tools/mcrgen_report.h"

#include <cstdio>
#include <string>

#include "tools/tool_args.h"
#include "tools/tool_json.h"

namespace mcrgen {

void print_json(const Config& c, const Stats& st, const StreamSource* source) {
  JsonMembers by_errno;
  for (const auto& [err, n] : st.by_errno) by_errno.add(errno_name(err), std::to_string(n));
  const double secs = static_cast<double>(st.end_ns - st.start_ns) / 1e9;
  const double pps = secs > 0 ? static_cast<double>(st.sent) / secs : 0;
  const std::string first = st.sent > 0 ? std::to_string(st.first_seq) : "null";
  const std::string last = st.sent > 0 ? std::to_string(st.last_seq) : "null";
  std::printf(
      "{\"sent\":%llu,\"retries\":%llu,\"errors\":%llu,\"errorsByErrno\":{%s},"
      "\"durationSec\":%.6f,\"pps\":%.1f,\"stream\":%u,\"size\":%zu,\"firstSeq\":%s,"
      "\"lastSeq\":%s,\"impaired\":{\"gap\":%llu,\"dup\":%llu,\"reorder\":%llu,\"cc\":%llu}}\n",
      static_cast<unsigned long long>(st.sent), static_cast<unsigned long long>(st.retries),
      static_cast<unsigned long long>(st.errors), by_errno.body().c_str(), secs, pps, c.stream, c.size,
      first.c_str(), last.c_str(), static_cast<unsigned long long>(source != nullptr ? source->gaps() : 0),
      static_cast<unsigned long long>(source != nullptr ? source->dups() : 0),
      static_cast<unsigned long long>(source != nullptr ? source->reorders() : 0),
      static_cast<unsigned long long>(source != nullptr ? source->cc_skips() : 0));
  std::fflush(stdout);
}

}  // namespace mcrgen
