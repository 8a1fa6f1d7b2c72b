// libFuzzer harness for mcr::parse_qdisc_dump and mcr::parse_link_dump
// (native/core/interface_drops.cc), which read the kernel's replies to
// mcrd's RTM_GETQDISC and RTM_GETLINK dumps (the drop counters of
// `mcrctl stats`). The input is one receive buffer, given to both.
// Checked for every input, besides what ASan/UBSan catch:
//  - entries are only appended (what the vector held stays), at most one
//    per 16-byte header that fits; each root has an interface index and a
//    kind of no NUL, never longer than the buffer; each link an index;
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

#include "core/interface_drops.h"
#include "fuzz/fuzz_support.h"

namespace {

using mcr::DumpParse;
using mcr::LinkDrops;
using mcr::RootQdisc;
using mcrfuzz::ExactCopy;

bool same(const RootQdisc& a, const RootQdisc& b) {
  return a.ifindex == b.ifindex && a.kind == b.kind && a.has_stats == b.has_stats && a.drops == b.drops;
}

bool same(const std::vector<RootQdisc>& a, const std::vector<RootQdisc>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const RootQdisc& x, const RootQdisc& y) { return same(x, y); });
}

bool same(const DumpParse& a, const DumpParse& b) {
  return a.done == b.done && a.interrupted == b.interrupted && a.error == b.error && a.malformed == b.malformed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A sentinel already in the vector: the parser appends, never clears.
  RootQdisc sentinel;
  sentinel.ifindex = 0xdeadbeef;
  sentinel.kind = "sentinel";
  std::vector<RootQdisc> roots{sentinel};
  const DumpParse r = mcr::parse_qdisc_dump(data, size, &roots);
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
    if (!q.has_stats) FUZZ_CHECK(q.drops == 0);
  }

  // The same bytes one byte off alignment.
  {
    ExactCopy shifted(data, size, 1);
    std::vector<RootQdisc> again;
    const DumpParse r2 = mcr::parse_qdisc_dump(shifted.data(), size, &again);
    FUZZ_CHECK(same(r, r2));
    FUZZ_CHECK(same(roots, again));
  }

  // Split after the first message (when it is whole and padded): the two
  // halves parsed one after the other say what the whole buffer said.
  if (const size_t cut = mcrfuzz::first_message_cut(data, size); cut != 0) {
    ExactCopy head(data, cut);
    ExactCopy tail(data + cut, size - cut);
    std::vector<RootQdisc> split;
    const DumpParse a = mcr::parse_qdisc_dump(head.data(), cut, &split);
    const DumpParse b = mcr::parse_qdisc_dump(tail.data(), size - cut, &split);
    FUZZ_CHECK(a.malformed + b.malformed == r.malformed);
    FUZZ_CHECK((a.done || b.done) == r.done);
    FUZZ_CHECK((a.interrupted || b.interrupted) == r.interrupted);
    FUZZ_CHECK((b.error != 0 ? b.error : a.error) == r.error);
    FUZZ_CHECK(same(roots, split));
  }
  // The same buffer as a link dump.
  std::vector<LinkDrops> links{LinkDrops{0xdeadbeef, 42}};
  const DumpParse l = mcr::parse_link_dump(data, size, &links);
  FUZZ_CHECK(links[0].ifindex == 0xdeadbeef && links[0].tx_dropped == 42);
  FUZZ_CHECK(links.size() - 1 <= headers);
  FUZZ_CHECK(l.malformed <= headers + 1);
  for (size_t i = 1; i < links.size(); ++i) {
    FUZZ_CHECK(links[i].ifindex != 0);
    FUZZ_CHECK(links[i].link_ifindex != links[i].ifindex);  // a link is never its own lower device
    FUZZ_CHECK(links[i].master_ifindex != links[i].ifindex);  // nor its own master
  }
  {
    ExactCopy shifted(data, size, 1);
    std::vector<LinkDrops> again{LinkDrops{0xdeadbeef, 42}};
    const DumpParse l2 = mcr::parse_link_dump(shifted.data(), size, &again);
    FUZZ_CHECK(same(l, l2));
    FUZZ_CHECK(std::equal(links.begin(), links.end(), again.begin(), again.end(),
                          [](const LinkDrops& x, const LinkDrops& y) {
                            return x.ifindex == y.ifindex && x.tx_dropped == y.tx_dropped && x.name == y.name && x.kind == y.kind &&
                                   x.link_ifindex == y.link_ifindex && x.master_ifindex == y.master_ifindex;
                          }));
  }
  return 0;
}
