// A NETLINK_ROUTE socket subscribed to link and IPv4 address changes
// (RTMGRP_LINK | RTMGRP_IPV4_IFADDR), plus the dumps that give the state the
// changes apply to. The socket is non-blocking: the owner waits for it to be
// readable (the addon polls it on the Node event loop) and calls read(),
// which drains everything queued and returns parsed events.
//
// State, not just changes: open() asks for a dump of every link, then of
// every IPv4 address (one dump at a time: the kernel refuses a second with
// EBUSY), and read() reports `synced` when both finished. If the socket
// overran (ENOBUFS: events were lost) or a dump was interrupted
// (NLM_F_DUMP_INTR), read() reports `resync` and dumps again, so the owner
// never keeps a state that silently missed a change.
#pragma once
#include <cstdint>
#include <vector>

#include "core/netlink_parser.h"
#include "core/sys_error.h"

namespace mcr {

class NetlinkMonitor {
 public:
  NetlinkMonitor() = default;
  ~NetlinkMonitor();
  NetlinkMonitor(const NetlinkMonitor&) = delete;
  NetlinkMonitor& operator=(const NetlinkMonitor&) = delete;

  // Opens, subscribes and starts the first dump. Needs no privilege.
  SysError open();
  int fd() const { return fd_; }
  // Reads until the socket is empty; appends the events in arrival order.
  SysError read(std::vector<InterfaceEvent>* out);
  // Messages or attributes skipped as malformed since open().
  uint64_t malformed() const { return malformed_; }
  void close();

 private:
  enum class Dump : uint8_t { none, links, addresses };
  SysError request(Dump what);
  SysError restart_dumps(std::vector<InterfaceEvent>* out);

  int fd_ = -1;
  uint32_t seq_ = 0;
  Dump dump_ = Dump::none;
  uint32_t dump_seq_ = 0;
  bool redump_ = false;        // dump again once the current dump ends
  uint64_t malformed_ = 0;
  std::vector<uint8_t> buf_;
};

}  // namespace mcr
