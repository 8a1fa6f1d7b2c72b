// mcrsink's report (mcrsink_report.h): the tally summed over streams and per
// stream, corruption by reason, sources, TTLs, and the latency percentiles
// in microseconds.
#include "tools/mcrsink_report.h"

#include <cstdio>
#include <string>

#include "tools/payload.h"
#include "tools/tool_json.h"

namespace mcrsink {

namespace {

// Microseconds with ns precision, or null.
std::string us_text(uint64_t ns, bool present) {
  if (!present) return "null";
  char text[40];
  std::snprintf(text, sizeof text, "%.3f", static_cast<double>(ns) / 1000.0);
  return text;
}

std::string latency_json(const Totals& t, bool enabled) {
  if (!enabled) return "null";
  const LatencyHistogram& h = t.latency;
  const bool any = h.count() > 0;
  char mean[40] = "null";
  if (any) std::snprintf(mean, sizeof mean, "%.3f", h.mean_ns() / 1000.0);
  return "{\"count\":" + std::to_string(h.count()) + ",\"untimed\":" + std::to_string(t.untimed) +
         ",\"noKernelTime\":" + std::to_string(t.no_kernel_time) + ",\"negative\":" + std::to_string(h.negative()) +
         ",\"overflow\":" + std::to_string(h.overflow()) + ",\"minUs\":" + us_text(h.min_ns(), any) +
         ",\"p50Us\":" + us_text(h.value_at_percentile(50), any) + ",\"p99Us\":" + us_text(h.value_at_percentile(99), any) +
         ",\"p999Us\":" + us_text(h.value_at_percentile(99.9), any) + ",\"maxUs\":" + us_text(h.max_ns(), any) +
         ",\"meanUs\":" + mean + "}";
}

}  // namespace

void print_json(const Totals& t, bool latency) {
  uint64_t unique = 0, lost = 0, duplicated = 0, reordered = 0;
  JsonMembers streams;
  for (const auto& [id, s] : t.streams) {
    unique += s.unique;
    lost += s.lost();
    duplicated += s.duplicated;
    reordered += s.reordered;
    char one[320];
    std::snprintf(one, sizeof one,
                  "{\"received\":%llu,\"unique\":%llu,\"lost\":%llu,\"duplicated\":%llu,"
                  "\"reordered\":%llu,\"maxSeq\":%llu}",
                  static_cast<unsigned long long>(s.received),
                  static_cast<unsigned long long>(s.unique),
                  static_cast<unsigned long long>(s.lost()),
                  static_cast<unsigned long long>(s.duplicated),
                  static_cast<unsigned long long>(s.reordered),
                  static_cast<unsigned long long>(s.max_seq));
    streams.add(std::to_string(id), one);
  }
  JsonMembers reasons;
  for (const PayloadCheck r : {PayloadCheck::too_short, PayloadCheck::bad_magic,
                               PayloadCheck::bad_checksum, PayloadCheck::bad_fill}) {
    reasons.add(payload_check_name(r), std::to_string(t.by_reason[static_cast<int>(r)]));
  }
  JsonMembers sources;
  for (const auto& [text, n] : t.sources) sources.add(text, std::to_string(n));
  JsonMembers ttls;
  for (const auto& [ttl, n] : t.ttls) ttls.add(std::to_string(ttl), std::to_string(n));
  const double secs = t.received > 0 ? static_cast<double>(t.last_ns - t.first_ns) / 1e9 : 0;
  const double pps = secs > 0 ? static_cast<double>(t.received) / secs : 0;
  const std::string min_size = t.received > 0 ? std::to_string(t.min_size) : "null";
  const std::string max_size = t.received > 0 ? std::to_string(t.max_size) : "null";
  std::printf(
      "{\"received\":%llu,\"unique\":%llu,\"lost\":%llu,\"duplicated\":%llu,\"reordered\":%llu,"
      "\"corrupted\":%llu,\"corruptedByReason\":{%s},\"bytes\":%llu,\"durationSec\":%.6f,"
      "\"pps\":%.1f,\"minSize\":%s,\"maxSize\":%s,\"streams\":{%s},\"sources\":{%s},\"ttls\":{%s},\"latency\":%s}\n",
      static_cast<unsigned long long>(t.received), static_cast<unsigned long long>(unique),
      static_cast<unsigned long long>(lost), static_cast<unsigned long long>(duplicated),
      static_cast<unsigned long long>(reordered), static_cast<unsigned long long>(t.corrupted),
      reasons.body().c_str(), static_cast<unsigned long long>(t.bytes), secs, pps, min_size.c_str(),
      max_size.c_str(), streams.body().c_str(), sources.body().c_str(), ttls.body().c_str(), latency_json(t, latency).c_str());
  std::fflush(stdout);
}

}  // namespace mcrsink
