// See unix_datagram.h. unix(7): an abstract address is a sun_path starting
// with a NUL byte, its length given by the address length (no terminator).
#include "core/unix_datagram.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace mcr {

SysError send_unix_datagram(const std::string& address, const std::string& data) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const bool abstract = !address.empty() && address[0] == '@';
  // A path needs room for its terminating NUL; an abstract name does not have one.
  if (address.empty() || address.size() + (abstract ? 0 : 1) > sizeof(addr.sun_path))
    return sys_error(address.empty() ? EINVAL : ENAMETOOLONG, "sendto", address);
  memcpy(addr.sun_path, address.data(), address.size());
  if (abstract) addr.sun_path[0] = '\0';
  const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() + (abstract ? 0 : 1));
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error(errno, "socket", "AF_UNIX SOCK_DGRAM");
  const ssize_t sent = ::sendto(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                                reinterpret_cast<const sockaddr*>(&addr), len);
  const int err = sent < 0 ? errno : 0;
  ::close(fd);
  if (err != 0) return sys_error(err, "sendto", address);
  return {};
}

}  // namespace mcr
