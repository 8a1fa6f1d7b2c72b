// mcrsink: UDP receiver that checks mcrgen's payloads and counts what arrived.
//
// Binds --bind:--port (the group itself when --group is given, so only that
// group arrives), joins --group on --interface (IPv4 or IPv6: the family of
// --group, else of --bind; an IPv6 group is joined with IPV6_JOIN_GROUP and
// each datagram's hop limit is reported under "ttls"), then drains the socket with
// recvmmsg(2) in batches of 64 until --count packets, --duration seconds,
// --idle seconds of silence after the first packet, or SIGINT / SIGTERM.
// Once bound and joined it writes {"event":"ready"} to stderr, so a test
// starts the generator on that line instead of sleeping.
//
// Per stream it keeps a bitmap of seen seqs (grown on demand, at most 2^28
// seqs = 32 MiB per stream; seqs beyond that are counted as unique without
// duplicate detection) to count unique, duplicated (seen before) and
// reordered (below the highest seq so far, first time seen) packets. Payloads
// failing payload_verify count as corrupted, by reason, and nowhere else.
// lost = sum over streams of (maxSeq + 1 - unique): streams start at seq 0.
//
// --latency turns on SO_TIMESTAMPNS (socket(7)): the kernel stamps each
// datagram with CLOCK_REALTIME as the device hands it to the receive stack
// (netif_rx / netif_receive_skb; with net.core.netdev_tstamp_prequeue at
// its default 1, before RPS and the backlog queue, so neither the receiving
// core's backlog nor this process's scheduling is counted), and every verified timestamped payload (mcrgen --timestamp)
// adds receive time minus its send time to a latency histogram
// (latency_histogram.h: 1 µs buckets to 1 ms, 0.2 % above; fixed memory).
// Duplicates count too: each is a datagram that crossed the path.
//
// Output: exactly one JSON object on stdout:
//   {"received","unique","lost","duplicated","reordered","corrupted",
//    "corruptedByReason":{...},"bytes","durationSec","pps","minSize","maxSize",
//    "streams":{"<id>":{"received","unique","lost","duplicated","reordered","maxSeq"}},
//    "sources":{"<source address>":<datagrams>},"ttls":{"<IP TTL>":<datagrams>},
//    "latency":null | {"count","untimed","noKernelTime","negative","overflow",
//                      "minUs","p50Us","p99Us","p999Us","maxUs","meanUs"}}
// latency is null without --latency; count = datagrams measured, untimed =
// verified payloads without a send time (plain format), noKernelTime =
// timestamped ones the kernel gave no receive time, negative = receive
// before send (only a clock step does that), overflow = beyond 2^30 µs.
// Percentiles are in microseconds, the upper edge of their histogram bucket
// clamped to the exact min and max; all null when count is 0.
// durationSec and pps cover first to last packet; minSize / maxSize are null
// when nothing arrived. Exit status 0 whatever arrived; the JSON is the verdict.
//
// Files: mcrsink_config (options), mcrsink_socket (socket setup per family),
// mcrsink_receiver (the receive loop), mcrsink_tally (what is counted of each
// datagram), mcrsink_report (the JSON); shared with mcrgen: tool_args,
// tool_signals, tool_clock, tool_socket, tool_json, payload.
#include <unistd.h>

#include <cstdio>

#include "tools/mcrsink_config.h"
#include "tools/mcrsink_receiver.h"
#include "tools/mcrsink_report.h"
#include "tools/mcrsink_socket.h"
#include "tools/mcrsink_tally.h"
#include "tools/tool_signals.h"

int main(int argc, char** argv) {
  using namespace mcrsink;
  const Config c = parse_args(argc, argv);

  tool_catch_stop_signals();
  // Stop signals stay blocked except inside ppoll (see run()).
  const sigset_t wait_mask = tool_block_stop_signals();

  const int fd = open_socket(c);
  std::fputs("{\"event\":\"ready\"}\n", stderr);
  std::fflush(stderr);

  Totals t;
  run(fd, c, t, wait_mask);
  close(fd);
  print_json(t, c.latency);
  return 0;
}
