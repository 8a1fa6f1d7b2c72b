// ingress_compare: receives frames on one interface for a fixed time with one
// of the two ingress methods the design allows (multishot recv into a
// provided-buffer ring, or a TPACKET_V3 ring woken by a multishot poll),
// parses each frame with the relay's own parser, and prints one JSON line
// with what it received and what it cost: thread CPU (CLOCK_THREAD_CPUTIME_ID),
// the busy time of the CPU it is pinned to (wall time minus cpuidle time, which
// catches the kernel's softirq receive work when RPS steers it there),
// io_uring_enter calls and the socket's kernel drop counters.
// Used by tools/bench/ingress-compare.sh; results in docs/ingress-comparison.md.
//
//   ingress_compare --interface IF --mode multishot|tpacket|idle --seconds S
//                   [--block-size B --block-count N --retire-ms T]
//                   [--buffers N --buffer-size B] [--wait-nr N --wait-us U]
//
// Mode idle opens no socket: it measures the CPU's baseline busy time under
// the same traffic. Prints "ingress_compare: ready" on stderr once the socket
// is receiving.
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "bench/ingress_bench.h"
#include "core/packet_socket.h"

namespace mcr::bench {
volatile sig_atomic_t g_stop = 0;
}  // namespace mcr::bench

namespace {

using mcr::bench::BenchOptions;
using mcr::bench::Tally;

constexpr const char* kTool = "ingress_compare";

[[noreturn]] void usage(const char* why) {
  if (why != nullptr) std::fprintf(stderr, "%s: %s\n", kTool, why);
  std::fprintf(stderr,
               "usage: %s --interface IF --mode multishot|tpacket|idle --seconds S\n"
               "          [--block-size B (1048576)] [--block-count N (64)] [--retire-ms T (1)]\n"
               "          [--frame-size F (2048)] [--buffers N (4096)] [--buffer-size B (2048)]\n"
               "          [--wait-nr N (1) --wait-us U (0)]\n",
               kTool);
  std::exit(2);
}

uint32_t parse_u32(const char* name, const char* text) {
  char* end = nullptr;
  errno = 0;
  const unsigned long v = std::strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v > UINT32_MAX) usage((std::string("bad ") + name).c_str());
  return static_cast<uint32_t>(v);
}

BenchOptions parse_args(int argc, char** argv) {
  BenchOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help") usage(nullptr);
    if (i + 1 >= argc) usage(("missing value for " + arg).c_str());
    const char* v = argv[++i];
    if (arg == "--interface") o.interface = v;
    else if (arg == "--mode") o.mode = v;
    else if (arg == "--seconds") {
      char* end = nullptr;
      o.seconds = std::strtod(v, &end);
      if (end == v || *end != '\0' || !(o.seconds > 0)) usage("bad --seconds");
    } else if (arg == "--block-size") o.block_size = parse_u32("--block-size", v);
    else if (arg == "--block-count") o.block_count = parse_u32("--block-count", v);
    else if (arg == "--frame-size") o.frame_size = parse_u32("--frame-size", v);
    else if (arg == "--retire-ms") o.retire_ms = parse_u32("--retire-ms", v);
    else if (arg == "--buffers") o.buffer_count = parse_u32("--buffers", v);
    else if (arg == "--buffer-size") o.buffer_size = parse_u32("--buffer-size", v);
    else if (arg == "--wait-nr") o.wait_nr = parse_u32("--wait-nr", v);
    else if (arg == "--wait-us") o.wait_us = parse_u32("--wait-us", v);
    else usage(("unknown option " + arg).c_str());
  }
  if (o.interface.empty()) usage("--interface is required");
  if (o.mode != "multishot" && o.mode != "tpacket" && o.mode != "idle")
    usage("--mode must be multishot, tpacket or idle");
  if (o.block_count == 0 || o.frame_size == 0 || o.block_size % static_cast<uint32_t>(getpagesize()) != 0 ||
      o.block_size % o.frame_size != 0)
    usage("--block-size must be a multiple of the page size and of --frame-size; --block-count > 0");
  return o;
}

