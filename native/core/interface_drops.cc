// Interface drop counters over NETLINK_ROUTE: the root qdiscs' and the
// links' dumps, their bounded reads, and the parse of the replies
// (interface_drops.h says why mcrd wants them).
#include "core/interface_drops.h"

#include <linux/gen_stats.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/netlink_walk.h"

namespace mcr {
namespace {

// The kernel fills a dump skb up to 32 KiB (less for a smaller read); a
// reply larger than this is reported (EMSGSIZE), never parsed cut short.
constexpr size_t kReadBuffer = 64 * 1024;
// A dump's replies come as fast as the kernel can fill them: a second
// without one is an error. (The dump runs on a libuv worker thread, never
// mcrd's event loop: the kernel's rtnl lock, which a dump takes, can be
// held for long on a busy host.)
constexpr std::chrono::seconds kDumpBound{1};
constexpr int kDumpAttempts = 3;

void set_drops(RootQdisc* out, uint32_t drops) {
  out->drops = drops;
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
      set_drops(out, s.drops);
    });
    if (!fits) *ok = false;
  } else if (type == TCA_STATS && !out->has_stats) {
    if (n < sizeof(tc_stats)) {
      *ok = false;
      return;
    }
    tc_stats s;
    std::memcpy(&s, p, sizeof(s));
    set_drops(out, s.drops);
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

// A link statistics struct's tx_dropped into *out; false when the attribute
// is cut before it. The structs grow at their end across kernels
// (rx_nohandler in 4.6, rx_otherhost_dropped in 5.19): an older kernel's
// shorter one is whole as far as tx_dropped, which is all that is read.
template <typename Stats>
bool read_tx_dropped(const uint8_t* p, size_t n, uint64_t* out) {
  if (n < offsetof(Stats, tx_dropped) + sizeof(Stats::tx_dropped)) return false;
  Stats s{};
  std::memcpy(&s, p, n < sizeof(s) ? n : sizeof(s));
  *out = s.tx_dropped;
  return true;
}

// One RTM_NEWLINK body: false if it did not fit (malformed).
bool parse_link(const uint8_t* body, size_t len, std::vector<LinkDrops>* links) {
  if (len < sizeof(ifinfomsg)) return false;
  ifinfomsg ifi;
  std::memcpy(&ifi, body, sizeof(ifi));
  LinkDrops l;
  l.ifindex = static_cast<uint32_t>(ifi.ifi_index);
  // IFLA_STATS64 wins over the 32-bit IFLA_STATS, in whichever order they come.
  bool have64 = false, have = false, ok = true, other_netns = false;
  const size_t attrs = nl_align4(sizeof(ifinfomsg));
  const bool fits = for_each_attr(body + attrs, len > attrs ? len - attrs : 0, [&](uint16_t type, const uint8_t* p, size_t n) {
    if (type == IFLA_STATS64) {
      ok = ok && read_tx_dropped<rtnl_link_stats64>(p, n, &l.tx_dropped);
      have64 = have = true;
    } else if (type == IFLA_STATS && !have64) {
      ok = ok && read_tx_dropped<rtnl_link_stats>(p, n, &l.tx_dropped);
      have = true;
    } else if (type == IFLA_IFNAME) {
      l.name = attr_string(p, n);
    } else if (type == IFLA_LINK && n >= sizeof(uint32_t)) {
      // The relations below are extras to the counts: one that does not fit is left out, never fails the read.
      std::memcpy(&l.link_ifindex, p, sizeof(uint32_t));
    } else if (type == IFLA_MASTER && n >= sizeof(uint32_t)) {
      std::memcpy(&l.master_ifindex, p, sizeof(uint32_t));
    } else if (type == IFLA_LINK_NETNSID) {
      other_netns = true;  // IFLA_LINK is an index in that namespace, not ours
    } else if (type == IFLA_LINKINFO) {
      for_each_attr(p, n, [&](uint16_t inner, const uint8_t* q, size_t m) {
        if (inner == IFLA_INFO_KIND) l.kind = attr_string(q, m);
      });
    }
  });
  if (!fits || !ok || l.ifindex == 0) return false;
  if (other_netns || l.link_ifindex == l.ifindex) l.link_ifindex = 0;
  if (l.master_ifindex == l.ifindex) l.master_ifindex = 0;
  if (have) links->push_back(std::move(l));
  return true;
}

// A dump's replies in data[0, len): on_entry(body, body_len) for each
// message of `type`, which returns false when the message did not fit.
template <typename OnEntry>
DumpParse parse_dump(const uint8_t* data, size_t len, uint16_t type, OnEntry on_entry) {
  DumpParse r;
  const bool framed = for_each_message(data, len, [&](const nlmsghdr& h, const uint8_t* body, size_t body_len) {
    if ((h.nlmsg_flags & NLM_F_DUMP_INTR) != 0) r.interrupted = true;
    bool ok = true;
    int err = 0;
    if (h.nlmsg_type == type) {
      ok = on_entry(body, body_len);
    } else if (h.nlmsg_type == NLMSG_DONE) {
      r.done = true;
      // A dump that failed part-way ends with its errno in NLMSG_DONE's body.
      if (message_error(body, body_len, &err) && err < 0) r.error = err;
    } else if (h.nlmsg_type == NLMSG_ERROR) {
      ok = message_error(body, body_len, &err);
      if (ok && err != 0) r.error = err;
    }
    if (!ok) ++r.malformed;
  });
  if (!framed) ++r.malformed;
  return r;
}

// Closes the socket on every way out, a throw included.
struct Socket {
  int fd = -1;
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
};

// One dump of `type` with request body `req_body`: every reply buffer to
// parse(buf, n), which returns its DumpParse, until NLMSG_DONE.
template <typename Parse>
SysError dump(int fd, uint16_t type, const void* req_body, size_t req_len, uint32_t seq, const char* what, Parse parse,
              bool* interrupted) {
  struct {
    nlmsghdr h;
    uint8_t body[sizeof(ifinfomsg) > sizeof(tcmsg) ? sizeof(ifinfomsg) : sizeof(tcmsg)];
  } req{};
  req.h.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(req_len));
  req.h.nlmsg_type = type;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = seq;
  std::memcpy(req.body, req_body, req_len);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = ::sendto(fd, &req, req.h.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel));
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return sys_error(errno, "sendto", what);
  std::vector<uint8_t> buf(kReadBuffer);
  const auto deadline = std::chrono::steady_clock::now() + kDumpBound;
  for (;;) {
    // MSG_TRUNC: the datagram's real length, so a reply larger than the buffer is seen, not parsed cut.
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_TRUNC);
    if (n < 0 && errno == EINTR && std::chrono::steady_clock::now() < deadline) continue;
    if (n < 0) return sys_error(errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno, "recv", what);
    if (static_cast<size_t>(n) > buf.size()) return sys_error(EMSGSIZE, "recv", what);
    const DumpParse r = parse(buf.data(), static_cast<size_t>(n));
    *interrupted = *interrupted || r.interrupted;
    if (r.error != 0) return sys_error(r.error == INT32_MIN ? EIO : -r.error, "dump", what);
    if (r.malformed != 0) return sys_error(EBADMSG, "dump", what);
    if (r.done) return {};
    if (std::chrono::steady_clock::now() > deadline) return sys_error(ETIMEDOUT, "recv", what);
  }
}

