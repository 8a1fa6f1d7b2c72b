// monitor_bench: what the stream monitor adds to the loop's per-datagram
// work. Runs pre-built frames through what FrameForwarder::on_frame does
// before the send (parse_frame, the rule lookup, the rule's packet and byte
// counters) with the rule's monitor off or on, and prints one JSON line per
// case with the thread CPU per datagram of each, measured alternately in the
// same run (median of --repeats). Under callgrind, --mode and --passes run
// one side only, so instruction counts per datagram come out exactly:
// (Ir(passes) - Ir(0 passes)) / (passes x frames). bench/stream-monitor.ts
// drives both and writes the table of docs/performance.md.
//
//   monitor_bench [--case rtp64|ts1316|rtpts1328|all] [--repeats N] [--passes N] [--mode both|off|on]
//
// 4096 frames per case, RTP numbers and TS counters continuous within them
// (one sequence restart per pass, when the frames start over).
#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "core/counters.h"
#include "core/frame_parser.h"
#include "core/rule_table.h"
#include "core/stream_monitor.h"
#include "tests/frame_builder.h"

namespace {

constexpr uint32_t kFrames = 4096;

struct Case {
  const char* name;
  uint8_t mode;
  bool rtp;
  uint32_t ts_packets;
  uint32_t payload;  // UDP payload bytes
};

const Case kCases[] = {
    {"rtp64", mcr::monitor_rtp, true, 0, 64},
    {"ts1316", mcr::monitor_mpegts, false, 7, 1316},
    {"rtpts1328", mcr::monitor_rtp | mcr::monitor_mpegts, true, 7, 1328},
};

std::vector<std::vector<uint8_t>> build_frames(const Case& c) {
  std::vector<std::vector<uint8_t>> frames;
  uint8_t cc[2] = {0, 0};
  for (uint32_t i = 0; i < kFrames; ++i) {
    std::vector<uint8_t> p(c.payload, 0xff);
    size_t at = 0;
    if (c.rtp) {
      p[0] = 0x80;
      p[1] = 33;
      p[2] = static_cast<uint8_t>(i >> 8);
      p[3] = static_cast<uint8_t>(i);
      const uint32_t ts = i * 1200;
      p[4] = static_cast<uint8_t>(ts >> 24);
      p[5] = static_cast<uint8_t>(ts >> 16);
      p[6] = static_cast<uint8_t>(ts >> 8);
      p[7] = static_cast<uint8_t>(ts);
      p[8] = 0x11;
      at = 12;
    }
    for (uint32_t k = 0; k < c.ts_packets; ++k) {
      uint8_t* t = p.data() + at + k * 188;
      const int which = k == c.ts_packets - 1 ? 1 : 0;
      t[0] = 0x47;
      t[1] = 0x01;
      t[2] = static_cast<uint8_t>(which);
      t[3] = static_cast<uint8_t>(0x10 | cc[which]);
      cc[which] = static_cast<uint8_t>((cc[which] + 1) & 0x0f);
    }
    mcrtest::FrameSpec spec;
    spec.payload = std::move(p);
    frames.push_back(mcrtest::build_frame(spec));
  }
  return frames;
}

uint64_t thread_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// One pass over the frames as on_frame handles them up to the send; returns
// the matched count so the work cannot be optimised away.
uint64_t pass(const std::vector<std::vector<uint8_t>>& frames, const mcr::RuleTable& table, mcr::CounterBlock& counters,
              uint64_t* arrival) {
  uint64_t matched = 0;
  for (const auto& f : frames) {
    mcr::Datagram d;
    if (mcr::parse_frame(f.data(), f.size(), &d) != mcr::DropReason::none) continue;
    const mcr::Rule* rule = table.match(d.dst_addr, d.dst_port, d.src_addr);
    if (rule == nullptr) continue;
    ++matched;
    mcr::CounterBlock::bump(counters.rule(rule->slot, mcr::RuleCounter::packets));
    mcr::CounterBlock::bump(counters.rule(rule->slot, mcr::RuleCounter::bytes), d.payload_len);
    if (rule->monitor) {
      mcr::RuleCounterSink sink(&counters, rule->slot);
      rule->monitor->on_datagram(d.payload, d.payload_len, *arrival += 1333333, sink);
    }
  }
  return matched;
}

struct Side {
  mcr::CounterBlock counters{1, 0};
  mcr::RuleTable table;
  Side(const Case& c, bool on) {
    auto rule = std::make_unique<mcr::Rule>();
    rule->id = 1;
    rule->slot = static_cast<uint32_t>(counters.claim_rule_slot());
    rule->dst_addr = htonl(mcrtest::ipv4(239, 10, 20, 30));
    rule->dst_port = 5004;
    if (on) rule->monitor = std::make_unique<mcr::StreamMonitor>(c.mode);
    table.add(rule);
  }
};

const char* arg(int argc, char** argv, const char* name, const char* def) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return def;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string which = arg(argc, argv, "--case", "all");
  const int repeats = std::atoi(arg(argc, argv, "--repeats", "9"));
  const int passes = std::atoi(arg(argc, argv, "--passes", "50"));
  const std::string mode = arg(argc, argv, "--mode", "both");
  if (repeats < 1 || passes < 0 || (mode != "both" && mode != "off" && mode != "on")) {
    std::fprintf(stderr, "monitor_bench: usage: [--case rtp64|ts1316|rtpts1328|all] [--repeats N>=1] [--passes N>=0] [--mode both|off|on]\n");
    return 2;
  }
  bool any = false;
  for (const Case& c : kCases) {
    if (which != "all" && which != c.name) continue;
    any = true;
    const auto frames = build_frames(c);
    Side off(c, false);
    Side on(c, true);
    uint64_t arrival = 1'700'000'000'000'000'000ull;
    uint64_t sink = 0;
    if (mode != "both") {
      Side& side = mode == "on" ? on : off;
      for (int p = 0; p < passes; ++p) sink += pass(frames, side.table, side.counters, &arrival);
      std::printf("{\"case\":\"%s\",\"mode\":\"%s\",\"datagrams\":%llu}\n", c.name, mode.c_str(),
                  static_cast<unsigned long long>(sink));
      continue;
    }
    std::vector<double> t_off, t_on;
    for (int r = 0; r < repeats; ++r) {
      for (int s = 0; s < 2; ++s) {
        // Alternate which side goes first, so drift of the host hits both.
        const bool monitor = (s == 0) == (r % 2 == 0);
        Side& side = monitor ? on : off;
        const uint64_t t0 = thread_ns();
        for (int p = 0; p < passes; ++p) sink += pass(frames, side.table, side.counters, &arrival);
        const double ns = static_cast<double>(thread_ns() - t0) / (static_cast<double>(passes) * kFrames);
        (monitor ? t_on : t_off).push_back(ns);
      }
    }
    std::sort(t_off.begin(), t_off.end());
    std::sort(t_on.begin(), t_on.end());
    const double off_ns = t_off[t_off.size() / 2];
    const double on_ns = t_on[t_on.size() / 2];
    const uint64_t lost = on.counters.rule(0, mcr::RuleCounter::rtp_lost).load();
    const uint64_t cc = on.counters.rule(0, mcr::RuleCounter::ts_cc_errors).load();
    std::printf("{\"case\":\"%s\",\"offNs\":%.2f,\"onNs\":%.2f,\"addedNs\":%.2f,\"repeats\":%d,\"passes\":%d,"
                "\"rtpLost\":%llu,\"tsCcErrors\":%llu,\"check\":%llu}\n",
                c.name, off_ns, on_ns, on_ns - off_ns, repeats, passes, static_cast<unsigned long long>(lost),
                static_cast<unsigned long long>(cc), static_cast<unsigned long long>(sink % 7));
  }
  if (!any) {
    std::fprintf(stderr, "monitor_bench: --case: expected rtp64, ts1316, rtpts1328 or all, got \"%s\"\n", which.c_str());
    return 2;
  }
  return 0;
}
