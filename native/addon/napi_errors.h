// How errors cross into JavaScript: shaped like Node's own system errors
// (code, errno, syscall, message naming what failed), never a bare string.
#pragma once
#include <napi.h>

#include "core/sys_error.h"

namespace mcr {

// errno name from the C library ("EADDRNOTAVAIL"), or "E<number>".
std::string errno_code(int err);
Napi::Error system_error(Napi::Env env, const SysError& e);
Napi::Error system_error(Napi::Env env, int err, const char* syscall, const std::string& detail);
// Our own codes for bad arguments from JS (ERR_MCR_INVALID_ARG, ...).
Napi::Error coded_error(Napi::Env env, const char* code, const std::string& message);

}  // namespace mcr
