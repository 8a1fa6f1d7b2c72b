// libFuzzer harness for mcr::parse_fd_message (native/core/fd_channel.cc):
// what the fd channel reads out of one recvmsg() result, the control
// messages (SCM_RIGHTS descriptors) and the payload, without a socket.
// Input layout (tests/fuzz/make-corpus.ts writes seeds in it):
//   u8  mode     bit 0: MSG_CTRUNC in msg_flags, bit 1: MSG_TRUNC,
//                bit 3: recvmsg "returned" more than the payload buffer,
//                bit 4: the control bytes are a recipe for well-formed
//                control messages (below) instead of raw control data,
//                bit 5: no payload buffer at all (msg_iov null, got 0)
//   u16 got      recvmsg's return value (taken modulo the buffer size + 1)
//   u16 clen     how many of the next bytes are control data / recipe
//   ...          clen bytes, then the payload buffer (the rest)
// Recipe: repeated u8 kind; kind % 3 == 0: SCM_RIGHTS with u8 % 17 fds
// (u32 each), 1: SCM_CREDENTIALS, 2: a message at another level.
// Checked, besides what ASan/UBSan catch: the fds returned are exactly the
// ones in well-formed SCM_RIGHTS messages before any malformed one (a
// reference walk of cmsg(3)'s layout; for a recipe, exactly the fds it put
// in), the error is the one the flags and lengths call for, and a success
// returns the payload's first `got` bytes. Descriptors are only numbers
// here: parse_fd_message never closes anything.
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/fd_channel.h"
#include "fuzz/fuzz_support.h"

namespace {

using mcrfuzz::ByteReader;

struct Walk {
  std::vector<int> fds;
  bool malformed = false;
};

// cmsg(3): a header {size_t len; int level; int type;} padded to
// CMSG_ALIGN, the data after it, the next header CMSG_ALIGN(len) further.
Walk reference_walk(const uint8_t* c, size_t n) {
  Walk w;
  size_t off = 0;
  while (off < n && n - off >= sizeof(cmsghdr)) {
    size_t len;
    int level, type;
    std::memcpy(&len, c + off + offsetof(cmsghdr, cmsg_len), sizeof(len));
    std::memcpy(&level, c + off + offsetof(cmsghdr, cmsg_level), sizeof(level));
    std::memcpy(&type, c + off + offsetof(cmsghdr, cmsg_type), sizeof(type));
    if (len < CMSG_LEN(0) || len > n - off) {
      w.malformed = true;
      break;
    }
    if (level == SOL_SOCKET && type == SCM_RIGHTS) {
      for (size_t i = 0; i < (len - CMSG_LEN(0)) / sizeof(int); ++i) {
        int fd;
        std::memcpy(&fd, c + off + CMSG_LEN(0) + i * sizeof(int), sizeof(fd));
        w.fds.push_back(fd);
      }
    }
    off += CMSG_ALIGN(len);
  }
  return w;
}

// Well-formed control data built the way send_fds and the kernel lay it out.
std::vector<uint8_t> build_control(ByteReader in, std::vector<int>* fds) {
  std::vector<uint8_t> out;
  while (!in.empty()) {
    const uint8_t kind = in.u8() % 3;
    std::vector<uint8_t> body;
    int level = SOL_SOCKET, type = SCM_RIGHTS;
    if (kind == 0) {
      const size_t n = in.u8() % 17;
      for (size_t i = 0; i < n; ++i) {
        const int fd = static_cast<int>(in.u32());
        fds->push_back(fd);
        body.resize(body.size() + sizeof(int));
        std::memcpy(body.data() + body.size() - sizeof(int), &fd, sizeof(int));
      }
    } else if (kind == 1) {
      type = SCM_CREDENTIALS;
      body.assign(12, 0x11);  // struct ucred
    } else {
      level = 0x7a;  // some other protocol's control message
      body.assign(in.u8() % 24, 0x22);
    }
    const size_t at = out.size();
    out.resize(at + CMSG_SPACE(body.size()), 0);
    cmsghdr h{};
    h.cmsg_len = CMSG_LEN(body.size());
    h.cmsg_level = level;
    h.cmsg_type = type;
    std::memcpy(out.data() + at, &h, sizeof(h));
    if (!body.empty()) std::memcpy(out.data() + at + CMSG_LEN(0), body.data(), body.size());
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteReader in(data, size);
  const uint8_t mode = in.u8();
  const uint16_t got_raw = in.u16();
  const uint16_t clen = in.u16();
  const uint8_t* control_bytes;
  const size_t control_n = in.bytes(clen, &control_bytes);
  const uint8_t* payload_bytes;
  const size_t room = in.rest(&payload_bytes);

  std::vector<int> recipe_fds;
  std::vector<uint8_t> control = (mode & 0x10) != 0 ? build_control(ByteReader(control_bytes, control_n), &recipe_fds)
                                                    : std::vector<uint8_t>(control_bytes, control_bytes + control_n);
  // Exact-size blocks (malloc aligns them for cmsghdr, as a real control
  // buffer is), so a read one past the end is an ASan report.
  void* control_block = control.empty() ? nullptr : std::malloc(control.size());
  if (control_block != nullptr) std::memcpy(control_block, control.data(), control.size());
  void* payload_block = std::malloc(room == 0 ? 1 : room);
  if (room != 0) std::memcpy(payload_block, payload_bytes, room);

  const bool no_iov = (mode & 0x20) != 0;
  size_t got = got_raw % (room + 1);
  if ((mode & 0x08) != 0) got = room + 1 + got_raw % 8;
  if (no_iov) got = (mode & 0x08) != 0 ? 1 : 0;

  iovec iov{payload_block, room};
  msghdr msg{};
  msg.msg_iov = no_iov ? nullptr : &iov;
  msg.msg_iovlen = no_iov ? 0 : 1;
  msg.msg_control = control_block;
  msg.msg_controllen = control.size();
  msg.msg_flags = ((mode & 0x01) != 0 ? MSG_CTRUNC : 0) | ((mode & 0x02) != 0 ? MSG_TRUNC : 0);

  std::vector<int> fds{-42};  // appended to, never cleared
  std::string payload = "untouched";
  const mcr::SysError err = mcr::parse_fd_message(msg, got, &fds, &payload);
  FUZZ_CHECK(!fds.empty() && fds[0] == -42);
  fds.erase(fds.begin());

  const Walk want = reference_walk(control.data(), control.size());
  FUZZ_CHECK(fds == want.fds);
  if ((mode & 0x10) != 0) {
    FUZZ_CHECK(!want.malformed);
    FUZZ_CHECK(fds == recipe_fds);
  }
  FUZZ_CHECK(fds.size() <= control.size() / sizeof(int));

  const bool truncated = msg.msg_flags != 0 || got > (no_iov ? 0 : room);
  if (want.malformed) {
    FUZZ_CHECK(err.err == EPROTO);
  } else if (truncated) {
    FUZZ_CHECK(err.err == EMSGSIZE);
  } else if (got == 0 && fds.empty()) {
    FUZZ_CHECK(err.err == ECONNRESET);
  } else {
    FUZZ_CHECK(!err.failed());
    FUZZ_CHECK(payload.size() == got);
    FUZZ_CHECK(got == 0 || std::memcmp(payload.data(), payload_bytes, got) == 0);
  }
  if (err.failed()) FUZZ_CHECK(payload == "untouched");

  std::free(control_block);
  std::free(payload_block);
  return 0;
}
