// Thin wrappers: argument checks here, the work in core/fd_channel and
// core/process_control, errors as Node-style system errors.
#include "addon/process_api.h"

#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "addon/napi_errors.h"
#include "core/fd_channel.h"
#include "core/heartbeat.h"
#include "core/peer_credentials.h"
#include "core/io_uring_probe.h"
#include "core/process_control.h"
#include "core/file_lock.h"
#include "core/unix_datagram.h"

namespace mcr {
namespace {

int32_t int_arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) throw coded_error(info.Env(), "ERR_MCR_INVALID_ARG", std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

void check(Napi::Env env, const SysError& e) {
  if (e.failed()) throw system_error(env, e);
}

Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw coded_error(info.Env(), "ERR_MCR_INVALID_ARG", "type must be 'seqpacket' or 'stream'");
  const std::string type = info[0].As<Napi::String>().Utf8Value();
  if (type != "seqpacket" && type != "stream")
    throw coded_error(info.Env(), "ERR_MCR_INVALID_ARG", "type must be 'seqpacket' or 'stream'");
  int fds[2];
  check(info.Env(), make_socketpair(type == "seqpacket" ? SOCK_SEQPACKET : SOCK_STREAM, fds));
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, fds[0]);
  out.Set(1u, fds[1]);
  return out;
}

Napi::Value SendFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int sock = int_arg(info, 0, "socket");
  if (!info[1].IsArray()) throw coded_error(env, "ERR_MCR_INVALID_ARG", "fds must be an array");
  if (!info[2].IsBuffer()) throw coded_error(env, "ERR_MCR_INVALID_ARG", "data must be a Buffer");
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<int> fds;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    fds.push_back(static_cast<int>(uint_arg(env, list.Get(i), "fds[" + std::to_string(i) + "] (a file descriptor)", INT32_MAX)));
  }
  Napi::Buffer<char> data = info[2].As<Napi::Buffer<char>>();
  check(env, send_fds(sock, fds, std::string(data.Data(), data.Length())));
  return env.Undefined();
}

Napi::Value RecvFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<int> fds;
  std::string data;
  const int32_t max_fds = info[2].IsUndefined() ? static_cast<int32_t>(kMaxPassedFds) : int_arg(info, 2, "maxFds");
  if (max_fds < 1 || max_fds > static_cast<int32_t>(kMaxPassedFds))
    throw coded_error(env, "ERR_MCR_INVALID_ARG", "maxFds must be 1.." + std::to_string(kMaxPassedFds));
  check(env, recv_fds(int_arg(info, 0, "socket"), int_arg(info, 1, "timeoutMs"), static_cast<size_t>(max_fds), &fds, &data));
  Napi::Object out = Napi::Object::New(env);
  Napi::Array list = Napi::Array::New(env, fds.size());
  for (uint32_t i = 0; i < fds.size(); ++i) list.Set(i, fds[i]);
  out.Set("fds", list);
  out.Set("data", Napi::Buffer<char>::Copy(env, data.data(), data.size()));
  return out;
}

Napi::Value PinToCpus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw coded_error(env, "ERR_MCR_INVALID_ARG", "cpus must be an array of CPU numbers");
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<int> cpus;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value v = list.Get(i);
    if (!v.IsNumber()) throw coded_error(env, "ERR_MCR_INVALID_ARG", "cpus must be an array of CPU numbers");
    cpus.push_back(v.As<Napi::Number>().Int32Value());
  }
  check(env, pin_to_cpus(cpus));
  return env.Undefined();
}

Napi::Value DieWithParent(const Napi::CallbackInfo& info) {
  check(info.Env(), die_with_parent(int_arg(info, 0, "signal"), int_arg(info, 1, "parentPid")));
  return info.Env().Undefined();
}

Napi::Value LookupUser(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw coded_error(info.Env(), "ERR_MCR_INVALID_ARG", "user must be a string");
  UserIds ids;
  check(info.Env(), lookup_user(info[0].As<Napi::String>().Utf8Value(), &ids));
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("uid", Napi::Number::New(info.Env(), ids.uid));
  out.Set("gid", Napi::Number::New(info.Env(), ids.gid));
  return out;
}

Napi::Value DropPrivileges(const Napi::CallbackInfo& info) {
  UserIds ids;
  ids.uid = static_cast<uid_t>(int_arg(info, 0, "uid"));
  ids.gid = static_cast<gid_t>(int_arg(info, 1, "gid"));
  check(info.Env(), drop_privileges(ids));
  return info.Env().Undefined();
}

