// Who is at the other end of a Unix socket, and group names to ids: what
// mcrd's control socket needs to log the caller of a mutating request and to
// hand the socket to a group (Node has no API for SO_PEERCRED or getgrnam).
#pragma once
#include <sys/types.h>

#include <string>

#include "core/sys_error.h"

namespace mcr {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// getsockopt(SO_PEERCRED) on a connected AF_UNIX socket: the credentials the
// peer had when it called connect() (unix(7)), so they cannot be changed by
// the client afterwards.
SysError peer_credentials(int fd, PeerCredentials* out);

// getgrnam_r: ENOENT when no such group.
SysError lookup_group(const std::string& name, gid_t* gid);

}  // namespace mcr
