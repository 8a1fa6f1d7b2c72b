// mcrsink: UDP receiver that checks mcrgen's payloads and counts what arrived.
//
// Binds --bind:--port (the group itself when --group is given, so only that
// group arrives), joins --group on --interface (IPv4 or IPv6: the family of
// --group, else of --bind; an IPv6 group is joined with IPV6_JOIN_GROUP and
// each datagram's hop limit is reported under "ttls"), then drains the socket with
// recvmmsg(2) in batches of 64 until --count packets, --duration seconds,
// --idle seconds of silence after the first packet, or SIGINT / SIGTERM.
// Once bound and joined it writes {"event":"ready"} to stderr, so a test
// starts the generator on that line instead of sleeping.
//
// Per stream it keeps a bitmap of seen seqs (grown on demand, at most 2^28
// seqs = 32 MiB per stream; seqs beyond that are counted as unique without
// duplicate detection) to count unique, duplicated (seen before) and
// reordered (below the highest seq so far, first time seen) packets. Payloads
// failing payload_verify count as corrupted, by reason, and nowhere else.
// lost = sum over streams of (maxSeq + 1 - unique): streams start at seq 0.
//
// --latency turns on SO_TIMESTAMPNS (socket(7)): the kernel stamps each
// datagram with CLOCK_REALTIME as the device hands it to the receive stack
// (netif_rx / netif_receive_skb; with net.core.netdev_tstamp_prequeue at
// its default 1, before RPS and the backlog queue, so neither the receiving
// core's backlog nor this process's scheduling is counted), and every verified timestamped payload (mcrgen --timestamp)
// adds receive time minus its send time to a latency histogram
// (latency_histogram.h: 1 µs buckets to 1 ms, 0.2 % above; fixed memory).
// Duplicates count too: each is a datagram that crossed the path.
//
// Output: exactly one JSON object on stdout:
//   {"received","unique","lost","duplicated","reordered","corrupted",
//    "corruptedByReason":{...},"bytes","durationSec","pps","minSize","maxSize",
//    "streams":{"<id>":{"received","unique","lost","duplicated","reordered","maxSeq"}},
//    "sources":{"<source address>":<datagrams>},"ttls":{"<IP TTL>":<datagrams>},
//    "latency":null | {"count","untimed","noKernelTime","negative","overflow",
//                      "minUs","p50Us","p99Us","p999Us","maxUs","meanUs"}}
// latency is null without --latency; count = datagrams measured, untimed =
// verified payloads without a send time (plain format), noKernelTime =
// timestamped ones the kernel gave no receive time, negative = receive
// before send (only a clock step does that), overflow = beyond 2^30 µs.
// Percentiles are in microseconds, the upper edge of their histogram bucket
// clamped to the exact min and max; all null when count is 0.
// durationSec and pps cover first to last packet; minSize / maxSize are null
// when nothing arrived. Exit status 0 whatever arrived; the JSON is the verdict.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "tools/latency_histogram.h"
#include "tools/payload.h"
#include "tools/tool_args.h"

namespace {

constexpr const char* kTool = "mcrsink";
constexpr size_t kBatch = 64;
// Largest IPv4 UDP payload, so no datagram is ever truncated.
constexpr size_t kBufLen = 65536;
constexpr uint64_t kMaxTrackedSeq = 1ull << 28;

volatile sig_atomic_t g_stop = 0;
void on_stop_signal(int) { g_stop = 1; }

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

struct StreamStats {
  std::vector<uint64_t> seen;  // bit per seq below kMaxTrackedSeq
  uint64_t received = 0;
  uint64_t unique = 0;
  uint64_t duplicated = 0;
  uint64_t reordered = 0;
  uint64_t max_seq = 0;
  bool any = false;