Napi::Value RaiseOpenFiles(const Napi::CallbackInfo& info) {
  const int32_t wanted = int_arg(info, 0, "wanted");
  if (wanted < 0) throw coded_error(info.Env(), "ERR_MCR_INVALID_ARG", "wanted must be 0 or more");
  uint64_t now = 0;
  check(info.Env(), raise_open_files(static_cast<uint64_t>(wanted), &now));
  return Napi::Number::New(info.Env(), static_cast<double>(now));
}

// Argument 0 as a SCHED_FIFO priority (1..99).
int priority_arg(const Napi::CallbackInfo& info) {
  const int32_t priority = int_arg(info, 0, "priority");
  if (priority < 1 || priority > 99) throw coded_error(info.Env(), "ERR_MCR_INVALID_ARG", "priority must be 1..99");
  return priority;
}

// Before a worker gives up root: lets its real-time loop go back under
// SCHED_FIFO after stepping down from a saturation (realtime_guard.h).
Napi::Value AllowRealtimePriority(const Napi::CallbackInfo& info) {
  check(info.Env(), allow_realtime_priority(priority_arg(info)));
  return info.Env().Undefined();
}

// Before the loop starts in a worker that will switch user: a saturated
// real-time loop then steps down only where RLIMIT_RTPRIO lets it come back
// after the switch, not on the strength of root's CAP_SYS_NICE.
Napi::Value ExpectPrivilegeDrop(const Napi::CallbackInfo& info) {
  expect_privilege_drop(true);
  return info.Env().Undefined();
}

Napi::Value EffectiveCapabilities(const Napi::CallbackInfo& info) {
  uint64_t mask = 0;
  check(info.Env(), effective_capabilities(&mask));
  return Napi::BigInt::New(info.Env(), mask);
}

// mcrd's side of a worker's heartbeat block: a new memfd (handed to the
// worker) and a BigUint64Array over mcrd's own mapping of it, which stays
// valid after the fd is closed and is unmapped when the array is collected.
Napi::Value CreateHeartbeat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  check(env, create_heartbeat_fd(&fd));
  std::shared_ptr<HeartbeatBlock> block;
  const SysError e = map_heartbeat(fd, &block);
  if (e.failed()) {
    close(fd);
    throw system_error(env, e);
  }
  auto* keep = new std::shared_ptr<HeartbeatBlock>(block);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
      env, block->words(), block->bytes(), [](Napi::Env, void*, std::shared_ptr<HeartbeatBlock>* hold) { delete hold; },
      keep);
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("words", Napi::TypedArrayOf<uint64_t>::New(env, kHeartbeatWords, buffer, 0, napi_biguint64_array));
  return out;
}

// The control socket's caller (mcrd logs who changed what).
Napi::Value PeerCredentialsOf(const Napi::CallbackInfo& info) {
  PeerCredentials cred;
  check(info.Env(), peer_credentials(int_arg(info, 0, "fd"), &cred));
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("pid", Napi::Number::New(info.Env(), cred.pid));
  out.Set("uid", Napi::Number::New(info.Env(), cred.uid));
  out.Set("gid", Napi::Number::New(info.Env(), cred.gid));
  return out;
}

Napi::Value LookupGroup(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw coded_error(info.Env(), "ERR_MCR_INVALID_ARG", "group must be a string");
  gid_t gid = 0;
  check(info.Env(), lookup_group(info[0].As<Napi::String>().Utf8Value(), &gid));
  return Napi::Number::New(info.Env(), gid);
}

// mcrd's lock beside its control socket (core/file_lock.h): the held descriptor.
Napi::Value LockFile(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw coded_error(info.Env(), "ERR_MCR_INVALID_ARG", "path must be a string");
  int fd = -1;
  check(info.Env(), lock_file(info[0].As<Napi::String>().Utf8Value(), &fd));
  return Napi::Number::New(info.Env(), fd);
}

// One datagram to a unix datagram socket ($NOTIFY_SOCKET: supervisor/notify/).
Napi::Value SendUnixDatagram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw coded_error(env, "ERR_MCR_INVALID_ARG", "address must be a string");
  if (!info[1].IsBuffer()) throw coded_error(env, "ERR_MCR_INVALID_ARG", "data must be a Buffer");
  Napi::Buffer<char> data = info[1].As<Napi::Buffer<char>>();
  check(env, send_unix_datagram(info[0].As<Napi::String>().Utf8Value(), std::string(data.Data(), data.Length())));
  return env.Undefined();
}

