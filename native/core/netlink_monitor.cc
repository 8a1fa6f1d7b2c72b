// NETLINK_ROUTE monitor: socket set-up, dump sequencing, overrun recovery.
#include "core/netlink_monitor.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mcr {
namespace {

// Large enough for a burst of changes (a hundred VLANs created at once) and
// for the dump replies; the kernel caps a dump skb at about 32 KiB, so the
// read buffer is that plus headroom.
constexpr int kReceiveBuffer = 1 << 20;
constexpr size_t kReadBuffer = 64 * 1024;

}  // namespace

NetlinkMonitor::~NetlinkMonitor() { close(); }

void NetlinkMonitor::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

SysError NetlinkMonitor::open() {
  if (fd_ >= 0) return sys_error(EALREADY, "socket", "NETLINK_ROUTE monitor already open");
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return sys_error(errno, "socket", "AF_NETLINK NETLINK_ROUTE");
  int rcvbuf = kReceiveBuffer;
  // FORCE passes net.core.rmem_max with CAP_NET_ADMIN; the plain option is capped.
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    SysError e = sys_error(errno, "bind", "NETLINK_ROUTE groups RTMGRP_LINK|RTMGRP_IPV4_IFADDR|RTMGRP_IPV6_IFADDR");
    ::close(fd);
    return e;
  }
  fd_ = fd;
  buf_.resize(kReadBuffer);
  // Subscribed before dumping: a change made during the dump is then seen
  // as an event after it, never lost between the two.
  SysError e = request(Dump::links);
  if (e.failed()) close();
  return e;
}

SysError NetlinkMonitor::request(Dump what) {
  struct {
    nlmsghdr h;
    rtgenmsg g;
  } req{};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof(rtgenmsg));
  req.h.nlmsg_type = what == Dump::links ? RTM_GETLINK : RTM_GETADDR;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = ++seq_;
  // Addresses of both families in one dump (AF_UNSPEC).
  req.g.rtgen_family = AF_UNSPEC;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_, &req, req.h.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0)
    return sys_error(errno, "sendto", what == Dump::links ? "RTM_GETLINK dump" : "RTM_GETADDR dump");
  dump_ = what;
  dump_seq_ = req.h.nlmsg_seq;
  return {};
}

SysError NetlinkMonitor::restart_dumps(std::vector<InterfaceEvent>* out) {
  InterfaceEvent e;
  e.kind = InterfaceEventKind::resync;
  out->push_back(e);
  redump_ = false;
  return request(Dump::links);
}

SysError NetlinkMonitor::read(std::vector<InterfaceEvent>* out) {
  if (fd_ < 0) return sys_error(EBADF, "recvfrom", "NETLINK_ROUTE monitor is closed");
  for (;;) {
    sockaddr_nl from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n = ::recvfrom(fd_, buf_.data(), buf_.size(), MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return {};
      if (errno != ENOBUFS) return sys_error(errno, "recvfrom", "NETLINK_ROUTE monitor");
      // The kernel dropped events for us: what we reported may be stale.
      // A dump in progress must end first (a second one gets EBUSY).
      if (dump_ == Dump::none) {
        SysError e = restart_dumps(out);
        if (e.failed()) return e;
      } else {
        redump_ = true;
      }
      continue;
    }
    // Only the kernel speaks on this socket (nl_pid 0); anything else is ignored.
    if (from.nl_pid != 0) continue;
    if (static_cast<size_t>(n) > buf_.size()) {
      // Truncated (MSG_TRUNC gives the real length): part of the state is missing.
      ++malformed_;
      redump_ = true;
      if (dump_ == Dump::none) {
        SysError e = restart_dumps(out);
        if (e.failed()) return e;
      }
      continue;
    }
    const NetlinkParse r = parse_route_messages(buf_.data(), static_cast<size_t>(n), out);
    malformed_ += r.malformed;
    if (r.interrupted) redump_ = true;
    const bool dump_failed = r.error != 0 && dump_ != Dump::none && r.error_seq == dump_seq_;
    if (dump_failed) return sys_error(-r.error, "recvfrom", "NETLINK_ROUTE dump refused");
    if (!r.done || dump_ == Dump::none || r.done_seq != dump_seq_) continue;
    if (redump_) {
      dump_ = Dump::none;
      SysError e = restart_dumps(out);
      if (e.failed()) return e;
    } else if (dump_ == Dump::links) {
      SysError e = request(Dump::addresses);
      if (e.failed()) return e;
    } else {
      dump_ = Dump::none;
      InterfaceEvent e;
      e.kind = InterfaceEventKind::synced;
      out->push_back(e);
    }
  }
}

}  // namespace mcr