void on_stop(int) { mcr::bench::g_stop = 1; }

double thread_cpu_sec() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Idle time of one CPU, to derive its busy time over a wall-clock window.
// The cpuidle residency counters (µs, per idle state) are exact; /proc/stat's
// user/system columns are only tick samples (HZ=250 here) and under-count a
// thread that wakes thousands of times a second for a few µs, so busy time is
// taken as wall time minus idle time. /proc/stat idle+iowait (precise on
// NO_HZ kernels, but in 10 ms units) is the fallback. Softirq ticks are kept
// as a rough indication of how much of the busy time was receive softirq.
struct CoreSample {
  bool valid = false;
  double idle_sec = 0;
  double softirq_sec = 0;
};

// The CPU this thread is pinned to, or -1 when it may run on several.
int pinned_cpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) != 1) return -1;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set)) return cpu;
  return -1;
}

bool cpuidle_sec(int cpu, double* out) {
  double sum = 0;
  bool any = false;
  for (int state = 0; state < 16; ++state) {
    std::ifstream in("/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/cpuidle/state" +
                     std::to_string(state) + "/time");
    uint64_t us = 0;
    if (!(in >> us)) break;
    sum += static_cast<double>(us) / 1e6;
    any = true;
  }
  *out = sum;
  return any;
}

CoreSample read_core(int cpu) {
  CoreSample out;
  if (cpu < 0) return out;
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream in("/proc/stat");
  const std::string want = "cpu" + std::to_string(cpu);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name;
    fields >> name;
    if (name != want) continue;
    uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
    fields >> user >> nice >> system >> idle >> iowait >> irq >> softirq;
    out.valid = true;
    out.softirq_sec = static_cast<double>(softirq) / hz;
    if (!cpuidle_sec(cpu, &out.idle_sec)) out.idle_sec = static_cast<double>(idle + iowait) / hz;
    return out;
  }
  return out;
}

struct ReadyState {
  double cpu0 = 0;
  int64_t wall0 = 0;
  CoreSample core0;
  int cpu = -1;
};

void on_ready(void* arg) {
  auto* s = static_cast<ReadyState*>(arg);
  s->core0 = read_core(s->cpu);
  s->wall0 = mcr::bench::monotonic_ns();
  s->cpu0 = thread_cpu_sec();
  std::fprintf(stderr, "%s: ready\n", kTool);
}

