// Test payload format shared by mcrgen (writer) and mcrsink (checker).
//
// Every UDP payload the generator sends starts with an 18-byte header, all
// fields big-endian so a packet capture reads naturally:
//
//   offset 0   u16  magic     0x4D43 ("MC"), or 0x4D54 ("MT"): timestamped
//   offset 2   u32  stream_id
//   offset 6   u64  seq       0, 1, 2 ... per stream
//   offset 14  u32  checksum  see below
//
// The timestamped variant (magic "MT", mcrgen --timestamp) carries one more
// header field, so its header is 26 bytes:
//
//   offset 18  u64  send_ns   CLOCK_REALTIME nanoseconds since the epoch at
//                             which the datagram was handed to sendmmsg(2)
//
// The default ("MC") is the format every tool and test used before; the
// checker accepts both. CLOCK_REALTIME because the receiver compares it with
// the kernel's receive timestamp (SO_TIMESTAMPNS), which is CLOCK_REALTIME:
// both ends must share the clock, i.e. run on one host (or PTP-synced ones).
//
// The bytes after the header are fill, written as little-endian 8-byte words
// from the end of the header (offset 18, or 26 when timestamped): words 0,
// 2, 4 ... come from one xorshift64 sequence and
// words 1, 3, 5 ... from a second, both seeded from (stream_id, seq); a final
// partial word contributes its low bytes. Two interleaved sequences let the
// CPU compute them in parallel. Because the fill is a pure function of the
// header, the sink checks every byte without keeping copies, and a payload
// spliced from another packet is caught even when its checksum was
// recomputed.
//
// checksum is a 32-bit word-at-a-time hash over every payload byte except the
// 4 checksum bytes: one multiply-rotate chain takes bytes 0..7 and the even
// fill words, a second takes bytes 8..13 (zero-padded) and the odd fill
// words, and a final avalanche folds both into 32 bits. It exists to catch
// truncation, bit flips and header damage at line rate; it is not
// cryptographic. payload.cc is the normative definition of both.
#pragma once

#include <cstddef>
#include <cstdint>

inline constexpr size_t kPayloadHeaderLen = 18;
inline constexpr size_t kPayloadTimedHeaderLen = 26;
// 9000-byte jumbo MTU minus 20 bytes IPv4 and 8 bytes UDP header.
inline constexpr size_t kPayloadMaxLen = 8972;
inline constexpr uint16_t kPayloadMagic = 0x4D43;
inline constexpr uint16_t kPayloadMagicTimed = 0x4D54;

// Writes header, fill and checksum into buf[0..len). len must be at least
// kPayloadHeaderLen; shorter buffers are left untouched.
void payload_fill(uint8_t* buf, size_t len, uint32_t stream, uint64_t seq);

// The timestamped variant in two steps: payload_fill_timed writes the header
// (send_ns still zero) and the fill and returns the running hash, which
// payload_stamp needs to write send_ns and the checksum. Between the two the
// caller may take as long as it likes (e.g. fill a whole batch); stamping
// again with a later time (a resend) is fine. len must be at least
// kPayloadTimedHeaderLen; shorter buffers are left untouched (returns 0).
uint64_t payload_fill_timed(uint8_t* buf, size_t len, uint32_t stream, uint64_t seq);
void payload_stamp(uint8_t* buf, size_t len, uint64_t partial_hash, uint64_t send_ns);

enum class PayloadCheck { ok, too_short, bad_magic, bad_checksum, bad_fill };

// Checks magic, checksum and that every fill byte is exactly what
// payload_fill would have written. *stream and *seq are set whenever the
// header could be read (result other than too_short / bad_magic), so callers
// can attribute damage; either pointer may be null.
PayloadCheck payload_verify(const uint8_t* buf, size_t len, uint32_t* stream, uint64_t* seq);

// The same check, also reporting the send time: *send_ns is set to the
// stamped time for a timestamped payload and to 0 for a plain one (0 is not
// a time mcrgen can stamp), whenever *stream and *seq are set.
PayloadCheck payload_verify_timed(const uint8_t* buf, size_t len, uint32_t* stream, uint64_t* seq,
                                  uint64_t* send_ns);

// Stable lower-case name for JSON keys: "ok", "too_short", "bad_magic", ...
const char* payload_check_name(PayloadCheck c);
