// Shared by the libFuzzer harnesses in native/fuzz (built by
// tests/fuzz/build.sh, run by `npm run fuzz`): an invariant check that
// aborts with the failed expression (libFuzzer records the input as a
// crash), exact-size copies so AddressSanitizer sees one byte past the end
// as an overflow, and a forward byte reader that turns the fuzzer's input
// into operations and fields (read from the front, so hand-written seeds in
// tests/fuzz/corpus read the way they are laid out); and where a netlink
// buffer splits after its first message, for the netlink harnesses.
#pragma once
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#define FUZZ_CHECK(expr)                                                                      \
  do {                                                                                        \
    if (!(expr)) {                                                                            \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s at %s:%d\n", #expr, __FILE__, __LINE__);    \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)

namespace mcrfuzz {

// Where a netlink receive buffer splits after its first message (its
// nlmsg_len rounded up to 4), or 0 when that message is not whole and
// padded in the buffer: the harnesses parse the halves one after the other
// and compare with the whole.
inline size_t first_message_cut(const uint8_t* data, size_t size) {
  if (size < sizeof(nlmsghdr)) return 0;
  uint32_t first_len;
  std::memcpy(&first_len, data, sizeof(first_len));  // nlmsg_len comes first
  const size_t cut = (static_cast<size_t>(first_len) + 3) & ~size_t{3};
  return first_len >= sizeof(nlmsghdr) && cut <= size ? cut : 0;
}

// `n` bytes copied into a heap block of exactly `n + shift` bytes, starting
// `shift` bytes in: the copy ends where the allocation ends (a read past it
// is a heap-buffer-overflow) and, with an odd shift, it is misaligned (an
// unaligned typed load is a UBSan report).
class ExactCopy {
 public:
  ExactCopy(const uint8_t* data, size_t n, size_t shift = 0)
      : block_(new uint8_t[n + shift == 0 ? 1 : n + shift]), shift_(shift) {
    if (n != 0) std::memcpy(block_.get() + shift, data, n);
  }
  const uint8_t* data() const { return block_.get() + shift_; }
  uint8_t* data() { return block_.get() + shift_; }

 private:
  std::unique_ptr<uint8_t[]> block_;
  size_t shift_;
};

// Reads fields from the front of the input; past the end every read is 0
// and `empty()` is true, so a harness loop ends on its own.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t n) : p_(data), n_(n) {}
  bool empty() const { return n_ == 0; }
  size_t remaining() const { return n_; }
  uint8_t u8() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  // Big-endian; the two reads are separate statements because the order in
  // which the operands of `|` are evaluated is unspecified.
  uint16_t u16() {
    const uint8_t hi = u8();
    return static_cast<uint16_t>((hi << 8) | u8());
  }
  uint32_t u32() {
    const uint16_t hi = u16();
    return (uint32_t{hi} << 16) | u16();
  }
  // The next `want` bytes (fewer if the input ends); returns how many.
  size_t bytes(size_t want, const uint8_t** out) {
    const size_t got = want < n_ ? want : n_;
    *out = p_;
    p_ += got;
    n_ -= got;
    return got;
  }
  // Everything left.
  size_t rest(const uint8_t** out) { return bytes(n_, out); }

 private:
  const uint8_t* p_;
  size_t n_;
};

}  // namespace mcrfuzz
