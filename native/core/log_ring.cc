// Log ring, the send-error rate limiter and errno names for log codes. An
// errno's name comes from glibc (strerrorname_np), so every errno the kernel
// can return is logged by its name, not a catch-all; a number glibc cannot
// name is logged as "E<number>", never dropped.
#include "core/log_ring.h"

#include <string.h>

#include <cerrno>

namespace mcr {

bool LogRing::push(const LogEvent& event) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (events_.size() >= capacity_) return false;
    events_.push_back(event);
    wake = !woken_;
    woken_ = true;
  }
  if (wake && waker_) waker_();
  return true;
}

void LogRing::push_last(const LogEvent& event) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(event);
    wake = !woken_;
    woken_ = true;
  }
  if (wake && waker_) waker_();
}

std::vector<LogEvent> LogRing::drain() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<LogEvent> out(events_.begin(), events_.end());
  events_.clear();
  woken_ = false;
  return out;
}

bool ErrorLogLimiter::report(int64_t slot, int err, const char* code, const char* message, Kind kind) {
  // errno values stay under 4096 (kMaxErrno below): bit 16 up holds the kind.
  const uint64_t key = (static_cast<uint64_t>(slot + 1) << 32) | (static_cast<uint32_t>(err) & 0xffffu) |
                       (static_cast<uint32_t>(kind) << 16);
  auto it = seen_.find(key);
  if (it != seen_.end()) {
    ++it->second.suppressed;
    return true;
  }
  seen_.emplace(key, Pending{code, message, err, slot, 0});
  if (ring_->push(LogEvent{LogLevel::warn, code, message, err, slot, 1})) return true;
  // Single writer (the loop thread): a relaxed load and store, as CounterBlock::bump.
  if (dropped_ != nullptr) dropped_->store(dropped_->load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return false;
}

size_t ErrorLogLimiter::flush(bool last) {
  size_t lines = 0;
  for (auto it = seen_.begin(); it != seen_.end();) {
    Pending& pending = it->second;
    if (pending.suppressed == 0) {
      // Quiet since the last flush (or only its first line): forgotten.
      it = seen_.erase(it);
      continue;
    }
    // A full ring keeps the count for the next flush: a summary is
    // delayed, never lost.
    const LogEvent summary{LogLevel::warn, pending.code, pending.message, pending.err, pending.slot, pending.suppressed};
    if (last) {
      ring_->push_last(summary);
    } else if (!ring_->push(summary)) {
      ++it;
      continue;
    }
    pending.suppressed = 0;
    ++lines;
    ++it;
  }
  return lines;
}

namespace {

// The kernel's error returns are -1..-MAX_ERRNO (4095, include/linux/err.h).
constexpr int kMaxErrno = 4095;

// "E<number>" for every errno value glibc has no name for, built at compile
// time: a LogEvent keeps the pointer until the Node thread drains it, so the
// text must be static, and errno_name runs on the loop thread's error path,
// where it must neither allocate nor lock.
struct NumberedNames {
  char text[kMaxErrno + 1][8];  // "E4095" and its NUL fit in 6
};

constexpr NumberedNames make_numbered_names() {
  NumberedNames names{};
  for (int n = 0; n <= kMaxErrno; ++n) {
    char digits[4] = {0, 0, 0, 0};
    int len = 0;
    int rest = n;
    do {
      digits[len++] = static_cast<char>('0' + rest % 10);
      rest /= 10;
    } while (rest > 0);
    names.text[n][0] = 'E';
    for (int i = 0; i < len; ++i) names.text[n][1 + i] = digits[len - 1 - i];
    names.text[n][1 + len] = '\0';
  }
  return names;
}

constexpr NumberedNames kNumberedNames = make_numbered_names();

}  // namespace

const char* errno_name(int err) {
  if (err < 0 || err > kMaxErrno) return "EUNKNOWN";
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  // strerrorname_np(3), glibc 2.32: the errno's macro name ("EADDRNOTAVAIL"),
  // a static string, or NULL for a number glibc does not know.
  if (const char* name = ::strerrorname_np(err)) return name;
#endif
  return kNumberedNames.text[err];
}

}  // namespace mcr
