// libFuzzer harness for mcr::parse_route_messages
// (native/core/netlink_parser.cc), which reads what the kernel sends on the
// NETLINK_ROUTE socket of the interface monitor. The input is one receive
// buffer. Checked for every input, besides what ASan/UBSan catch:
//  - events are only appended (what `out` held stays), at most one per
//    message, and each has the fields its kind promises (a link has an
//    index and a name; a removed link an index; an address an index);
//    names hold no NUL and are never longer than the buffer;
//  - no more messages than 16-byte headers fit, and the counts add up;
//  - the same bytes at a misaligned address give the same result;
//  - splitting the buffer after its first message and parsing the two
//    halves gives the same events and counts as parsing it whole.
#include <linux/netlink.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/netlink_parser.h"
#include "fuzz/fuzz_support.h"

namespace {

using mcr::InterfaceEvent;
using mcr::InterfaceEventKind;
using mcr::NetlinkParse;
using mcrfuzz::ExactCopy;

bool same(const InterfaceEvent& a, const InterfaceEvent& b) {
  return a.kind == b.kind && a.ifindex == b.ifindex && a.name == b.name && a.flags == b.flags &&
         a.address == b.address && a.prefix_len == b.prefix_len;
}

bool same(const std::vector<InterfaceEvent>& a, const std::vector<InterfaceEvent>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const InterfaceEvent& x, const InterfaceEvent& y) { return same(x, y); });
}

bool same(const NetlinkParse& a, const NetlinkParse& b) {
  return a.messages == b.messages && a.malformed == b.malformed && a.done == b.done && a.done_seq == b.done_seq &&
         a.interrupted == b.interrupted && a.error == b.error && a.error_seq == b.error_seq;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A sentinel already in the vector: the parser appends, never clears.
  InterfaceEvent sentinel;
  sentinel.kind = InterfaceEventKind::synced;
  sentinel.ifindex = 0xdeadbeef;
  std::vector<InterfaceEvent> events{sentinel};
  const NetlinkParse r = mcr::parse_route_messages(data, size, &events);
  FUZZ_CHECK(!events.empty() && same(events[0], sentinel));
  events.erase(events.begin());

  FUZZ_CHECK(r.messages <= size / sizeof(nlmsghdr));
  FUZZ_CHECK(events.size() <= r.messages);
  FUZZ_CHECK(r.malformed <= r.messages + 1);  // one per message, plus one for an unframeable tail
  FUZZ_CHECK(size != 0 || (r.messages == 0 && r.malformed == 0 && events.empty()));
  if (!r.done) FUZZ_CHECK(r.done_seq == 0);
  if (r.error == 0) FUZZ_CHECK(r.error_seq == 0);
  for (const InterfaceEvent& e : events) {
    FUZZ_CHECK(e.name.size() < size);
    FUZZ_CHECK(e.name.find('\0') == std::string::npos);
    switch (e.kind) {
      case InterfaceEventKind::link:
        FUZZ_CHECK(e.ifindex != 0 && !e.name.empty());
        FUZZ_CHECK(e.address == 0 && e.prefix_len == 0);
        break;
      case InterfaceEventKind::link_removed:
        FUZZ_CHECK(e.ifindex != 0);
        FUZZ_CHECK(e.address == 0 && e.prefix_len == 0);
        break;
      case InterfaceEventKind::address_added:
      case InterfaceEventKind::address_removed:
        FUZZ_CHECK(e.ifindex != 0);
        FUZZ_CHECK(e.flags == 0);
        break;
      default:
        FUZZ_CHECK(!"the parser made an event kind it has no message for");
    }
  }

  // The same bytes one byte off alignment.
  {
    ExactCopy shifted(data, size, 1);
    std::vector<InterfaceEvent> again;
    const NetlinkParse r2 = mcr::parse_route_messages(shifted.data(), size, &again);
    FUZZ_CHECK(same(r, r2));
    FUZZ_CHECK(same(events, again));
  }

  // Split after the first message (when it is whole and padded): the two
  // halves parsed one after the other say what the whole buffer said.
  if (const size_t cut = mcrfuzz::first_message_cut(data, size); cut != 0) {
    ExactCopy head(data, cut);
    ExactCopy tail(data + cut, size - cut);
    std::vector<InterfaceEvent> split;
    const NetlinkParse a = mcr::parse_route_messages(head.data(), cut, &split);
    const NetlinkParse b = mcr::parse_route_messages(tail.data(), size - cut, &split);
    FUZZ_CHECK(a.messages == 1);
    FUZZ_CHECK(a.messages + b.messages == r.messages);
    FUZZ_CHECK(a.malformed + b.malformed == r.malformed);
    FUZZ_CHECK((a.done || b.done) == r.done);
    FUZZ_CHECK((a.interrupted || b.interrupted) == r.interrupted);
    FUZZ_CHECK(same(events, split));
  }
  return 0;
}
