// mcrgen: batched, paced UDP traffic generator for the relay's tests and lab.
//
// Sends --count packets and/or for --duration seconds to --dest:--port, each
// payload built by payload_fill (stream id, seq 0, 1, 2 ..., checksum, fill)
// so mcrsink can count loss, duplicates, reordering and corruption exactly.
// Packets leave in sendmmsg(2) batches (with --gso N, each batch as UDP_SEGMENT
// messages of up to N datagrams, segmented by the kernel: several times
// cheaper per datagram, for benchmarks that must outrun the method under
// test; the sending interface must have tx-udp-segmentation off for the
// datagrams to leave one by one); with --rate a CLOCK_MONOTONIC token
// bucket spaces the batches evenly and shrinks them at low rates, so the
// offered load is smooth rather than one burst per second.
//
// Send errors: EAGAIN / ENOBUFS mean a full socket or device queue, so the
// generator backs off briefly and resends the same packets (counted in
// "retries" and by errno, never as sent; with --gso, ENOBUFS is counted by
// errno and not resent, see send_all). IP_RECVERR is on so that a full
// device queue is reported as ENOBUFS at all: without it UDP drops the packet
// and returns success (udp_send_skb, net/ipv4/udp.c), and the loss would be
// blamed on whatever the sink sits behind. The price is that ICMP port
// unreachable for an earlier packet fails a later send with ECONNREFUSED;
// that send is repeated at once (counted in "retries" and by errno). Any
// other error is fatal: it is counted in "errors" and by errno, the JSON is
// printed, and the exit status is 1. SIGINT / SIGTERM stop the run cleanly
// (exit 0, JSON printed).
//
// --timestamp sends the timestamped payload variant (payload.h): each
// datagram carries the CLOCK_REALTIME time at which its sendmmsg call began
// (read once per call, after the batch was filled, and again before a
// resend), so mcrsink --latency can measure one-way latency against the
// kernel's receive timestamp.
//
// Stream payloads (stream_source.h): --rtp puts an RTP header first, --mpegts
// sends MPEG-TS packets (default 7 x 188 bytes) instead of the test payload,
// both together TS in RTP; --impair gap=N,dup=N,reorder=N,cc=N injects those
// faults on every Nth datagram, deterministically, and reports how many.
//
// Output: exactly one JSON object on stdout:
//   {"sent","retries","errors","errorsByErrno":{"ENOBUFS":n,...},
//    "durationSec","pps","stream","size","firstSeq","lastSeq",
//    "impaired":{"gap","dup","reorder","cc"}}
// firstSeq / lastSeq are null when nothing was sent.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tools/payload.h"
#include "tools/stream_source.h"
#include "tools/tool_args.h"

