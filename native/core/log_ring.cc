// Log ring, the send-error rate limiter and errno names for log codes.
#include "core/log_ring.h"

#include <cerrno>

namespace mcr {

bool LogRing::push(const LogEvent& event) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (events_.size() >= capacity_) return false;
  events_.push_back(event);
  return true;
}

std::vector<LogEvent> LogRing::drain() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<LogEvent> out(events_.begin(), events_.end());
  events_.clear();
  return out;
}

bool ErrorLogLimiter::report(int64_t slot, int err, const char* code, const char* message) {
  const uint64_t key = (static_cast<uint64_t>(slot + 1) << 32) | static_cast<uint32_t>(err);
  auto it = seen_.find(key);
  if (it != seen_.end()) {
    ++it->second.suppressed;
    return true;
  }
  seen_.emplace(key, Pending{code, message, err, slot, 0});
  return ring_->push(LogEvent{LogLevel::warn, code, message, err, slot, 1});
}

size_t ErrorLogLimiter::flush() {
  size_t lines = 0;
  for (auto& [key, pending] : seen_) {
    if (pending.suppressed == 0) continue;
    ring_->push(LogEvent{LogLevel::warn, pending.code, pending.message, pending.err, pending.slot, pending.suppressed});
    pending.suppressed = 0;
    ++lines;
  }
  return lines;
}

const char* errno_name(int err) {
  switch (err) {
    case EAGAIN: return "EAGAIN";
    case ENOBUFS: return "ENOBUFS";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case ENETDOWN: return "ENETDOWN";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EMSGSIZE: return "EMSGSIZE";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case ENOMEM: return "ENOMEM";
    case ECANCELED: return "ECANCELED";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    case ENXIO: return "ENXIO";
    case ENODEV: return "ENODEV";
    default: return "EUNKNOWN";
  }
}

}  // namespace mcr
