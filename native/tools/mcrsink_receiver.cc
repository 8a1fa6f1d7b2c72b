// mcrsink's receiving (mcrsink_receiver.h): batches, control messages, and
// waiting in ppoll with the stop signals let in only there.
#include "tools/mcrsink_receiver.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "tools/tool_args.h"
#include "tools/tool_clock.h"
#include "tools/tool_signals.h"

namespace mcrsink {

namespace {

constexpr size_t kBatch = 64;
// Largest IPv4 UDP payload, so no datagram is ever truncated.
constexpr size_t kBufLen = 65536;

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

}  // namespace

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
  const uint64_t start_ns = tool_mono_ns();
  const uint64_t end_ns =
      c.has_duration ? start_ns + static_cast<uint64_t>(c.duration * 1e9) : UINT64_MAX;
  const uint64_t idle_ns = c.has_idle ? static_cast<uint64_t>(c.idle * 1e9) : UINT64_MAX;
  uint64_t full_batches = 0;

  while (!g_tool_stop && t.received < c.count) {
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
    const uint64_t now = tool_mono_ns();
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
    // arrives between the g_tool_stop check and the wait is delivered inside ppoll
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

}  // namespace mcrsink