namespace {

constexpr const char* kTool = "mcrgen";
// Largest UDP payload one UDP_SEGMENT send may carry (IPv4: 65535 - 20 - 8).
constexpr size_t kMaxGsoBytes = 65507;

volatile sig_atomic_t g_stop = 0;
void on_stop_signal(int) { g_stop = 1; }

struct Config {
  sockaddr_in dest{};
  std::string ifname;
  bool has_source = false;
  in_addr source{};
  // IPv6 (--dest with a colon): dest6 and source6 instead of dest and source.
  bool v6 = false;
  sockaddr_in6 dest6{};
  in6_addr source6{};
  // 0: the kernel picks the source port. A fixed one keeps a flow's 5-tuple,
  // so its PACKET_FANOUT_HASH worker, the same across runs (bench:scaling).
  uint16_t source_port = 0;
  int ttl = 8;
  size_t size = 64;
  uint64_t rate = 0;
  uint64_t count = UINT64_MAX;
  bool has_duration = false;
  double duration = 0;
  uint32_t stream = 1;
  size_t batch = 64;
  size_t gso = 0;  // datagrams per UDP_SEGMENT message; 0 = one message per datagram
  bool rtp = false;
  bool mpegts = false;
  bool timestamp = false;
  Impairments impair;
  bool streamed() const { return rtp || mpegts || impair.gap + impair.dup + impair.reorder + impair.cc > 0; }
};

struct Stats {
  uint64_t sent = 0;
  uint64_t retries = 0;
  uint64_t errors = 0;
  std::map<int, uint64_t> by_errno;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
};

Config parse_args(int argc, char** argv) {
  const ToolArgs args(
      kTool, "Send numbered, checksummed UDP test packets (see mcrsink) in paced batches.",
      {
          {"dest", "ADDR", "destination IPv4 or IPv6 address, multicast group or unicast (required)"},
          {"port", "PORT", "destination UDP port (required)"},
          {"interface", "IF", "send via this interface (IP_MULTICAST_IF + SO_BINDTODEVICE)"},
          {"source", "ADDR", "bind to this local address"},
          {"source-port", "PORT", "bind to this local UDP port, 1..65535 (default: the kernel's choice)"},
          {"ttl", "N", "IP TTL and multicast TTL (IPv6: hop limits), 1..255 (default 8)"},
          {"size", "BYTES", "UDP payload bytes, 18..8972 (default 64)"},
          {"rate", "PPS", "packets per second, 0 = as fast as possible (default 0)"},
          {"count", "N", "stop after N packets"},
          {"duration", "SEC", "stop after SEC seconds (fractions allowed)"},
          {"stream", "ID", "stream id written into every payload, u32 (default 1)"},
          {"batch", "N", "packets per sendmmsg call, 1..1024 (default 64)"},
          {"gso", "N", "send each batch as UDP_SEGMENT messages of up to N datagrams (and 65507 bytes), 0..64 (default 0 = off)"},
          {"rtp", nullptr, "an RTP header first (sequence = datagram number, SSRC = --stream, 90 kHz timestamps)"},
          {"mpegts", nullptr, "MPEG-TS packets (188 bytes, PIDs 0x100/0x101) instead of the test payload; default --size 7 x 188 (+12 with --rtp)"},
          {"timestamp", nullptr, "stamp each payload with its send time (CLOCK_REALTIME) for mcrsink --latency; --size 26..8972"},
          {"impair", "SPEC", "gap=N,dup=N,reorder=N,cc=N: leave out, repeat, swap with the next, or skip a TS counter on every Nth datagram"},
      },
      argc, argv);
  Config c;
  const std::string dest_text = args.str("dest", "");
  c.v6 = dest_text.find(':') != std::string::npos;
  const uint16_t port = static_cast<uint16_t>(args.required_uint("port", 1, 65535));
  c.ifname = args.str("interface", "");
  c.has_source = args.has("source");
  if (c.v6) {
    c.dest6.sin6_family = AF_INET6;
    c.dest6.sin6_port = htons(port);
    if (inet_pton(AF_INET6, dest_text.c_str(), &c.dest6.sin6_addr) != 1) args.bad("dest", "expected an IPv4 or IPv6 address, got \"" + dest_text + "\"");
    if (c.has_source && inet_pton(AF_INET6, args.str("source", "").c_str(), &c.source6) != 1) {
      args.bad("source", "expected an IPv6 address (the family of --dest)");
    }
    // A link-local destination (fe80::/10, ff02::/16) needs its link.
    const uint8_t* a = c.dest6.sin6_addr.s6_addr;
    if ((a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || (a[0] == 0xff && (a[1] & 0x0f) <= 2)) {
      if (c.ifname.empty()) args.bad("interface", "a link-local --dest needs --interface");
      c.dest6.sin6_scope_id = tool_ifindex(kTool, c.ifname);
    }
  } else {
    c.dest.sin_family = AF_INET;
    c.dest.sin_addr = args.required_ipv4("dest");
    c.dest.sin_port = htons(port);
    c.source = args.ipv4("source", in_addr{});
  }
  c.source_port = static_cast<uint16_t>(args.uint("source-port", 1, 65535, 0));
  c.ttl = static_cast<int>(args.uint("ttl", 1, 255, 8));
  c.size = args.uint("size", kPayloadHeaderLen, kPayloadMaxLen, 64);
  c.rate = args.uint("rate", 0, 100000000, 0);
  args.require_one_of("count", "duration");
  c.count = args.uint("count", 0, UINT64_MAX / 2, UINT64_MAX);
  c.has_duration = args.has("duration");
  c.duration = args.num("duration", 0, 1e7, 0);
  c.stream = static_cast<uint32_t>(args.uint("stream", 0, UINT32_MAX, 1));
  c.batch = args.uint("batch", 1, 1024, 64);
  c.gso = args.uint("gso", 0, 64, 0);
  c.rtp = args.has("rtp");
  c.mpegts = args.has("mpegts");
  if (args.has("impair")) {
    std::string why;
    if (!parse_impairments(args.str("impair", ""), &c.impair, &why)) args.bad("impair", why);
  }
  const size_t header = c.rtp ? StreamSource::kRtpHeader : 0;
  if (c.mpegts) {
    if (!args.has("size")) c.size = header + 7 * StreamSource::kTsPacket;
    if (c.size < header + StreamSource::kTsPacket || (c.size - header) % StreamSource::kTsPacket != 0) {
      args.bad("size", "with --mpegts the payload is " + std::string(c.rtp ? "12 bytes of RTP header plus " : "") +
                           "whole 188-byte TS packets, e.g. " + std::to_string(header + 7 * StreamSource::kTsPacket));
    }
  }
  if (c.impair.cc != 0 && !c.mpegts) args.bad("impair", "cc=N needs --mpegts");
  c.timestamp = args.has("timestamp");
  if (c.timestamp && c.streamed()) args.bad("timestamp", "stamps the test payload: not with --rtp, --mpegts or --impair");
  if (c.timestamp && c.size < kPayloadTimedHeaderLen) {
    args.bad("size", "with --timestamp at least " + std::to_string(kPayloadTimedHeaderLen) + " bytes (header and send time)");
  }
  return c;
}

void set_int_opt(int fd, int level, int name, int value, const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof value) < 0) tool_fail(kTool, errno, what);
}

