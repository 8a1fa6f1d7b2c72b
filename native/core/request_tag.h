// How the loop names its requests in the ring: the top byte of an SQE's
// user_data says which kind of request completed, the rest says which
// buffer (or batch record) and output a send used, so a completion needs no
// lookup table beyond the loop's slot → output array.
#pragma once
#include <cstdint>

namespace mcr {

// cancel only carries the stop's (or back-pressure's) cancellation of the
// receive and the timer; its completion is ignored.
enum class Op : uint8_t { recv = 1, send = 2, command = 3, timer = 4, cancel = 5, send_batch = 6 };

inline uint64_t tag(Op op, uint64_t extra = 0) { return (uint64_t{static_cast<uint8_t>(op)} << 56) | extra; }
inline Op op_of(uint64_t user_data) { return static_cast<Op>(user_data >> 56); }

// A send (Op::send: the buffer id; Op::send_batch: the batch record index)
// and the counter slot of the output it went to.
inline uint64_t send_tag(Op op, uint32_t item, uint32_t output_slot) {
  return tag(op, (uint64_t{item} << 32) | output_slot);
}
inline uint32_t output_slot_of(uint64_t user_data) { return static_cast<uint32_t>(user_data & 0xffffffffu); }
inline uint16_t buffer_of(uint64_t user_data) { return static_cast<uint16_t>((user_data >> 32) & 0xffffu); }
inline uint32_t batch_of(uint64_t user_data) { return static_cast<uint32_t>((user_data >> 32) & 0xffffffu); }

}  // namespace mcr