  void record(uint64_t seq) {
    received++;
    bool dup = false;
    if (seq < kMaxTrackedSeq) {
      const size_t word = static_cast<size_t>(seq >> 6);
      if (word >= seen.size()) {
        // Double (at least) so growth costs amortised O(1) per packet.
        seen.resize(std::max<size_t>({word + 1, seen.size() * 2, 1024}), 0);
      }
      const uint64_t bit = 1ull << (seq & 63);
      dup = (seen[word] & bit) != 0;
      seen[word] |= bit;
    }
    if (dup) {
      duplicated++;
      return;
    }
    unique++;
    if (any && seq < max_seq) reordered++;
    if (!any || seq > max_seq) max_seq = seq;
    any = true;
  }
  uint64_t lost() const { return any ? max_seq + 1 - std::min(unique, max_seq + 1) : 0; }
};

struct Totals {
  uint64_t received = 0;
  uint64_t bytes = 0;
  uint64_t min_size = UINT64_MAX;
  uint64_t max_size = 0;
  uint64_t corrupted = 0;
  uint64_t by_reason[5] = {};  // indexed by PayloadCheck
  uint64_t first_ns = 0;
  uint64_t last_ns = 0;
  std::map<uint32_t, StreamStats> streams;
  // Datagrams per source address (network byte order key): shows which
  // address a relay sent from, e.g. before and after an address change.
  std::map<std::string, uint64_t> sources;
  // Datagrams per IP TTL as received (IP_RECVTTL): shows the TTL a relay
  // output set, e.g. before and after a reload that changed it.
  std::map<int, uint64_t> ttls;
  // --latency: receive minus send time of each timestamped payload.
  LatencyHistogram latency;
  uint64_t untimed = 0;
  uint64_t no_kernel_time = 0;
};

Config parse_args(int argc, char** argv) {
  const ToolArgs args(
      kTool, "Receive mcrgen's UDP test packets; count loss, duplicates, reordering, corruption.",
      {
          {"port", "PORT", "UDP port to receive on (required)"},
          {"group", "ADDR", "join this multicast group, IPv4 or IPv6 (and bind to it unless --bind)"},
          {"interface", "IF", "interface to join --group on (default: chosen by route)"},
          {"bind", "ADDR", "local address to bind, IPv4 or IPv6 (default 0.0.0.0 / ::, or --group)"},
          {"count", "N", "stop after N packets"},
          {"duration", "SEC", "stop after SEC seconds"},
          {"idle", "SEC", "stop after SEC seconds without packets, once one arrived"},
          {"latency", nullptr, "report one-way latency of mcrgen --timestamp payloads from the kernel's receive time (SO_TIMESTAMPNS)"},
      },
      argc, argv);
  Config c;
  c.port = static_cast<uint16_t>(args.required_uint("port", 1, 65535));
  c.has_group = args.has("group");
  // An address with a colon is IPv6: --group or --bind decide the family.
  const std::string group_text = args.str("group", "");
  const std::string bind_text = args.str("bind", "");
  c.v6 = group_text.find(':') != std::string::npos || (group_text.empty() && bind_text.find(':') != std::string::npos);
  if (c.v6) {
    if (c.has_group && (inet_pton(AF_INET6, group_text.c_str(), &c.group6) != 1 || c.group6.s6_addr[0] != 0xff)) {
      args.bad("group", "expected a multicast address 224.0.0.0/4 or ff00::/8, got \"" + group_text + "\"");
    }
    c.bind6 = c.has_group ? c.group6 : in6addr_any;
    if (!bind_text.empty() && inet_pton(AF_INET6, bind_text.c_str(), &c.bind6) != 1) {
      args.bad("bind", "expected an IPv6 address (the family of --group), got \"" + bind_text + "\"");
    }
  }
  c.group = c.v6 ? in_addr{} : args.ipv4("group", in_addr{});
  if (!c.v6 && c.has_group && !IN_MULTICAST(ntohl(c.group.s_addr))) {
    args.bad("group", "expected a multicast address 224.0.0.0/4, got \"" + args.str("group", "") +
                          "\"");
  }
  c.ifname = args.str("interface", "");
  // The interface only chooses where to join; without a group it would
  // silently do nothing, which reads like a bug in a test script.
  if (!c.ifname.empty() && !c.has_group) args.bad("interface", "only used with --group");
  in_addr any{};
  any.s_addr = htonl(INADDR_ANY);
  c.bind_addr = c.v6 ? any : args.ipv4("bind", c.has_group ? c.group : any);
  args.require_one_of("count", "duration");
  c.count = args.uint("count", 1, UINT64_MAX / 2, UINT64_MAX);
  c.has_duration = args.has("duration");
  c.duration = args.num("duration", 0, 1e7, 0);
  c.has_idle = args.has("idle");
  c.idle = args.num("idle", 0, 1e7, 0);
  c.latency = args.has("latency");
  return c;
}

std::string ip_text(in_addr a) {
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, text, sizeof text);
  return text;
}