// The IPv6 half of open_socket: hop limits, IPV6_MULTICAST_IF and
// SO_BINDTODEVICE for --interface, --source / --source-port bound.
int setup_ipv6(int fd, const Config& c) {
  set_int_opt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, c.ttl, "setsockopt IPV6_UNICAST_HOPS");
  set_int_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, c.ttl, "setsockopt IPV6_MULTICAST_HOPS");
  set_int_opt(fd, IPPROTO_IPV6, IPV6_RECVERR, 1, "setsockopt IPV6_RECVERR");
  if (!c.ifname.empty()) {
    set_int_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, static_cast<int>(tool_ifindex(kTool, c.ifname)), "setsockopt IPV6_MULTICAST_IF");
    if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, c.ifname.c_str(), static_cast<socklen_t>(c.ifname.size())) < 0) {
      tool_fail(kTool, errno, "setsockopt SO_BINDTODEVICE " + c.ifname, "needs CAP_NET_RAW on kernels before 5.7");
    }
  }
  if (c.has_source || c.source_port != 0) {
    sockaddr_in6 src{};
    src.sin6_family = AF_INET6;
    src.sin6_addr = c.source6;  // :: without --source
    src.sin6_port = htons(c.source_port);
    src.sin6_scope_id = c.dest6.sin6_scope_id;
    if (bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) < 0) {
      char text[INET6_ADDRSTRLEN];
      inet_ntop(AF_INET6, &c.source6, text, sizeof text);
      tool_fail(kTool, errno, std::string("bind ") + text,
                "check --source is an address of this host (not tentative) and --source-port is not in use");
    }
  }
  return fd;
}

