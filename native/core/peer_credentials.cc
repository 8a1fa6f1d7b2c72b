// SO_PEERCRED and the group lookup; see peer_credentials.h.
#include "core/peer_credentials.h"

#include <grp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace mcr {

SysError peer_credentials(int fd, PeerCredentials* out) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return sys_error(errno, "getsockopt", "SO_PEERCRED");
  out->pid = cred.pid;
  out->uid = cred.uid;
  out->gid = cred.gid;
  return {};
}

SysError lookup_group(const std::string& name, gid_t* gid) {
  long size = ::sysconf(_SC_GETGR_R_SIZE_MAX);
  std::vector<char> buffer(size > 0 ? static_cast<size_t>(size) : 16384);
  group gr{};
  group* found = nullptr;
  int rc = 0;
  // A group with many members can need more than the suggested size.
  while ((rc = ::getgrnam_r(name.c_str(), &gr, buffer.data(), buffer.size(), &found)) == ERANGE && buffer.size() < (1u << 20))
    buffer.resize(buffer.size() * 2);
  if (rc != 0) return sys_error(rc, "getgrnam_r", name);
  if (found == nullptr) return sys_error(ENOENT, "getgrnam_r", "no group " + name);
  *gid = gr.gr_gid;
  return {};
}

}  // namespace mcr
