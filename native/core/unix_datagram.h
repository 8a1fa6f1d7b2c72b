// One datagram to a unix datagram socket, for the systemd notify protocol
// (sd_notify(3): mcrd writes READY=1, STATUS=..., to $NOTIFY_SOCKET). Node
// has no AF_UNIX SOCK_DGRAM socket, and mcrd speaks the protocol itself
// rather than linking libsystemd.
#pragma once
#include <string>

#include "core/sys_error.h"

namespace mcr {

// Sends `data` as one datagram to `address`: a filesystem path, or an
// abstract socket name when it starts with '@' (the form systemd uses in
// $NOTIFY_SOCKET). Non-blocking: a full receive queue is EAGAIN, not a
// stalled daemon. Opens and closes its own socket, as sd_notify does.
SysError send_unix_datagram(const std::string& address, const std::string& data);

}  // namespace mcr