int open_socket(const Config& c) {
  // Non-blocking: a full send buffer must come back as EAGAIN so the run can
  // still honour --duration and signals instead of blocking in sendmmsg.
  const int fd = socket(c.v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) tool_fail(kTool, errno, c.v6 ? "socket(AF_INET6, SOCK_DGRAM)" : "socket(AF_INET, SOCK_DGRAM)");

  // Room for bursts of whole batches. SO_SNDBUFFORCE ignores wmem_max but
  // needs CAP_NET_ADMIN; plain SO_SNDBUF is silently capped by wmem_max.
  const int sndbuf = 4 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) < 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  }
  if (c.v6) return setup_ipv6(fd, c);
  set_int_opt(fd, IPPROTO_IP, IP_TTL, c.ttl, "setsockopt IP_TTL");
  set_int_opt(fd, IPPROTO_IP, IP_MULTICAST_TTL, c.ttl, "setsockopt IP_MULTICAST_TTL");
  set_int_opt(fd, IPPROTO_IP, IP_RECVERR, 1, "setsockopt IP_RECVERR");  // see top of file
  // IP_MULTICAST_LOOP stays at its default (on) so a sink on this host, e.g.
  // on lo or in the same namespace, receives multicast sent from here.

  if (!c.ifname.empty()) {
    ip_mreqn mreq{};
    mreq.imr_ifindex = static_cast<int>(tool_ifindex(kTool, c.ifname));
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof mreq) < 0) {
      tool_fail(kTool, errno, "setsockopt IP_MULTICAST_IF " + c.ifname);
    }
    // Unicast ignores IP_MULTICAST_IF; SO_BINDTODEVICE pins both kinds.
    if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, c.ifname.c_str(),
                   static_cast<socklen_t>(c.ifname.size())) < 0) {
      tool_fail(kTool, errno, "setsockopt SO_BINDTODEVICE " + c.ifname,
                "needs CAP_NET_RAW on kernels before 5.7");
    }
  }
  if (c.has_source || c.source_port != 0) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr = c.source;  // INADDR_ANY without --source
    src.sin_port = htons(c.source_port);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) < 0) {
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &c.source, text, sizeof text);
      tool_fail(kTool, errno, std::string("bind ") + text,
                "check --source is an address of this host and --source-port is not in use");
    }
  }
  return fd;
}

uint64_t clock_ns(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t mono_ns() { return clock_ns(CLOCK_MONOTONIC); }

// Sleeps until `deadline_ns` on CLOCK_MONOTONIC, at most 100 ms at a time so
// a signal that lands just before the call delays the stop by little.
void sleep_until(uint64_t deadline_ns) {
  const uint64_t now = mono_ns();
  if (deadline_ns <= now) return;
  deadline_ns = std::min<uint64_t>(deadline_ns, now + 100000000);
  timespec ts{static_cast<time_t>(deadline_ns / 1000000000ull),
              static_cast<long>(deadline_ns % 1000000000ull)};
  clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);  // EINTR: caller re-checks
}

// Discards queued IP_RECVERR reports (ip(7)); only their count matters here.
void drain_error_queue(int fd) {
  uint8_t data[256], control[512];
  for (int i = 0; i < 1024; i++) {
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
  }
}

// Called with the index of the first message about to be (re)sent, right
// before each sendmmsg call: --timestamp stamps the datagrams from there on.
using BeforeSend = std::function<void(size_t first_msg)>;

// Sends msgs[0..n), resending after EAGAIN / ENOBUFS back-offs. Returns how
// many went out; sets *fatal on any other error, or stops early on a signal
// or when `end_ns` passes while backing off. A UDP_SEGMENT message (`gso`)
// that fails with ENOBUFS is not resent: its datagrams were cut and sent one
// by one and the error reports only that some were dropped past the socket
// (on a veth, by the receiving CPU's backlog), so resending would duplicate
// the rest. It counts as sent; what was dropped is lost, as on a real wire.
size_t send_all(int fd, mmsghdr* msgs, size_t n, uint64_t end_ns, bool gso, Stats& st, bool* fatal,
                const BeforeSend* before_send) {
  size_t done = 0;
  while (done < n) {
    if (before_send != nullptr) (*before_send)(done);
    const int r = sendmmsg(fd, msgs + done, static_cast<unsigned>(n - done), 0);
    if (r > 0) {
      // A short count means the next message failed; sendmmsg(2) reports
      // that error on the next call, which the loop makes immediately.
      done += static_cast<size_t>(r);
      continue;
    }
    const int err = r < 0 ? errno : EAGAIN;
    if (err == EINTR) {
      if (g_stop) break;
      continue;
    }
    st.by_errno[err]++;
    if (err == ECONNREFUSED) {
      // An earlier packet's ICMP error, not this packet's: retry now. Empty
      // the error queue too, or poll() would keep reporting POLLERR.
      st.retries++;
      drain_error_queue(fd);
      if (g_stop) break;
      continue;
    }
    if (err != EAGAIN && err != ENOBUFS) {
      st.errors++;
      *fatal = true;
      break;
    }
    if (gso && err == ENOBUFS) {
      done += 1;
      continue;
    }
    st.retries++;
    if (g_stop || mono_ns() >= end_ns) break;
    if (err == EAGAIN) {
      // Socket buffer full: wake as soon as it drains (or after 1 ms).
      pollfd p{fd, POLLOUT, 0};
      poll(&p, 1, 1);
    } else {
      // Device queue full: the socket still polls writable, so just wait a
      // little for the qdisc to drain.
      const timespec ts{0, 50000};
      nanosleep(&ts, nullptr);
    }
  }
  return done;
}

