// libFuzzer harness for mcr::parse_qdisc_dump (native/core/qdisc_stats.cc),
// which reads the kernel's replies to mcrd's RTM_GETQDISC dump (the root
// qdisc counters of `mcrctl stats`). The input is one receive buffer.
// Checked for every input, besides what ASan/UBSan catch:
//  - roots are only appended (what `roots` held stays), at most one per
//    16-byte header that fits, each with an interface index and a kind of
//    no NUL, never longer than the buffer;
//  - no more malformed counts than messages plus an unframeable tail;
//  - the same bytes at a misaligned address give the same result;
//  - splitting the buffer after its first message and parsing the two
//    halves gives the same roots and counts as parsing it whole.
#include <linux/netlink.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/qdisc_stats.h"
#include "fuzz/fuzz_support.h"

namespace {

using mcr::QdiscParse;
using mcr::RootQdisc;
using mcrfuzz::ExactCopy;

bool same(const RootQdisc& a, const RootQdisc& b) {
  return a.ifindex == b.ifindex && a.kind == b.kind && a.has_stats == b.has_stats && a.drops == b.drops &&
         a.overlimits == b.overlimits && a.qlen == b.qlen;
}

bool same(const std::vector<RootQdisc>& a, const std::vector<RootQdisc>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const RootQdisc& x, const RootQdisc& y) { return same(x, y); });
}

bool same(const QdiscParse& a, const QdiscParse& b) {
  return a.done == b.done && a.interrupted == b.interrupted && a.error == b.error && a.malformed == b.malformed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A sentinel already in the vector: the parser appends, never clears.
  RootQdisc sentinel;
  sentinel.ifindex = 0xdeadbeef;
  sentinel.kind = "sentinel";
  std::vector<RootQdisc> roots{sentinel};
  const QdiscParse r = mcr::parse_qdisc_dump(data, size, &roots);
  FUZZ_CHECK(!roots.empty() && same(roots[0], sentinel));
  roots.erase(roots.begin());

  const size_t headers = size / sizeof(nlmsghdr);
  FUZZ_CHECK(roots.size() <= headers);
  FUZZ_CHECK(r.malformed <= headers + 1);  // one per message, plus one for an unframeable tail
  FUZZ_CHECK(size != 0 || (r.malformed == 0 && roots.empty() && !r.done && r.error == 0));
  for (const RootQdisc& q : roots) {
    FUZZ_CHECK(q.ifindex != 0);
    FUZZ_CHECK(!q.kind.empty() && q.kind.size() < size);
    FUZZ_CHECK(q.kind.find('\0') == std::string::npos);
    if (!q.has_stats) FUZZ_CHECK(q.drops == 0 && q.overlimits == 0 && q.qlen == 0);
  }

  // The same bytes one byte off alignment.
  {
    ExactCopy shifted(data, size, 1);
    std::vector<RootQdisc> again;
    const QdiscParse r2 = mcr::parse_qdisc_dump(shifted.data(), size, &again);
    FUZZ_CHECK(same(r, r2));
    FUZZ_CHECK(same(roots, again));
  }

  // Split after the first message (when it is whole and padded): the two
  // halves parsed one after the other say what the whole buffer said.
  if (const size_t cut = mcrfuzz::first_message_cut(data, size); cut != 0) {
    ExactCopy head(data, cut);
    ExactCopy tail(data + cut, size - cut);
    std::vector<RootQdisc> split;
    const QdiscParse a = mcr::parse_qdisc_dump(head.data(), cut, &split);
    const QdiscParse b = mcr::parse_qdisc_dump(tail.data(), size - cut, &split);
    FUZZ_CHECK(a.malformed + b.malformed == r.malformed);
    FUZZ_CHECK((a.done || b.done) == r.done);
    FUZZ_CHECK((a.interrupted || b.interrupted) == r.interrupted);
    FUZZ_CHECK((b.error != 0 ? b.error : a.error) == r.error);
    FUZZ_CHECK(same(roots, split));
  }
  return 0;
}
