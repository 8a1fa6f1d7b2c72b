// Tests for the fd channel: mcr::parse_fd_message on hand-built recvmsg()
// results (SCM_RIGHTS fds and payload, other control messages skipped,
// MSG_CTRUNC / MSG_TRUNC / a return longer than the buffer, the peer
// closing, fds appended rather than replacing what the vector held) with
// the control data in an exact-size heap block, so a read past it would be
// an out-of-bounds read under a sanitizer and garbage fds without one; the
// two malformed control messages the fuzzer found (tests/fuzz, docs/
// reliability.md) as regressions; and recv_fds over a real socketpair
// (fds arrive close-on-exec, more fds than allowed is EMSGSIZE and leaks
// none).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/fd_channel.h"
#include "tests/test_harness.h"

namespace {

// One received message: control data and payload in exact-size heap blocks,
// a msghdr pointing at them as recvmsg() would leave it.
class Received {
 public:
  Received(std::vector<unsigned char> control, std::string payload, int flags = 0)
      : control_(control.empty() ? nullptr : new unsigned char[control.size()]),
        payload_(new char[payload.size() + 1]) {
    if (!control.empty()) std::memcpy(control_.get(), control.data(), control.size());
    std::memcpy(payload_.get(), payload.data(), payload.size());
    iov_ = iovec{payload_.get(), payload.size()};
    msg_.msg_iov = &iov_;
    msg_.msg_iovlen = 1;
    msg_.msg_control = control_.get();
    msg_.msg_controllen = control.size();
    msg_.msg_flags = flags;
  }
  const msghdr& msg() const { return msg_; }