std::string ip6_text(const in6_addr& a) {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &a, text, sizeof text);
  return text;
}

// The IPv6 half of open_socket: hop limits as IPV6_HOPLIMIT control
// messages, bound to the group (scoped to --interface, which a link-local
// group needs), joined with IPV6_JOIN_GROUP.
void setup_ipv6(int fd, const Config& c) {
  const int on = 1;
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) < 0) tool_fail(kTool, errno, "setsockopt(IPV6_RECVHOPLIMIT)");
  const unsigned ifindex = c.ifname.empty() ? 0 : tool_ifindex(kTool, c.ifname);
  if (c.has_group) {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    const int zero = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &zero, sizeof zero);
  }
  sockaddr_in6 local{};
  local.sin6_family = AF_INET6;
  local.sin6_addr = c.bind6;
  local.sin6_port = htons(c.port);
  local.sin6_scope_id = ifindex;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) < 0) {
    const int err = errno;
    tool_fail(kTool, err, "bind [" + ip6_text(c.bind6) + "]:" + std::to_string(c.port),
              err == EADDRINUSE     ? "another socket already holds this port"
              : err == EADDRNOTAVAIL ? "check --bind is an address of this host (and not tentative)"
                                     : nullptr);
  }
  if (c.has_group) {
    ipv6_mreq mreq{};
    mreq.ipv6mr_multiaddr = c.group6;
    mreq.ipv6mr_interface = ifindex;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof mreq) < 0) {
      const int err = errno;
      tool_fail(kTool, err, "IPV6_JOIN_GROUP " + ip6_text(c.group6), err == ENODEV && c.ifname.empty() ? "no multicast route; pass --interface" : nullptr);
    }
  }
}

int open_socket(const Config& c) {
  const int fd = socket(c.v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) tool_fail(kTool, errno, c.v6 ? "socket(AF_INET6, SOCK_DGRAM)" : "socket(AF_INET, SOCK_DGRAM)");
  // A deep queue absorbs the generator's batches while this process is off
  // the CPU. SO_RCVBUFFORCE needs CAP_NET_ADMIN; SO_RCVBUF is capped by
  // net.core.rmem_max.
  const int rcvbuf = 32 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  // Each datagram's TTL arrives as an IP_TTL control message (ip(7)).
  const int recv_ttl = 1;
  if (!c.v6 && setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &recv_ttl, sizeof recv_ttl) < 0) tool_fail(kTool, errno, "setsockopt(IP_RECVTTL)");
  // Each datagram's kernel receive time (CLOCK_REALTIME) as an
  // SCM_TIMESTAMPNS control message. Only with --latency: it turns receive
  // timestamping on for every packet the host receives (net_enable_timestamp).
  const int timestamps = 1;
  if (c.latency && setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &timestamps, sizeof timestamps) < 0) {
    tool_fail(kTool, errno, "setsockopt(SO_TIMESTAMPNS)");
  }
  if (c.v6) {
    setup_ipv6(fd, c);
    return fd;
  }
  if (c.has_group) {
    // Several sinks may listen to one group and port on the same host.
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // Without this, a socket bound to 0.0.0.0 also gets every group any other
    // socket on the host joined (IP_MULTICAST_ALL defaults to 1, ip(7)).
    const int zero = 0;
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
  }
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr = c.bind_addr;
  local.sin_port = htons(c.port);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) < 0) {
    const int err = errno;
    tool_fail(kTool, err, "bind " + ip_text(c.bind_addr) + ":" + std::to_string(c.port),
              err == EADDRINUSE     ? "another socket already holds this port"
              : err == EADDRNOTAVAIL ? "check --bind is an address of this host"
                                     : nullptr);
  }
  if (c.has_group) {
    ip_mreqn mreq{};
    mreq.imr_multiaddr = c.group;
    mreq.imr_ifindex = c.ifname.empty() ? 0 : static_cast<int>(tool_ifindex(kTool, c.ifname));
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0) {
      const int err = errno;
      tool_fail(kTool, err, "IP_ADD_MEMBERSHIP " + ip_text(c.group),
                err == ENODEV && c.ifname.empty()
                    ? "no multicast route; pass --interface"
                    : nullptr);
    }
  }
  return fd;
}

