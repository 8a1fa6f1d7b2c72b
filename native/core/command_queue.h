// Commands from the TS thread to the loop thread: a mutex-guarded queue plus
// an eventfd that the loop keeps a read posted on in its ring. The lock is
// taken once per command batch, never per packet. Each command carries a
// sequence number; the loop reports (seq, result) back through `completed`.
#pragma once
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/rule_table.h"

namespace mcr {

struct Command {
  enum class Kind : uint8_t { add_rule, remove_rule, replace_rules, stop };
  Kind kind = Kind::stop;
  uint64_t seq = 0;
  uint32_t rule_id = 0;                          // remove_rule
  std::unique_ptr<Rule> rule;                    // add_rule
  std::vector<std::unique_ptr<Rule>> rules;      // replace_rules
};

struct CommandResult {
  uint64_t seq;
  int result;  // 0 or -errno
};

class CommandQueue {
 public:
  CommandQueue() : event_fd_(::eventfd(0, EFD_CLOEXEC)) {}
  ~CommandQueue() {
    if (event_fd_ >= 0) ::close(event_fd_);
  }
  CommandQueue(const CommandQueue&) = delete;
  CommandQueue& operator=(const CommandQueue&) = delete;

  int event_fd() const { return event_fd_; }

  // TS thread. Returns 0 or -errno if the wake-up could not be written.
  int post(Command cmd) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pending_.push_back(std::move(cmd));
    }
    const uint64_t one = 1;
    return ::write(event_fd_, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
  }

  // Loop thread: everything posted so far, in order.
  std::vector<Command> take() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Command> out;
    out.swap(pending_);
    return out;
  }

  void complete(uint64_t seq, int result) {
    std::lock_guard<std::mutex> lock(mutex_);
    completed_.push_back(CommandResult{seq, result});
  }

  std::vector<CommandResult> take_completed() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<CommandResult> out;
    out.swap(completed_);
    return out;
  }

 private:
  int event_fd_;
  std::mutex mutex_;
  std::vector<Command> pending_;
  std::vector<CommandResult> completed_;
};

}  // namespace mcr