 private:
  std::unique_ptr<unsigned char[]> control_;
  std::unique_ptr<char[]> payload_;
  iovec iov_{};
  msghdr msg_{};
};

// A control message as the kernel lays it out: header, data, padding to CMSG_SPACE.
std::vector<unsigned char> cmsg(int level, int type, const void* data, size_t len, size_t claimed_len = 0) {
  std::vector<unsigned char> out(CMSG_SPACE(len), 0);
  cmsghdr h{};
  h.cmsg_len = claimed_len != 0 ? claimed_len : CMSG_LEN(len);
  h.cmsg_level = level;
  h.cmsg_type = type;
  std::memcpy(out.data(), &h, sizeof(h));
  if (len != 0) std::memcpy(out.data() + CMSG_LEN(0), data, len);
  return out;
}

std::vector<unsigned char> rights(std::vector<int> fds) {
  return cmsg(SOL_SOCKET, SCM_RIGHTS, fds.data(), fds.size() * sizeof(int));
}

std::vector<unsigned char> concat(std::vector<unsigned char> a, const std::vector<unsigned char>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

size_t open_fd_count() {
  size_t n = 0;
  for (int fd = 0; fd < 1024; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1) ++n;
  }
  return n;
}

TEST(fd_message_gives_fds_and_payload) {
  Received r(rights({7, 9}), "mcr-handover-v1");
  std::vector<int> fds;
  std::string data;
  const mcr::SysError err = mcr::parse_fd_message(r.msg(), 15, &fds, &data);
  CHECK_EQ(err.err, 0);
  REQUIRE(fds.size() == 2);
  CHECK_EQ(fds[0], 7);
  CHECK_EQ(fds[1], 9);
  CHECK_EQ(data, std::string("mcr-handover-v1"));
}

TEST(fd_message_skips_other_control_messages) {
  const unsigned char creds[12] = {1, 2, 3};
  const int fd = 5;
  Received r(concat(concat(cmsg(SOL_SOCKET, SCM_CREDENTIALS, creds, sizeof(creds)), cmsg(41, SCM_RIGHTS, &fd, sizeof(fd))),
                    rights({11})),
             "x");
  std::vector<int> fds;
  std::string data;
  CHECK_EQ(mcr::parse_fd_message(r.msg(), 1, &fds, &data).err, 0);
  REQUIRE(fds.size() == 1);
  CHECK_EQ(fds[0], 11);
}

TEST(fd_message_appends_to_the_vector) {
  Received r(rights({4}), "x");
  std::vector<int> fds{100};
  std::string data;
  CHECK_EQ(mcr::parse_fd_message(r.msg(), 1, &fds, &data).err, 0);
  REQUIRE(fds.size() == 2);
  CHECK_EQ(fds[0], 100);
  CHECK_EQ(fds[1], 4);
}

TEST(fd_message_truncated_control_is_emsgsize_with_the_fds_to_close) {
  Received r(rights({3, 4}), "x", MSG_CTRUNC);
  std::vector<int> fds;
  std::string data = "unchanged";
  const mcr::SysError err = mcr::parse_fd_message(r.msg(), 1, &fds, &data);
  CHECK_EQ(err.err, EMSGSIZE);
  CHECK(std::string(err.detail).find("MSG_CTRUNC") != std::string::npos);
  CHECK_EQ(fds.size(), 2u);  // handed back so recv_fds can close them
  CHECK_EQ(data, std::string("unchanged"));
}

TEST(fd_message_truncated_payload_is_emsgsize) {
  Received r({}, "12345678", MSG_TRUNC);
  std::vector<int> fds;
  std::string data;
  CHECK_EQ(mcr::parse_fd_message(r.msg(), 8, &fds, &data).err, EMSGSIZE);
  // A return value longer than the buffer is never copied from.
  Received longer({}, "1234");
  CHECK_EQ(mcr::parse_fd_message(longer.msg(), 5, &fds, &data).err, EMSGSIZE);
  CHECK(data.empty());
}

TEST(fd_message_nothing_is_peer_closed) {
  Received r({}, "");
  std::vector<int> fds{100};  // fds already held do not count as received
  std::string data;
  CHECK_EQ(mcr::parse_fd_message(r.msg(), 0, &fds, &data).err, ECONNRESET);
  // Fds without payload are a message.
  Received only_fds(rights({6}), "");
  std::vector<int> got;
  CHECK_EQ(mcr::parse_fd_message(only_fds.msg(), 0, &got, &data).err, 0);
  CHECK_EQ(got.size(), 1u);
}

// Regression (fuzzer, 2026-12): a cmsg_len larger than the control data was
// trusted, and the fds "in" it were read from past the control buffer.
TEST(fd_message_cmsg_longer_than_control_data_is_eproto) {
  std::vector<unsigned char> control = rights({21, 22});  // 24 bytes
  cmsghdr h;
  std::memcpy(&h, control.data(), sizeof(h));
  h.cmsg_len = 152;
  std::memcpy(control.data(), &h, sizeof(h));
  Received r(control, "mcr-handover-v1");
  std::vector<int> fds;
  std::string data;
  const mcr::SysError err = mcr::parse_fd_message(r.msg(), 15, &fds, &data);
  CHECK_EQ(err.err, EPROTO);
  CHECK(fds.empty());
}

// Regression (fuzzer, 2026-12): a cmsg_len shorter than the header made the
// fd count (cmsg_len - CMSG_LEN(0)) / 4 wrap to about 2^62.
TEST(fd_message_cmsg_shorter_than_header_is_eproto) {
  const int fd = 5;
  Received r(cmsg(SOL_SOCKET, SCM_RIGHTS, &fd, sizeof(fd), 8), "data");
  std::vector<int> fds;
  std::string data;
  CHECK_EQ(mcr::parse_fd_message(r.msg(), 4, &fds, &data).err, EPROTO);
  CHECK(fds.empty());
  // A malformed message after a good one: the good one's fds are handed back.
  std::vector<unsigned char> bad = rights({8});
  bad[0] = 3;  // cmsg_len (little-endian low byte) = 3
  Received after(concat(rights({7}), bad), "data");
  CHECK_EQ(mcr::parse_fd_message(after.msg(), 4, &fds, &data).err, EPROTO);
  REQUIRE(fds.size() == 1);
  CHECK_EQ(fds[0], 7);
}

TEST(fd_message_short_tail_after_a_message_is_ignored) {
  std::vector<unsigned char> control = rights({12});
  control.resize(control.size() + 8, 0);  // less than a header: padding, not a message
  Received r(control, "d");
  std::vector<int> fds;
  std::string data;
  CHECK_EQ(mcr::parse_fd_message(r.msg(), 1, &fds, &data).err, 0);
  CHECK_EQ(fds.size(), 1u);
}

TEST(recv_fds_over_a_socketpair) {
  int sp[2];
  REQUIRE(!mcr::make_socketpair(SOCK_SEQPACKET, sp).failed());
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  CHECK(!mcr::send_fds(sp[0], {pipe_fds[0], pipe_fds[1]}, "hello").failed());
  std::vector<int> fds;
  std::string data;
  const mcr::SysError err = mcr::recv_fds(sp[1], 1000, 2, &fds, &data);
  CHECK_EQ(err.err, 0);
  CHECK_EQ(data, std::string("hello"));
  REQUIRE(fds.size() == 2);
  CHECK((::fcntl(fds[0], F_GETFD) & FD_CLOEXEC) != 0);
  // The received write end feeds the original read end.
  CHECK_EQ(::write(fds[1], "z", 1), 1);
  char c = 0;
  CHECK_EQ(::read(pipe_fds[0], &c, 1), 1);
  CHECK(c == 'z');
  for (int fd : fds) ::close(fd);

  // More fds than allowed: EMSGSIZE, and what did arrive is closed.
  const size_t before = open_fd_count();
  CHECK(!mcr::send_fds(sp[0], {pipe_fds[0], pipe_fds[1], pipe_fds[0]}, "three").failed());
  std::vector<int> none;
  CHECK_EQ(mcr::recv_fds(sp[1], 1000, 2, &none, &data).err, EMSGSIZE);
  CHECK(none.empty());
  CHECK_EQ(open_fd_count(), before);

  // One more than an odd maximum: CMSG_SPACE's rounding leaves room for it,
  // and the kernel reports no truncation; refused all the same.
  CHECK(!mcr::send_fds(sp[0], {pipe_fds[0], pipe_fds[1], pipe_fds[0], pipe_fds[1]}, "four").failed());
  CHECK_EQ(mcr::recv_fds(sp[1], 1000, 3, &none, &data).err, EMSGSIZE);
  CHECK(none.empty());
  CHECK_EQ(open_fd_count(), before);

  // The peer closing reads as ECONNRESET.
  ::close(sp[0]);
  CHECK_EQ(mcr::recv_fds(sp[1], 1000, 2, &none, &data).err, ECONNRESET);
  ::close(sp[1]);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

}  // namespace
