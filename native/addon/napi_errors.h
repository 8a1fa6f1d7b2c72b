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
// A JS number that must be an integer 0..max: anything else (a fraction,
// a negative, past max, not a number) throws ERR_MCR_INVALID_ARG naming
// `what`, rather than being cut to fit by Uint32Value().
uint32_t uint_arg(Napi::Env env, const Napi::Value& value, const std::string& what, uint32_t max);
// The same with a lower bound: an integer min..max.
uint32_t uint_arg(Napi::Env env, const Napi::Value& value, const std::string& what, uint32_t min, uint32_t max);

}  // namespace mcr
