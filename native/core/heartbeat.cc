// memfd creation and mapping for the heartbeat block (heartbeat.h).
#include "core/heartbeat.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace mcr {

namespace {
constexpr size_t kHeartbeatBytes = kHeartbeatWords * sizeof(uint64_t);
}

HeartbeatBlock::~HeartbeatBlock() {
  if (addr_ != nullptr) munmap(addr_, bytes_);
}

SysError create_heartbeat_fd(int* fd) {
  const int f = memfd_create("mcr-heartbeat", MFD_CLOEXEC);
  if (f < 0) return sys_error(errno, "memfd_create", "heartbeat block");
  if (ftruncate(f, kHeartbeatBytes) != 0) {
    const int err = errno;
    close(f);
    return sys_error(err, "ftruncate", "heartbeat block");
  }
  *fd = f;
  return {};
}

SysError map_heartbeat(int fd, std::shared_ptr<HeartbeatBlock>* out) {
  struct stat st{};
  if (fstat(fd, &st) != 0) return sys_error(errno, "fstat", "heartbeat fd " + std::to_string(fd));
  if (!S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) < kHeartbeatBytes)
    return sys_error(EINVAL, "fstat", "heartbeat fd " + std::to_string(fd) + " is not a heartbeat block");
  void* addr = mmap(nullptr, kHeartbeatBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) return sys_error(errno, "mmap", "heartbeat block");
  *out = std::make_shared<HeartbeatBlock>(addr, kHeartbeatBytes);
  return {};
}

}  // namespace mcr
