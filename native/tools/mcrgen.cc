// mcrgen: batched, paced UDP traffic generator for the relay's tests and lab.
//
// Sends --count packets and/or for --duration seconds to --dest:--port, each
// payload built by payload_fill (stream id, seq 0, 1, 2 ..., checksum, fill)
// so mcrsink can count loss, duplicates, reordering and corruption exactly.
// Packets leave in sendmmsg(2) batches (with --gso N, each batch as UDP_SEGMENT
// messages of up to N datagrams, segmented by the kernel: several times
// cheaper per datagram, for benchmarks that must outrun the method under
// test; the sending interface must have tx-udp-segmentation off for the
// datagrams to leave one by one); with --rate a CLOCK_MONOTONIC token
// bucket spaces the batches evenly and shrinks them at low rates, so the
// offered load is smooth rather than one burst per second.
//
// Send errors: EAGAIN / ENOBUFS mean a full socket or device queue, so the
// generator backs off briefly and resends the same packets (counted in
// "retries" and by errno, never as sent; with --gso, ENOBUFS is counted by
// errno and not resent, see send_all). IP_RECVERR is on so that a full
// device queue is reported as ENOBUFS at all: without it UDP drops the packet
// and returns success (udp_send_skb, net/ipv4/udp.c), and the loss would be
// blamed on whatever the sink sits behind. The price is that ICMP port
// unreachable for an earlier packet fails a later send with ECONNREFUSED;
// that send is repeated at once (counted in "retries" and by errno). Any
// other error is fatal: it is counted in "errors" and by errno, the JSON is
// printed, and the exit status is 1. SIGINT / SIGTERM stop the run cleanly
// (exit 0, JSON printed).
//
// --timestamp sends the timestamped payload variant (payload.h): each
// datagram carries the CLOCK_REALTIME time right before the send that
// carries it (one message per send then: mcrgen_sender.cc; a --gso
// message's datagrams share one), so mcrsink --latency can measure one-way
// latency against the kernel's receive timestamp.
//
// Stream payloads (stream_source.h): --rtp puts an RTP header first, --mpegts
// sends MPEG-TS packets (default 7 x 188 bytes) instead of the test payload,
// both together TS in RTP; --impair gap=N,dup=N,reorder=N,cc=N injects those
// faults on every Nth datagram, deterministically, and reports how many.
//
// Output: exactly one JSON object on stdout:
//   {"sent","retries","errors","errorsByErrno":{"ENOBUFS":n,...},
//    "durationSec","pps","stream","size","firstSeq","lastSeq",
//    "impaired":{"gap","dup","reorder","cc"}}
// firstSeq / lastSeq are the payload sequences of the first and the last
// datagram sent (with --impair not sent - 1: a gap skips a number, a
// duplicate repeats one), null when nothing was sent.
//
// Files: mcrgen_config (options), mcrgen_socket (socket setup per family),
// mcrgen_sender (batches, pacing, send errors), mcrgen_report (the JSON);
// shared with mcrsink: tool_args, tool_signals, tool_clock, tool_socket,
// tool_json, payload.
#include <arpa/inet.h>
#include <errno.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <memory>

#include "tools/mcrgen_config.h"
#include "tools/mcrgen_report.h"
#include "tools/mcrgen_sender.h"
#include "tools/mcrgen_socket.h"
#include "tools/stream_source.h"
#include "tools/tool_args.h"
#include "tools/tool_signals.h"

int main(int argc, char** argv) {
  using namespace mcrgen;
  const Config c = parse_args(argc, argv);

  tool_catch_stop_signals();
  // The default 50 us timer slack would make every paced sleep late by up
  // to 50 us; 1 ns keeps batch spacing close to the requested rate.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

  const int fd = open_socket(c);
  Stats st;
  std::unique_ptr<StreamSource> source;
  if (c.streamed()) source = std::make_unique<StreamSource>(c.rtp, c.mpegts, c.impair, c.stream, c.size, c.count);
  run(fd, c, st, source.get());
  close(fd);
  print_json(c, st, source.get());
  // The report first (what was sent before it), then the one line every
  // tool gives for a system error (docs/tools.md).
  if (st.fatal_errno != 0) {
    char host[INET6_ADDRSTRLEN] = "";
    if (c.v6) inet_ntop(AF_INET6, &c.dest6.sin6_addr, host, sizeof(host));
    else inet_ntop(AF_INET, &c.dest.sin_addr, host, sizeof(host));
    const uint16_t port = ntohs(c.v6 ? c.dest6.sin6_port : c.dest.sin_port);
    tool_fail("mcrgen", st.fatal_errno, std::string("send to ") + (c.v6 ? "[" : "") + host + (c.v6 ? "]" : "") + ":" + std::to_string(port),
              st.fatal_errno == ENETUNREACH ? "no route to the destination: check --interface and the routes" : nullptr);
  }
  return st.errors > 0 ? 1 : 0;
}
