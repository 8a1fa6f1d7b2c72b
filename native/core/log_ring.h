// Log events from the loop thread to the TS thread, which turns them into
// pino lines. The loop never formats strings or blocks on I/O: it pushes a
// small fixed record. A mutex guards the queue, which is fine because the
// rate limiter below keeps pushes to a handful per second whatever the
// packet rate; when the queue is full, events are counted and dropped.
// The TS thread drains the ring when told to, not on a timer: the first
// push after a drain calls the waker (the addon's thread-safe call into
// Node), later pushes add to the same wake-up. An idle worker then has
// nothing to wake its Node thread for (a 250 ms pump did, 4 times a second).
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace mcr {

enum class LogLevel : uint8_t { debug = 20, info = 30, warn = 40, error = 50 };

struct LogEvent {
  LogLevel level = LogLevel::info;
  const char* code = "";       // errno name or our own code, static string
  const char* message = "";    // static string
  int err = 0;                 // errno, 0 when none
  int64_t slot = -1;           // output slot the event is about, -1 for none
  uint64_t count = 1;          // how many occurrences this line stands for
};

class LogRing {
 public:
  explicit LogRing(size_t capacity = 1024) : capacity_(capacity) {}
  // Set before the first push (before the loop thread starts): called by
  // push(), outside the lock, for the first event after a drain.
  void set_waker(std::function<void()> waker) { waker_ = std::move(waker); }
  // False when full (the caller counts the loss).
  bool push(const LogEvent& event);
  // Pushes even when full (one past the capacity at most per caller): for
  // the loop's last word, MCR_LOOP_ENDED, which the Node side acts on (the
  // worker exits for a restart) and which a burst of send errors must not
  // crowd out.
  void push_last(const LogEvent& event);
  std::vector<LogEvent> drain();

 private:
  std::mutex mutex_;
  std::deque<LogEvent> events_;
  size_t capacity_;
  std::function<void()> waker_;
  bool woken_ = false;  // the waker was called and no drain has run since
};

// "First error of each kind is logged, then rate-limited": the first
// occurrence of a (slot, errno, kind) is pushed at once; later ones are
// counted and flushed as one summary line per interval. A kind that did
// not repeat since the last flush is forgotten at the flush: its next error is
// a first line again (a new outage, or a slot reused by another rule's
// output, is told as such), and the map holds only what failed lately,
// not every slot and errno a worker has seen in months of rule churn.
class ErrorLogLimiter {
 public:
  // What failed, beside the errno: a send, or the kernel refusing a
  // UDP_SEGMENT batch (also EMSGSIZE/EIO/EINVAL, but not a lost datagram).
  enum class Kind : uint32_t { send = 0, gso_refused = 1 };
  // `dropped`, when given, counts the first lines a full ring refused (the
  // loop's logs_dropped), so no caller has to.
  explicit ErrorLogLimiter(LogRing* ring, std::atomic<uint64_t>* dropped = nullptr) : ring_(ring), dropped_(dropped) {}
  // Returns false when the event had to be dropped (ring full).
  bool report(int64_t slot, int err, const char* code, const char* message, Kind kind = Kind::send);
  // Emits the suppressed counts and forgets the kinds quiet since the last
  // flush; call once per interval. Returns the summary lines pushed. The
  // loop's last flush (`last`) pushes past a full ring (push_last): there
  // is no next flush to keep a refused summary for.
  size_t flush(bool last = false);
  // How many (slot, errno, kind) it remembers now.
  size_t remembered() const { return seen_.size(); }

 private:
  struct Pending {
    const char* code;
    const char* message;
    int err;
    int64_t slot;
    uint64_t suppressed;
  };
  LogRing* ring_;
  std::atomic<uint64_t>* dropped_;
  std::unordered_map<uint64_t, Pending> seen_;
};

// The log code of an errno: its macro name from strerrorname_np(3)
// ("EADDRNOTAVAIL"), "E<number>" for a value in 1..4095 glibc cannot name,
// "EUNKNOWN" for anything that is no errno. Always a static string, so a
// LogEvent may keep it; no allocation or lock (called on the loop thread).
const char* errno_name(int err);

}  // namespace mcr
