// JS functions for the supervisor ↔ worker handover and the worker's
// start-up: socketpairs, SCM_RIGHTS fd passing, CPU pinning, parent-death
// signal, user lookup and the privilege drop; and for the control socket,
// the peer's credentials and the group lookup.
#pragma once
#include <napi.h>

namespace mcr {

void register_process_api(Napi::Env env, Napi::Object exports);

}  // namespace mcr
