// Tests for the test payload (tools/payload.h): both formats verify byte for
// byte, the timestamped one carries its send time, covered by the checksum,
// a restamp (resend) stays valid, and the plain format is unchanged by the
// timestamped variant (same bytes as before it existed: a fixed checksum).
#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/test_harness.h"
#include "tools/payload.h"

namespace {

TEST(payload_plain_format_round_trips_and_is_unchanged) {
  std::vector<uint8_t> buf(64);
  payload_fill(buf.data(), buf.size(), 7, 42);
  uint32_t stream = 0;
  uint64_t seq = 0, ns = 1;
  CHECK(payload_verify_timed(buf.data(), buf.size(), &stream, &seq, &ns) == PayloadCheck::ok);
  CHECK_EQ(stream, 7u);
  CHECK_EQ(seq, 42u);
  CHECK_EQ(ns, 0u);  // plain: no send time
  CHECK_EQ(buf[0], 0x4D);
  CHECK_EQ(buf[1], 0x43);
  // The checksum of this payload as written before the timestamped variant
  // existed (payload.cc at commit 4266604): the plain format did not move.
  const uint32_t sum = (uint32_t{buf[14]} << 24) | (uint32_t{buf[15]} << 16) | (uint32_t{buf[16]} << 8) | buf[17];
  CHECK_EQ(sum, 0x9787F685u);
}

TEST(payload_timestamped_format_carries_the_send_time) {
  for (size_t len : {size_t{26}, size_t{27}, size_t{64}, size_t{1400}}) {
    std::vector<uint8_t> buf(len);
    const uint64_t partial = payload_fill_timed(buf.data(), len, 3, 1000);
    payload_stamp(buf.data(), len, partial, 1'764'820'000'123'456'789ull);
    uint32_t stream = 0;
    uint64_t seq = 0, ns = 0;
    CHECK(payload_verify_timed(buf.data(), len, &stream, &seq, &ns) == PayloadCheck::ok);
    CHECK_EQ(stream, 3u);
    CHECK_EQ(seq, 1000u);
    CHECK_EQ(ns, 1'764'820'000'123'456'789ull);
    CHECK_EQ(buf[1], 0x54);  // magic "MT"
    CHECK(payload_verify(buf.data(), len, nullptr, nullptr) == PayloadCheck::ok);
  }
}

TEST(payload_restamp_stays_valid) {
  std::vector<uint8_t> buf(200);
  const uint64_t partial = payload_fill_timed(buf.data(), buf.size(), 1, 5);
  payload_stamp(buf.data(), buf.size(), partial, 100);
  payload_stamp(buf.data(), buf.size(), partial, 200);
  uint64_t ns = 0;
  CHECK(payload_verify_timed(buf.data(), buf.size(), nullptr, nullptr, &ns) == PayloadCheck::ok);
  CHECK_EQ(ns, 200u);
}

TEST(payload_timestamped_damage_is_caught) {
  std::vector<uint8_t> good(64);
  payload_stamp(good.data(), good.size(), payload_fill_timed(good.data(), good.size(), 1, 9), 123456789);
  // Every single bit flip anywhere is caught (checksum or fill).
  for (size_t byte = 0; byte < good.size(); byte++) {
    for (int bit = 0; bit < 8; bit++) {
      std::vector<uint8_t> bad = good;
      bad[byte] ^= static_cast<uint8_t>(1 << bit);
      CHECK(payload_verify(bad.data(), bad.size(), nullptr, nullptr) != PayloadCheck::ok);
    }
  }
  // The send time is covered by the checksum.
  std::vector<uint8_t> bad = good;
  bad[25] ^= 1;
  CHECK(payload_verify(bad.data(), bad.size(), nullptr, nullptr) == PayloadCheck::bad_checksum);
  // Too short for its send time, and a timestamped header on a plain body.
  CHECK(payload_verify(good.data(), 20, nullptr, nullptr) == PayloadCheck::too_short);
  std::vector<uint8_t> plain(64);
  payload_fill(plain.data(), plain.size(), 1, 9);
  plain[1] = 0x54;
  CHECK(payload_verify(plain.data(), plain.size(), nullptr, nullptr) != PayloadCheck::ok);
  // Short buffers are left untouched.
  std::vector<uint8_t> tiny(25, 0xAA);
  CHECK_EQ(payload_fill_timed(tiny.data(), tiny.size(), 1, 1), 0u);
  CHECK_EQ(tiny[0], 0xAA);
}

}  // namespace
