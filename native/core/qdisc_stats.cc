// Root qdisc statistics over NETLINK_ROUTE: the dump request, its bounded
// read, and the parse of the replies (qdisc_stats.h says why mcrd wants them).
#include "core/qdisc_stats.h"

#include <linux/gen_stats.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/netlink_walk.h"

namespace mcr {
namespace {

// The kernel fills a dump skb up to about 32 KiB; a smaller buffer would truncate it (MSG_TRUNC).
constexpr size_t kReadBuffer = 64 * 1024;
// The whole dump must end within this: a stats request must never hang mcrd.
constexpr int64_t kDumpBoundNs = 1'000'000'000;

void set_counters(RootQdisc* out, uint32_t drops, uint32_t overlimits, uint32_t qlen) {
  out->drops = drops;
  out->overlimits = overlimits;
  out->qlen = qlen;
  out->has_stats = true;
}

// Queue counters from TCA_STATS2's TCA_STATS_QUEUE, else the legacy TCA_STATS.
void read_stats(uint16_t type, const uint8_t* p, size_t n, RootQdisc* out, bool* ok) {
  if (type == TCA_STATS2) {
    const bool fits = for_each_attr(p, n, [&](uint16_t inner, const uint8_t* q, size_t m) {
      if (inner != TCA_STATS_QUEUE) return;
      if (m < sizeof(gnet_stats_queue)) {
        *ok = false;
        return;
      }
      gnet_stats_queue s;
      std::memcpy(&s, q, sizeof(s));
      set_counters(out, s.drops, s.overlimits, s.qlen);
    });
    if (!fits) *ok = false;
  } else if (type == TCA_STATS && !out->has_stats) {
    if (n < sizeof(tc_stats)) {
      *ok = false;
      return;
    }
    tc_stats s;
    std::memcpy(&s, p, sizeof(s));
    set_counters(out, s.drops, s.overlimits, s.qlen);
  }
}

// One RTM_NEWQDISC body: false if it did not fit (malformed).
bool parse_qdisc(const uint8_t* body, size_t len, std::vector<RootQdisc>* roots) {
  if (len < sizeof(tcmsg)) return false;
  tcmsg tcm;
  std::memcpy(&tcm, body, sizeof(tcm));
  if (tcm.tcm_parent != TC_H_ROOT) return true;  // a child or ingress: not ours, not malformed
  RootQdisc q;
  q.ifindex = static_cast<uint32_t>(tcm.tcm_ifindex);
  bool ok = true;
  const size_t attrs = nl_align4(sizeof(tcmsg));
  const bool fits = for_each_attr(body + attrs, len > attrs ? len - attrs : 0, [&](uint16_t type, const uint8_t* p, size_t n) {
    if (type == TCA_KIND) q.kind = attr_string(p, n);
    read_stats(type, p, n, &q, &ok);
  });
  if (!fits || !ok || q.kind.empty() || q.ifindex == 0) return false;
  roots->push_back(std::move(q));
  return true;
}

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

QdiscParse parse_qdisc_dump(const uint8_t* data, size_t len, std::vector<RootQdisc>* roots) {
  QdiscParse r;
  const bool framed = for_each_message(data, len, [&](const nlmsghdr& h, const uint8_t* body, size_t body_len) {
    if ((h.nlmsg_flags & NLM_F_DUMP_INTR) != 0) r.interrupted = true;
    bool ok = true;
    int err = 0;
    switch (h.nlmsg_type) {
      case RTM_NEWQDISC: ok = parse_qdisc(body, body_len, roots); break;
      case NLMSG_DONE: r.done = true; break;
      case NLMSG_ERROR:
        ok = message_error(body, body_len, &err);
        if (ok && err != 0) r.error = err;
        break;
      default: break;
    }
    if (!ok) ++r.malformed;
  });
  if (!framed) ++r.malformed;
  return r;
}

SysError read_root_qdiscs(std::vector<RootQdisc>* roots) {
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return sys_error(errno, "socket", "AF_NETLINK NETLINK_ROUTE");
  const auto fail = [fd](int err, const char* syscall, const char* what) {
    ::close(fd);
    return sys_error(err, syscall, what);
  };
  timeval timeout{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  struct {
    nlmsghdr h;
    tcmsg t;
  } req{};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof(tcmsg));
  req.h.nlmsg_type = RTM_GETQDISC;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = 1;
  req.t.tcm_family = AF_UNSPEC;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, &req, req.h.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0)
    return fail(errno, "sendto", "RTM_GETQDISC dump");
  std::vector<uint8_t> buf(kReadBuffer);
  const int64_t deadline = now_ns() + kDumpBoundNs;
  bool interrupted = false;
  for (;;) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      const int err = errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
      return fail(err, "recv", "RTM_GETQDISC dump");
    }
    const QdiscParse r = parse_qdisc_dump(buf.data(), static_cast<size_t>(n), roots);
    interrupted = interrupted || r.interrupted;
    if (r.error != 0) return fail(-r.error, "RTM_GETQDISC", "dump");
    if (r.done) break;
    if (now_ns() > deadline) return fail(ETIMEDOUT, "recv", "RTM_GETQDISC dump (not done within 1 s)");
  }
  ::close(fd);
  if (interrupted) return sys_error(EAGAIN, "RTM_GETQDISC", "dump interrupted: qdiscs changed during it");
  return {};
}

}  // namespace mcr
