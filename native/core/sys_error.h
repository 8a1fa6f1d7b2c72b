// The error shape every core function that touches the system returns:
// errno plus the syscall that failed and what it was acting on, so the N-API
// boundary can build a Node-style system error (code, errno, syscall).
#pragma once
#include <string>

namespace mcr {

struct SysError {
  int err = 0;                 // positive errno; 0 = success
  const char* syscall = "";    // e.g. "bind"
  std::string detail;          // what it acted on, e.g. "10.0.0.1 on out0"
  bool failed() const { return err != 0; }
};

inline SysError sys_error(int err, const char* syscall, std::string detail) {
  return SysError{err, syscall, std::move(detail)};
}

}  // namespace mcr
