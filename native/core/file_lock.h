// An advisory lock held for the life of a process (flock(2)): mcrd takes
// one beside its control socket before it touches the socket file, so two
// mcrds started at once over a stale socket cannot both remove it and both
// listen (the second would unlink the first's fresh socket). The kernel
// drops the lock when the process ends, however it ends, so a lock file
// left behind (by a crash) is never stale; a holder that stops cleanly
// unlinks it while still holding it. Node has no flock.
#pragma once
#include <string>

#include "core/sys_error.h"

namespace mcr {

// Opens (creating it 0600 if needed) `path` and takes an exclusive flock
// without waiting; *fd is the open descriptor (close-on-exec, so workers
// never hold it), which keeps the lock until it is closed. EWOULDBLOCK:
// another process holds it. The lock is on the file `path` names when this
// returns (a file unlinked by its last holder meanwhile is not the one).
SysError lock_file(const std::string& path, int* fd);

}  // namespace mcr
