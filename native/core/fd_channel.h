// Passing file descriptors between the supervisor and its workers: a
// SOCK_SEQPACKET socketpair carries one message per handover, the fds as
// SCM_RIGHTS ancillary data plus a small payload describing them
// (unix(7), cmsg(3)). Received fds are close-on-exec (MSG_CMSG_CLOEXEC), and
// truncated control data (MSG_CTRUNC: more fds than we made room for) is an
// error, never a silent loss.
#pragma once
#include <sys/socket.h>

#include <cstddef>
#include <string>
#include <vector>

#include "core/sys_error.h"

namespace mcr {

constexpr size_t kMaxPassedFds = 16;

// socketpair(AF_UNIX, type | SOCK_CLOEXEC).
SysError make_socketpair(int type, int fds[2]);

// One message: `data` (at least one byte, SEQPACKET keeps the boundary) and
// the fds. The fds stay open in the sender.
SysError send_fds(int sock, const std::vector<int>& fds, const std::string& data);

// Waits up to timeout_ms (-1: forever) for one message with at most max_fds
// descriptors (≤ kMaxPassedFds). On success `fds` holds the received
// descriptors (owned by the caller) and `data` the payload. A peer that
// closed gives ECONNRESET; more fds than max_fds gives EMSGSIZE.
SysError recv_fds(int sock, int timeout_ms, size_t max_fds, std::vector<int>* fds, std::string* data);

// The part of recv_fds that reads what one recvmsg() returned, without a
// socket, so it is unit-tested and fuzzed (tests/fuzz): `msg` as recvmsg()
// left it (msg_control/msg_controllen: the control data received, msg_flags,
// the payload buffer in msg_iov[0]) and `got` its return value. Every
// SCM_RIGHTS descriptor found is appended to `fds`, also when an error is
// returned, so the caller can close them all; nothing is closed here. On
// success `data` holds the payload. A control message whose length does not
// fit the control data is EPROTO (the rest is not read), MSG_CTRUNC or
// MSG_TRUNC (or more payload than the buffer holds) is EMSGSIZE, and no
// payload and no fds (the peer closed) is ECONNRESET.
SysError parse_fd_message(const msghdr& msg, size_t got, std::vector<int>* fds, std::string* data);

}  // namespace mcr
