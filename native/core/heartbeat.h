// The worker loop's heartbeat, in a few words of shared memory (a memfd)
// that mcrd maps too: the loop thread stores its turn count there every
// turn, and mcrd's watchdog reads it to tell a worker that stopped making
// progress (SIGSTOP, a stuck syscall) from one that is merely idle, without
// the worker having to send anything. The loop's stats timer makes a turn at
// least every stats interval (100 ms by default), so an idle loop still
// beats. One writer (the loop thread), readers in any process: plain
// aligned 64-bit relaxed stores and loads, never torn.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/sys_error.h"

namespace mcr {

// Words in the block; word 0 is the loop's turn count, the rest reserved
// (zero) for later health fields. 64 bytes: one cache line.
constexpr size_t kHeartbeatWords = 8;

// A MAP_SHARED mapping of a heartbeat memfd, unmapped when the last owner
// lets go (the loop thread and the N-API buffers over it share it).
class HeartbeatBlock {
 public:
  HeartbeatBlock(void* addr, size_t bytes) : addr_(addr), bytes_(bytes) {}
  ~HeartbeatBlock();
  HeartbeatBlock(const HeartbeatBlock&) = delete;
  HeartbeatBlock& operator=(const HeartbeatBlock&) = delete;

  uint64_t* words() const { return static_cast<uint64_t*>(addr_); }
  size_t bytes() const { return bytes_; }
  void beat(uint64_t value) const { __atomic_store_n(&words()[0], value, __ATOMIC_RELAXED); }

 private:
  void* addr_;
  size_t bytes_;
};

// memfd_create (close-on-exec) sized to kHeartbeatWords, zero-filled.
SysError create_heartbeat_fd(int* fd);

// Maps a heartbeat memfd read-write and shared. Refuses (EINVAL) an fd that
// is smaller than the block, so a wrong fd in the handover is an error, not
// a SIGBUS on the first beat. The fd can be closed afterwards.
SysError map_heartbeat(int fd, std::shared_ptr<HeartbeatBlock>* out);

}  // namespace mcr