// Datagrams per message: 1, or with --gso as many as fit one UDP_SEGMENT send.
size_t per_message(const Config& c) {
  if (c.gso == 0) return 1;
  return std::max<size_t>(1, std::min(c.gso, kMaxGsoBytes / c.size));
}

void run(int fd, const Config& c, Stats& st, StreamSource* source) {
  std::vector<uint8_t> bufs(c.batch * c.size);
  const size_t per_msg = per_message(c);
  const size_t max_msgs = (c.batch + per_msg - 1) / per_msg;
  std::vector<iovec> iov(max_msgs);
  std::vector<mmsghdr> msgs(max_msgs);
  std::vector<uint8_t> control(max_msgs * CMSG_SPACE(sizeof(uint16_t)));
  // --timestamp: each datagram's running hash, kept from fill to stamp.
  std::vector<uint64_t> partial(c.timestamp ? c.batch : 0);
  size_t batch_n = 0;  // datagrams in the batch being sent
  const BeforeSend stamp = [&](size_t first_msg) {
    const uint64_t now = clock_ns(CLOCK_REALTIME);
    for (size_t i = first_msg * per_msg; i < batch_n; i++) payload_stamp(bufs.data() + i * c.size, c.size, partial[i], now);
  };
  // Message m carries datagrams [m * per_msg, ...) of the batch; the last one
  // of a batch may carry fewer (its iov length is set per batch).
  auto prepare = [&](size_t n) -> size_t {
    const size_t count = (n + per_msg - 1) / per_msg;
    for (size_t m = 0; m < count; m++) {
      const size_t first = m * per_msg;
      const size_t k = std::min(per_msg, n - first);
      iov[m] = {bufs.data() + first * c.size, k * c.size};
      msgs[m].msg_hdr = {};
      if (c.v6) {
        msgs[m].msg_hdr.msg_name = const_cast<sockaddr_in6*>(&c.dest6);
        msgs[m].msg_hdr.msg_namelen = sizeof c.dest6;
      } else {
        msgs[m].msg_hdr.msg_name = const_cast<sockaddr_in*>(&c.dest);
        msgs[m].msg_hdr.msg_namelen = sizeof c.dest;
      }
      msgs[m].msg_hdr.msg_iov = &iov[m];
      msgs[m].msg_hdr.msg_iovlen = 1;
      if (c.gso != 0) {
        uint8_t* space = control.data() + m * CMSG_SPACE(sizeof(uint16_t));
        msgs[m].msg_hdr.msg_control = space;
        msgs[m].msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
        cmsghdr* cm = CMSG_FIRSTHDR(&msgs[m].msg_hdr);
        cm->cmsg_level = SOL_UDP;
        cm->cmsg_type = UDP_SEGMENT;
        cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        const uint16_t seg = static_cast<uint16_t>(c.size);
        std::memcpy(CMSG_DATA(cm), &seg, sizeof seg);
      }
    }
    return count;
  };

  // Pacing: aim for a batch about every 200 us, so 1000 pps goes out one
  // packet per millisecond and 1 Mpps in batches of 64 every 64 us.
  const size_t batch = c.rate == 0 ? c.batch
                                   : std::clamp<size_t>(static_cast<size_t>(c.rate / 5000), 1,
                                                        c.batch);
  const double ns_per_pkt = c.rate == 0 ? 0 : 1e9 / static_cast<double>(c.rate);
  // Token-bucket depth: 2 ms of traffic (at least two batches). Busy hosts
  // and VMs stall a sender for a millisecond or so now and then (seen on the
  // dev VM: ~20 stalls a second, losing 2 % of a 10 kpps run with a 400 us
  // bucket); the bucket makes those up with a short catch-up burst so the
  // offered rate stays accurate, and gives up longer stalls rather than
  // bursting for them.
  const double bucket_ns = std::max(2.0 * static_cast<double>(batch) * ns_per_pkt, 2e6);

  st.start_ns = mono_ns();
  const uint64_t end_ns =
      c.has_duration ? st.start_ns + static_cast<uint64_t>(c.duration * 1e9) : UINT64_MAX;
  double next_ns = static_cast<double>(st.start_ns);  // when the next batch is due
  bool fatal = false;

  while (!g_stop && !fatal && st.sent < c.count) {
    const uint64_t now = mono_ns();
    if (now >= end_ns) break;
    if (c.rate != 0) {
      if (static_cast<double>(now) < next_ns) {
        sleep_until(std::min(static_cast<uint64_t>(next_ns), end_ns));
        continue;
      }
      const double behind = static_cast<double>(now) - next_ns;
      if (behind > bucket_ns) next_ns += behind - bucket_ns;
    }
    const size_t n = static_cast<size_t>(std::min<uint64_t>(batch, c.count - st.sent));
    for (size_t i = 0; i < n; i++) {
      if (source != nullptr) {
        source->next(bufs.data() + i * c.size, st.sent + i);
      } else if (c.timestamp) {
        partial[i] = payload_fill_timed(bufs.data() + i * c.size, c.size, c.stream, st.sent + i);
      } else {
        payload_fill(bufs.data() + i * c.size, c.size, c.stream, st.sent + i);
      }
    }
    batch_n = n;
    const size_t sent_msgs = send_all(fd, msgs.data(), prepare(n), end_ns, c.gso != 0, st, &fatal, c.timestamp ? &stamp : nullptr);
    const size_t k = std::min(n, sent_msgs * per_msg);
    st.sent += k;
    next_ns += static_cast<double>(k) * ns_per_pkt;
  }
  // A paced run lasts until its last batch's time slot is over, so
  // --rate 1000 --count 1000 takes one second and reports 1000 pps.
  if (c.rate != 0 && !g_stop && !fatal) {
    const uint64_t until = std::min(static_cast<uint64_t>(next_ns), end_ns);
    while (!g_stop && mono_ns() < until) sleep_until(until);
  }
  st.end_ns = mono_ns();
}