// Can this process create the loop's ring, and which of its opcodes are missing (mcrd --check-host).
Napi::Value ProbeIoUring(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int32_t sq = int_arg(info, 0, "sqEntries");
  const int32_t cq = int_arg(info, 1, "cqEntries");
  if (sq < 1 || sq > 32768 || cq < sq || cq > 1 << 20) throw coded_error(env, "ERR_MCR_INVALID_ARG", "sqEntries 1..32768, cqEntries sqEntries..1048576");
  IoUringProbe probe;
  check(env, probe_io_uring(static_cast<unsigned>(sq), static_cast<unsigned>(cq), &probe));
  Napi::Object out = Napi::Object::New(env);
  out.Set("deferTaskrun", Napi::Boolean::New(env, probe.defer_taskrun));
  out.Set("features", Napi::Number::New(env, probe.features));
  out.Set("noIowait", Napi::Boolean::New(env, probe.no_iowait));
  Napi::Array missing = Napi::Array::New(env, probe.missing_ops.size());
  for (uint32_t i = 0; i < probe.missing_ops.size(); ++i) missing.Set(i, Napi::String::New(env, probe.missing_ops[i]));
  out.Set("missingOps", missing);
  return out;
}

Napi::Value ProbeThreadSlice(const Napi::CallbackInfo& info) {
  const int32_t us = int_arg(info, 0, "sliceUs");
  check(info.Env(), probe_thread_slice(uint64_t(static_cast<uint32_t>(us)) * 1000));
  return info.Env().Undefined();
}

Napi::Value ProbeThreadFifo(const Napi::CallbackInfo& info) {
  check(info.Env(), probe_thread_fifo(priority_arg(info)));
  return info.Env().Undefined();
}

}  // namespace

void register_process_api(Napi::Env env, Napi::Object exports) {
  exports.Set("socketPair", Napi::Function::New<SocketPair>(env, "socketPair"));
  exports.Set("sendFds", Napi::Function::New<SendFds>(env, "sendFds"));
  exports.Set("recvFds", Napi::Function::New<RecvFds>(env, "recvFds"));
  exports.Set("pinToCpus", Napi::Function::New<PinToCpus>(env, "pinToCpus"));
  exports.Set("dieWithParent", Napi::Function::New<DieWithParent>(env, "dieWithParent"));
  exports.Set("lookupUser", Napi::Function::New<LookupUser>(env, "lookupUser"));
  exports.Set("dropPrivileges", Napi::Function::New<DropPrivileges>(env, "dropPrivileges"));
  exports.Set("effectiveCapabilities", Napi::Function::New<EffectiveCapabilities>(env, "effectiveCapabilities"));
  exports.Set("createHeartbeat", Napi::Function::New<CreateHeartbeat>(env, "createHeartbeat"));
  exports.Set("sendUnixDatagram", Napi::Function::New<SendUnixDatagram>(env, "sendUnixDatagram"));
  exports.Set("lockFile", Napi::Function::New<LockFile>(env, "lockFile"));
  exports.Set("probeIoUring", Napi::Function::New<ProbeIoUring>(env, "probeIoUring"));
  exports.Set("probeThreadSlice", Napi::Function::New<ProbeThreadSlice>(env, "probeThreadSlice"));
  exports.Set("probeThreadFifo", Napi::Function::New<ProbeThreadFifo>(env, "probeThreadFifo"));
  exports.Set("raiseOpenFilesLimit", Napi::Function::New<RaiseOpenFiles>(env, "raiseOpenFilesLimit"));
  exports.Set("allowRealtimePriority", Napi::Function::New<AllowRealtimePriority>(env, "allowRealtimePriority"));
  exports.Set("expectPrivilegeDrop", Napi::Function::New<ExpectPrivilegeDrop>(env, "expectPrivilegeDrop"));
  exports.Set("peerCredentials", Napi::Function::New<PeerCredentialsOf>(env, "peerCredentials"));
  exports.Set("lookupGroup", Napi::Function::New<LookupGroup>(env, "lookupGroup"));
}

}  // namespace mcr
