// UDP socket pieces both traffic tools (mcrgen, mcrsink) set up the same way:
// the socket itself, a buffer larger than the sysctl cap where the process
// may have it, integer options that must succeed, and addresses as text for
// error messages and reports. Each tool's own options (joins, hop limits,
// binds) stay in its mcrgen_socket.cc / mcrsink_socket.cc.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

// A UDP socket of the family (AF_INET6 when `v6`), non-blocking, so a full
// buffer or an empty queue comes back as EAGAIN and the run still honours
// its deadlines and signals, and close-on-exec. Exits 1 on failure.
int tool_udp_socket(const char* tool, bool v6);

// Asks for a `bytes` buffer with `force_opt` (SO_SNDBUFFORCE / SO_RCVBUFFORCE:
// ignores net.core.wmem_max / rmem_max but needs CAP_NET_ADMIN), else with
// `opt` (SO_SNDBUF / SO_RCVBUF, silently capped by the sysctl). Never fails:
// a smaller buffer only costs drops in bursts.
void tool_socket_buffer(int fd, int force_opt, int opt, int bytes);

// setsockopt of an int that must succeed; exits 1 naming `what` otherwise.
void tool_set_int_opt(const char* tool, int fd, int level, int name, int value, const char* what);

// inet_ntop of either family; the sockaddr_storage one reads the family.
std::string tool_addr_text(const in_addr& a);
std::string tool_addr_text(const in6_addr& a);
std::string tool_addr_text(const sockaddr_storage& a);
