// The traffic tools' shared UDP socket pieces (tool_socket.h).
#include "tools/tool_socket.h"

#include <arpa/inet.h>

#include <cerrno>

#include "tools/tool_args.h"

int tool_udp_socket(const char* tool, bool v6) {
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) tool_fail(tool, errno, v6 ? "socket(AF_INET6, SOCK_DGRAM)" : "socket(AF_INET, SOCK_DGRAM)");
  return fd;
}

void tool_socket_buffer(int fd, int force_opt, int opt, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) < 0) {
    setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
  }
}

void tool_set_int_opt(const char* tool, int fd, int level, int name, int value, const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof value) < 0) tool_fail(tool, errno, what);
}

std::string tool_addr_text(const in_addr& a) {
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, text, sizeof text);
  return text;
}

std::string tool_addr_text(const in6_addr& a) {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &a, text, sizeof text);
  return text;
}

std::string tool_addr_text(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET6) return tool_addr_text(reinterpret_cast<const sockaddr_in6&>(a).sin6_addr);
  return tool_addr_text(reinterpret_cast<const sockaddr_in&>(a).sin_addr);
}
