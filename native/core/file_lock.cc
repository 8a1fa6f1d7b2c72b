// See file_lock.h.
#include "core/file_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mcr {

SysError lock_file(const std::string& path, int* fd) {
  // The holder unlinks the file when it stops (file_lock.h): a lock taken on
  // a file that was unlinked (or replaced) meanwhile guards nothing, so the
  // path must still name the locked file; if not, start over on the new one.
  for (int attempt = 0; attempt < 8; ++attempt) {
    const int f = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (f < 0) return sys_error(errno, "open", path);
    if (::flock(f, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(f);
      return sys_error(err, "flock", path);
    }
    struct stat held{}, named{};
    if (::fstat(f, &held) == 0 && ::stat(path.c_str(), &named) == 0 && held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
      *fd = f;
      return {};
    }
    ::close(f);
  }
  return sys_error(EAGAIN, "flock", path + " (replaced while being locked, 8 times)");
}

}  // namespace mcr
