// Test payload format shared by mcrgen (writer) and mcrsink (checker).
//
// Every UDP payload the generator sends starts with an 18-byte header, all
// fields big-endian so a packet capture reads naturally:
//
//   offset 0   u16  magic     0x4D43 ("MC")
//   offset 2   u32  stream_id
//   offset 6   u64  seq       0, 1, 2 ... per stream
//   offset 14  u32  checksum  see below
//
// The bytes after the header are fill, written as little-endian 8-byte words
// from offset 18: words 0, 2, 4 ... come from one xorshift64 sequence and
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
// 9000-byte jumbo MTU minus 20 bytes IPv4 and 8 bytes UDP header.
inline constexpr size_t kPayloadMaxLen = 8972;
inline constexpr uint16_t kPayloadMagic = 0x4D43;

// Writes header, fill and checksum into buf[0..len). len must be at least
// kPayloadHeaderLen; shorter buffers are left untouched.
void payload_fill(uint8_t* buf, size_t len, uint32_t stream, uint64_t seq);

enum class PayloadCheck { ok, too_short, bad_magic, bad_checksum, bad_fill };

// Checks magic, checksum and that every fill byte is exactly what
// payload_fill would have written. *stream and *seq are set whenever the
// header could be read (result other than too_short / bad_magic), so callers
// can attribute damage; either pointer may be null.
PayloadCheck payload_verify(const uint8_t* buf, size_t len, uint32_t* stream, uint64_t* seq);

// Stable lower-case name for JSON keys: "ok", "too_short", "bad_magic", ...
const char* payload_check_name(PayloadCheck c);
