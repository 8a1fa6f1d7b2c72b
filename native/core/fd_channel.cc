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
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      received.push_back(fd);
    }
  }
  if ((msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0) {
    // Whatever did arrive must not leak.
    for (int fd : received) ::close(fd);
    return sys_error(EMSGSIZE, "recvmsg", (msg.msg_flags & MSG_CTRUNC) != 0 ? "control data truncated (MSG_CTRUNC)"
                                                                           : "payload truncated (MSG_TRUNC)");
  }
  if (got == 0 && received.empty()) return sys_error(ECONNRESET, "recvmsg", "peer closed the fd channel");
  *fds = std::move(received);
  data->assign(buffer, static_cast<size_t>(got));
  return {};
}

}  // namespace mcr