void print_json(const Config& c, const Stats& st, const StreamSource* source) {
  std::string by_errno;
  for (const auto& [err, n] : st.by_errno) {
    if (!by_errno.empty()) by_errno += ',';
    by_errno += "\"" + errno_name(err) + "\":" + std::to_string(n);
  }
  const double secs = static_cast<double>(st.end_ns - st.start_ns) / 1e9;
  const double pps = secs > 0 ? static_cast<double>(st.sent) / secs : 0;
  const std::string first = st.sent > 0 ? "0" : "null";
  const std::string last = st.sent > 0 ? std::to_string(st.sent - 1) : "null";
  std::printf(
      "{\"sent\":%llu,\"retries\":%llu,\"errors\":%llu,\"errorsByErrno\":{%s},"
      "\"durationSec\":%.6f,\"pps\":%.1f,\"stream\":%u,\"size\":%zu,\"firstSeq\":%s,"
      "\"lastSeq\":%s,\"impaired\":{\"gap\":%llu,\"dup\":%llu,\"reorder\":%llu,\"cc\":%llu}}\n",
      static_cast<unsigned long long>(st.sent), static_cast<unsigned long long>(st.retries),
      static_cast<unsigned long long>(st.errors), by_errno.c_str(), secs, pps, c.stream, c.size,
      first.c_str(), last.c_str(), static_cast<unsigned long long>(source != nullptr ? source->gaps() : 0),
      static_cast<unsigned long long>(source != nullptr ? source->dups() : 0),
      static_cast<unsigned long long>(source != nullptr ? source->reorders() : 0),
      static_cast<unsigned long long>(source != nullptr ? source->cc_skips() : 0));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Config c = parse_args(argc, argv);

  // No SA_RESTART: the signal must interrupt clock_nanosleep / poll so the
  // loop sees g_stop promptly.
  struct sigaction sa{};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // The default 50 us timer slack would make every paced sleep late by up
  // to 50 us; 1 ns keeps batch spacing close to the requested rate.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

  const int fd = open_socket(c);
  Stats st;
  std::unique_ptr<StreamSource> source;
  if (c.streamed()) source = std::make_unique<StreamSource>(c.rtp, c.mpegts, c.impair, c.stream, c.size, c.count);
  run(fd, c, st, source.get());
  close(fd);
  print_json(c, st, source.get());
  return st.errors > 0 ? 1 : 0;
}