uint64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// What the control messages of one datagram carried.
struct Received {
  int ttl = -1;          // IP_TTL, -1 when absent
  uint64_t kernel_ns = 0;  // SCM_TIMESTAMPNS as ns since the epoch, 0 when absent
};

Received read_control(const msghdr& h) {
  Received r;
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
    if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) || (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
      std::memcpy(&r.ttl, CMSG_DATA(c), sizeof r.ttl);
    } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec ts;
      std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
      r.kernel_ns = static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
    }
  }
  return r;
}

void account(Totals& t, const uint8_t* buf, size_t len, const sockaddr_storage& from, const Received& rx, bool latency) {
  t.received++;
  char text[INET6_ADDRSTRLEN] = {0};
  if (from.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(from).sin6_addr, text, sizeof text);
  } else {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(from).sin_addr, text, sizeof text);
  }
  t.sources[text]++;
  if (rx.ttl >= 0) t.ttls[rx.ttl]++;
  t.bytes += len;
  t.min_size = std::min<uint64_t>(t.min_size, len);
  t.max_size = std::max<uint64_t>(t.max_size, len);
  uint32_t stream = 0;
  uint64_t seq = 0;
  uint64_t send_ns = 0;
  const PayloadCheck r = payload_verify_timed(buf, len, &stream, &seq, &send_ns);
  if (r != PayloadCheck::ok) {
    t.corrupted++;
    t.by_reason[static_cast<int>(r)]++;
    return;
  }
  if (latency) {
    if (send_ns == 0) {
      t.untimed++;
    } else if (rx.kernel_ns == 0) {
      t.no_kernel_time++;
    } else {
      t.latency.record(static_cast<int64_t>(rx.kernel_ns - send_ns));
    }
  }
  t.streams[stream].record(seq);
}

void run(int fd, const Config& c, Totals& t, const sigset_t& wait_mask) {
  std::vector<uint8_t> bufs(kBatch * kBufLen);
  std::vector<iovec> iov(kBatch);
  std::vector<mmsghdr> msgs(kBatch);
  std::vector<sockaddr_storage> from(kBatch);
  constexpr size_t kControlLen = CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(timespec));
  std::vector<uint8_t> control(kBatch * kControlLen);
  for (size_t i = 0; i < kBatch; i++) {
    iov[i] = {bufs.data() + i * kBufLen, kBufLen};
    msgs[i].msg_hdr = {};
    msgs[i].msg_hdr.msg_name = &from[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  const uint64_t start_ns = mono_ns();
  const uint64_t end_ns =
      c.has_duration ? start_ns + static_cast<uint64_t>(c.duration * 1e9) : UINT64_MAX;
  const uint64_t idle_ns = c.has_idle ? static_cast<uint64_t>(c.idle * 1e9) : UINT64_MAX;
  uint64_t full_batches = 0;

  while (!g_stop && t.received < c.count) {
    // Never take more than --count asks for, so the total is exact.
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kBatch, c.count - t.received));
    // msg_namelen is in/out: reset it before every call.
    for (size_t i = 0; i < want; i++) {
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      msgs[i].msg_hdr.msg_control = control.data() + i * kControlLen;
      msgs[i].msg_hdr.msg_controllen = kControlLen;
    }
    const int n = recvmmsg(fd, msgs.data(), static_cast<unsigned>(want), MSG_DONTWAIT, nullptr);
    const int err = n < 0 ? errno : 0;
    const uint64_t now = mono_ns();
    if (n > 0) {
      if (t.received == 0) t.first_ns = now;
      t.last_ns = now;
      for (int i = 0; i < n; i++) {
        // Room for both control messages is reserved, so truncation is a bug here.
        if ((msgs[i].msg_hdr.msg_flags & MSG_CTRUNC) != 0) tool_fail(kTool, EMSGSIZE, "recvmmsg: control messages truncated (MSG_CTRUNC)");
        account(t, bufs.data() + i * kBufLen, msgs[i].msg_len, from[i], read_control(msgs[i].msg_hdr), c.latency);
      }
      if (now >= end_ns) break;  // a flood must not outlast --duration
      // While full batches keep coming, read on; every 256th batch still
      // passes through ppoll below (it returns at once when data is queued)
      // because that is the only place the blocked stop signals get in.
      if (static_cast<size_t>(n) == want && ++full_batches % 256 != 0) continue;
    }
    if (err != 0 && err != EAGAIN && err != EINTR) tool_fail(kTool, err, "recvmmsg");
    if (t.received >= c.count) break;

    uint64_t deadline = end_ns;
    if (t.received > 0 && idle_ns != UINT64_MAX) deadline = std::min(deadline, t.last_ns + idle_ns);
    if (now >= deadline) break;
    // ppoll with the stop signals unblocked only while waiting: a signal that
    // arrives between the g_stop check and the wait is delivered inside ppoll
    // and ends it, instead of being noticed only after the timeout.
    timespec ts{};
    timespec* timeout = nullptr;
    if (deadline != UINT64_MAX) {
      const uint64_t left = deadline - now;
      ts = {static_cast<time_t>(left / 1000000000ull), static_cast<long>(left % 1000000000ull)};
      timeout = &ts;
    }
    pollfd p{fd, POLLIN, 0};
    if (ppoll(&p, 1, timeout, &wait_mask) < 0 && errno != EINTR) tool_fail(kTool, errno, "ppoll");
  }
}

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