// Baseline: no packet socket at all, the same ring waiting out the same time,
// so the CPU's busy time is the kernel's receive path (veth, RPS, IP input
// dropping the unjoined group) that every method pays anyway.
int run_idle(const BenchOptions& opts, Tally* t, const char** failed, ReadyState* state) {
  mcr::bench::BenchRing ring;
  int rc = ring.init(1024);
  if (rc != 0) {
    *failed = "io_uring_queue_init_params";
    return rc;
  }
  rc = ring.run(opts.seconds, t, [](const io_uring_cqe*) {}, [](bool) {}, [&] { on_ready(state); });
  if (rc != 0) *failed = "io_uring_enter";
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  const BenchOptions opts = parse_args(argc, argv);
  struct sigaction sa{};
  sa.sa_handler = on_stop;  // no SA_RESTART: io_uring_enter must return EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  mcr::PacketSocketOptions sock;
  sock.interface = opts.interface;
  int fd = -1;
  const mcr::SysError e = opts.mode == "idle" ? mcr::SysError{} : mcr::open_packet_socket(sock, &fd);
  if (e.failed()) {
    std::fprintf(stderr, "%s: %s (%s): %s\n", kTool, e.syscall, e.detail.c_str(), std::strerror(e.err));
    return 1;
  }

  ReadyState state;
  state.cpu = pinned_cpu();
  Tally t;
  const char* failed = "";
  const int rc = opts.mode == "multishot" ? mcr::bench::run_multishot(opts, fd, &t, &failed, on_ready, &state)
                 : opts.mode == "tpacket"  ? mcr::bench::run_tpacket(opts, fd, &t, &failed, on_ready, &state)
                                           : run_idle(opts, &t, &failed, &state);
  const double cpu_sec = thread_cpu_sec() - state.cpu0;
  const double seconds = static_cast<double>(mcr::bench::monotonic_ns() - state.wall0) / 1e9;
  const CoreSample core1 = read_core(state.cpu);
  if (fd >= 0) ::close(fd);
  if (rc != 0) {
    std::fprintf(stderr, "%s: %s: %s\n", kTool, failed, std::strerror(-rc));
    return 1;
  }

  const double active =
      t.last_frame_ns > t.first_frame_ns ? static_cast<double>(t.last_frame_ns - t.first_frame_ns) / 1e9 : 0;
  const double per_frame = t.frames > 0 ? 1e9 / static_cast<double>(t.frames) : 0;
  std::string core = "\"core\":null";
  if (state.core0.valid && core1.valid) {
    const double busy = std::max(0.0, seconds - (core1.idle_sec - state.core0.idle_sec));
    const double soft = core1.softirq_sec - state.core0.softirq_sec;
    char buf[200];
    std::snprintf(buf, sizeof(buf), "\"core\":%d,\"core_busy_sec\":%.3f,\"core_softirq_sec\":%.3f,\"core_ns_per_frame\":%.1f",
                  state.cpu, busy, soft, busy * per_frame);
    core = buf;
  }
  std::string reasons;
  for (size_t r = 1; r < mcr::kDropReasonCount; ++r) {
    if (t.drop_reasons[r] == 0) continue;
    if (!reasons.empty()) reasons += ",";
    reasons += "\"" + std::string(mcr::drop_reason_name(static_cast<mcr::DropReason>(r))) + "\":" +
               std::to_string(t.drop_reasons[r]);
  }
  std::string tpacket;
  if (opts.mode == "tpacket") {
    char buf[300];
    std::snprintf(buf, sizeof(buf),
                  ",\"block_size\":%u,\"block_count\":%u,\"retire_ms\":%u,\"blocks\":%" PRIu64
                  ",\"freeze_count\":%" PRIu64 ",\"ring_wait_us_avg\":%.1f,\"ring_wait_us_max\":%.1f",
                  opts.block_size, opts.block_count, opts.retire_ms, t.blocks, t.freeze_count,
                  t.frames > 0 ? t.ring_wait_us_sum / static_cast<double>(t.frames) : 0.0, t.ring_wait_us_max);
    tpacket = buf;
  } else {
    char buf[200];
    std::snprintf(buf, sizeof(buf), ",\"buffers\":%u,\"buffer_size\":%u,\"enobufs\":%" PRIu64, opts.buffer_count,
                  opts.buffer_size, t.enobufs);
    tpacket = buf;
  }
  std::printf(
      "{\"mode\":\"%s\",\"frames\":%" PRIu64 ",\"parsed_ok\":%" PRIu64 ",\"seconds\":%.3f,\"active_seconds\":%.3f"
      ",\"pps\":%.0f,\"cpu_sec\":%.4f,\"cpu_ns_per_frame\":%.1f,\"syscalls\":%" PRIu64 ",\"cqes\":%" PRIu64
      ",\"rearms\":%" PRIu64 ",\"kernel_packets\":%" PRIu64 ",\"kernel_drops\":%" PRIu64 ",\"truncated\":%" PRIu64
      ",\"payload_bytes\":%" PRIu64 ",\"wait_nr\":%u,\"wait_us\":%u,\"drop_reasons\":{%s},%s%s}\n",
      opts.mode.c_str(), t.frames, t.parsed_ok, seconds, active, active > 0 ? static_cast<double>(t.frames) / active : 0,
      cpu_sec, cpu_sec * per_frame, t.syscalls, t.cqes, t.rearms, t.kernel_packets, t.kernel_drops, t.truncated,
      t.payload_bytes, opts.wait_nr, opts.wait_us, reasons.c_str(), core.c_str(), tpacket.c_str());
  return 0;
}
