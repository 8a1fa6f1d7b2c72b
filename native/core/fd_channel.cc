// fd passing over AF_UNIX sockets with SCM_RIGHTS.
#include "core/fd_channel.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mcr {

SysError make_socketpair(int type, int fds[2]) {
  if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) != 0) return sys_error(errno, "socketpair", "");
  return {};
}

SysError send_fds(int sock, const std::vector<int>& fds, const std::string& data) {
  if (fds.size() > kMaxPassedFds) return sys_error(EINVAL, "sendmsg", "too many fds");
  if (data.empty()) return sys_error(EINVAL, "sendmsg", "empty payload");
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
  if (!fds.empty()) {
    const size_t bytes = sizeof(int) * fds.size();
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(bytes);
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(bytes);
    std::memcpy(CMSG_DATA(cmsg), fds.data(), bytes);
  }
  ssize_t sent;
  do {
    sent = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return sys_error(errno, "sendmsg", "fd handover");
  return {};
}

SysError recv_fds(int sock, int timeout_ms, size_t max_fds, std::vector<int>* fds, std::string* data) {
  if (max_fds == 0 || max_fds > kMaxPassedFds) return sys_error(EINVAL, "recvmsg", "max fds out of range");
  pollfd pfd{sock, POLLIN, 0};
  int ready;
  do {
    ready = ::poll(&pfd, 1, timeout_ms);
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) return sys_error(errno, "poll", "fd handover");
  if (ready == 0) return sys_error(ETIMEDOUT, "recvmsg", "no fd handover within the time limit");

  char buffer[4096];
  iovec iov{buffer, sizeof(buffer)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * max_fds);
  ssize_t got;
  do {
    got = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return sys_error(errno, "recvmsg", "fd handover");

  std::vector<int> received;
  SysError parsed = parse_fd_message(msg, static_cast<size_t>(got), &received, data);
  // CMSG_SPACE rounds up to 8 bytes: for an odd max_fds the control buffer
  // holds one descriptor more, and the kernel then reports no truncation.
  if (!parsed.failed() && received.size() > max_fds) {
    parsed = sys_error(EMSGSIZE, "recvmsg", "more descriptors than the fd handover carries");
  }
  if (parsed.failed()) {
    // Whatever did arrive must not leak.
    for (int fd : received) ::close(fd);
    return parsed;
  }
  *fds = std::move(received);
  return {};
}

SysError parse_fd_message(const msghdr& msg, size_t got, std::vector<int>* fds, std::string* data) {
  const size_t fds_before = fds->size();
  // Walked by offset with headers copied out, not with CMSG_FIRSTHDR /
  // CMSG_NXTHDR: those trust each cmsg_len, so a length shorter than a
  // header or longer than the control data would read outside it.
  const auto* control = static_cast<const unsigned char*>(msg.msg_control);
  const size_t control_len = control == nullptr ? 0 : msg.msg_controllen;
  bool malformed = false;
  size_t off = 0;
  while (off < control_len && control_len - off >= sizeof(cmsghdr)) {
    cmsghdr c;
    std::memcpy(&c, control + off, sizeof(c));
    if (c.cmsg_len < CMSG_LEN(0) || c.cmsg_len > control_len - off) {
      malformed = true;
      break;
    }
    if (c.cmsg_level == SOL_SOCKET && c.cmsg_type == SCM_RIGHTS) {
      const size_t n = (c.cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < n; ++i) {
        int fd;
        std::memcpy(&fd, control + off + CMSG_LEN(0) + i * sizeof(int), sizeof(int));
        fds->push_back(fd);
      }
    }
    off += CMSG_ALIGN(c.cmsg_len);
  }
  if (malformed) return sys_error(EPROTO, "recvmsg", "malformed control message");
  size_t room = 0;
  if (msg.msg_iov != nullptr && msg.msg_iovlen > 0) room = msg.msg_iov[0].iov_len;
  if ((msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0 || got > room) {
    return sys_error(EMSGSIZE, "recvmsg", (msg.msg_flags & MSG_CTRUNC) != 0 ? "control data truncated (MSG_CTRUNC)"
                                                                           : "payload truncated (MSG_TRUNC)");
  }
  if (got == 0 && fds->size() == fds_before) return sys_error(ECONNRESET, "recvmsg", "peer closed the fd channel");
  data->assign(got == 0 ? "" : static_cast<const char*>(msg.msg_iov[0].iov_base), got);
  return {};
}

}  // namespace mcr
