// Node-style system errors for the addon.
#include "addon/napi_errors.h"

#include <cstring>
#include <string>

namespace mcr {

std::string errno_code(int err) {
  const char* name = ::strerrorname_np(err);
  return name != nullptr ? name : "E" + std::to_string(err);
}

Napi::Error system_error(Napi::Env env, const SysError& e) { return system_error(env, e.err, e.syscall, e.detail); }

Napi::Error system_error(Napi::Env env, int err, const char* syscall, const std::string& detail) {
  const std::string code = errno_code(err);
  std::string message = code + ": " + syscall;
  if (!detail.empty()) message += " " + detail;
  message += ": ";
  message += ::strerror(err);
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, -err));  // negative, as Node reports it
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

Napi::Error coded_error(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

uint32_t uint_arg(Napi::Env env, const Napi::Value& value, const std::string& what, uint32_t max) {
  if (!value.IsNumber()) throw coded_error(env, "ERR_MCR_INVALID_ARG", what + " must be a number");
  return uint_arg(env, value, what, 0, max);
}

uint32_t uint_arg(Napi::Env env, const Napi::Value& value, const std::string& what, uint32_t min, uint32_t max) {
  const double d = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1;
  // !(d >= min) also refuses NaN, before any cast of it (undefined behaviour).
  if (!(d >= min) || d > max || d != static_cast<double>(static_cast<uint32_t>(d)))
    throw coded_error(env, "ERR_MCR_INVALID_ARG", what + " must be an integer " + std::to_string(min) + ".." + std::to_string(max));
  return static_cast<uint32_t>(d);
}

}  // namespace mcr