// A dump retried while the kernel says its objects changed during it; the
// entries of an interrupted attempt are dropped.
template <typename Entry, typename Parse>
SysError dump_consistent(int fd, uint16_t type, const void* req_body, size_t req_len, uint32_t* seq, const char* what,
                         std::vector<Entry>* out, Parse parse) {
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    const size_t before = out->size();
    bool interrupted = false;
    SysError e = dump(fd, type, req_body, req_len, ++*seq, what,
                      [&](const uint8_t* data, size_t n) { return parse(data, n, out); }, &interrupted);
    if (e.failed()) return e;
    if (!interrupted) return {};
    out->resize(before);
  }
  return sys_error(EAGAIN, "dump", std::string(what) + ": interrupted each time (the interfaces keep changing)");
}

}  // namespace

DumpParse parse_qdisc_dump(const uint8_t* data, size_t len, std::vector<RootQdisc>* roots) {
  return parse_dump(data, len, RTM_NEWQDISC, [roots](const uint8_t* body, size_t n) { return parse_qdisc(body, n, roots); });
}

DumpParse parse_link_dump(const uint8_t* data, size_t len, std::vector<LinkDrops>* links) {
  return parse_dump(data, len, RTM_NEWLINK, [links](const uint8_t* body, size_t n) { return parse_link(body, n, links); });
}

SysError read_interface_drops(InterfaceDrops* out) {
  Socket sock;
  sock.fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (sock.fd < 0) return sys_error(errno, "socket", "AF_NETLINK NETLINK_ROUTE");
  const timeval timeout{1, 0};
  if (::setsockopt(sock.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) != 0)
    return sys_error(errno, "setsockopt", "SO_RCVTIMEO on the NETLINK_ROUTE socket");
  uint32_t seq = 0;
  tcmsg tcm{};
  tcm.tcm_family = AF_UNSPEC;
  SysError e = dump_consistent(sock.fd, RTM_GETQDISC, &tcm, sizeof(tcm), &seq, "RTM_GETQDISC dump", &out->roots, parse_qdisc_dump);
  if (e.failed()) return e;
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  return dump_consistent(sock.fd, RTM_GETLINK, &ifi, sizeof(ifi), &seq, "RTM_GETLINK dump", &out->links, parse_link_dump);
}

}  // namespace mcr