void print_json(const Totals& t, bool latency) {
  uint64_t unique = 0, lost = 0, duplicated = 0, reordered = 0;
  std::string streams;
  for (const auto& [id, s] : t.streams) {
    unique += s.unique;
    lost += s.lost();
    duplicated += s.duplicated;
    reordered += s.reordered;
    if (!streams.empty()) streams += ',';
    char one[320];
    std::snprintf(one, sizeof one,
                  "\"%u\":{\"received\":%llu,\"unique\":%llu,\"lost\":%llu,\"duplicated\":%llu,"
                  "\"reordered\":%llu,\"maxSeq\":%llu}",
                  id, static_cast<unsigned long long>(s.received),
                  static_cast<unsigned long long>(s.unique),
                  static_cast<unsigned long long>(s.lost()),
                  static_cast<unsigned long long>(s.duplicated),
                  static_cast<unsigned long long>(s.reordered),
                  static_cast<unsigned long long>(s.max_seq));
    streams += one;
  }
  std::string reasons;
  for (const PayloadCheck r : {PayloadCheck::too_short, PayloadCheck::bad_magic,
                               PayloadCheck::bad_checksum, PayloadCheck::bad_fill}) {
    if (!reasons.empty()) reasons += ',';
    reasons += std::string("\"") + payload_check_name(r) +
               "\":" + std::to_string(t.by_reason[static_cast<int>(r)]);
  }
  std::string sources;
  for (const auto& [text, n] : t.sources) {
    if (!sources.empty()) sources += ',';
    sources += std::string("\"") + text + "\":" + std::to_string(n);
  }
  std::string ttls;
  for (const auto& [ttl, n] : t.ttls) {
    if (!ttls.empty()) ttls += ',';
    ttls += "\"" + std::to_string(ttl) + "\":" + std::to_string(n);
  }
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
      reasons.c_str(), static_cast<unsigned long long>(t.bytes), secs, pps, min_size.c_str(),
      max_size.c_str(), streams.c_str(), sources.c_str(), ttls.c_str(), latency_json(t, latency).c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Config c = parse_args(argc, argv);

  struct sigaction sa{};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // Stop signals stay blocked except inside ppoll (see run()).
  sigset_t stop_set, wait_mask;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGINT);
  sigaddset(&stop_set, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop_set, &wait_mask);
  sigdelset(&wait_mask, SIGINT);
  sigdelset(&wait_mask, SIGTERM);

  const int fd = open_socket(c);
  std::fputs("{\"event\":\"ready\"}\n", stderr);
  std::fflush(stderr);

  Totals t;
  run(fd, c, t, wait_mask);
  close(fd);
  print_json(t, c.latency);
  return 0;
}
