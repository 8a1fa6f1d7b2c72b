// mcrgen's batching, pacing and send-error handling (mcrgen_sender.h).
#include "tools/mcrgen_sender.h"

#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
#include <vector>

#include "tools/payload.h"
#include "tools/tool_clock.h"
#include "tools/tool_signals.h"

namespace mcrgen {

namespace {

// Largest UDP payload one UDP_SEGMENT send may carry (IPv4: 65535 - 20 - 8).
constexpr size_t kMaxGsoBytes = 65507;

// Sleeps until `deadline_ns` on CLOCK_MONOTONIC, at most 100 ms at a time so
// a signal that lands just before the call delays the stop by little.
void sleep_until(uint64_t deadline_ns) {
  const uint64_t now = tool_mono_ns();
  if (deadline_ns <= now) return;
  deadline_ns = std::min<uint64_t>(deadline_ns, now + 100000000);
  timespec ts{static_cast<time_t>(deadline_ns / 1000000000ull),
              static_cast<long>(deadline_ns % 1000000000ull)};
  clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);  // EINTR: caller re-checks
}

// Discards queued IP_RECVERR reports (ip(7)); only their count matters here.
void drain_error_queue(int fd) {
  uint8_t data[256], control[512];
  for (int i = 0; i < 1024; i++) {
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
  }
}

// Called with the index of the message about to be (re)sent, right before
// its send: --timestamp stamps that message's datagrams. send_all then sends
// one message per call, so each datagram carries the time of its own send.
// One sendmmsg for a whole batch would stamp datagram k of the batch before
// the k - 1 sends ahead of it; on loopback or a veth each of those runs the
// receiver's path too (3-5 us each on the lab's VM), so the later datagrams
// of a burst would carry that wait as latency of whatever relays them.
using BeforeSend = std::function<void(size_t msg)>;

// Sends msgs[0..n), resending after EAGAIN / ENOBUFS back-offs. Returns how
// many went out; sets *fatal on any other error, or stops early on a signal
// or when `end_ns` passes while backing off. A UDP_SEGMENT message (`gso`)
// that fails with ENOBUFS is not resent: its datagrams were cut and sent one
// by one and the error reports only that some were dropped past the socket
// (on a veth, by the receiving CPU's backlog), so resending would duplicate
// the rest. It counts as sent; what was dropped is lost, as on a real wire.
size_t send_all(int fd, mmsghdr* msgs, size_t n, uint64_t end_ns, bool gso, Stats& st, bool* fatal,
                const BeforeSend* before_send) {
  size_t done = 0;
  while (done < n) {
    if (before_send != nullptr) (*before_send)(done);
    const size_t count = before_send != nullptr ? 1 : n - done;
    const int r = sendmmsg(fd, msgs + done, static_cast<unsigned>(count), 0);
    if (r > 0) {
      // A short count means the next message failed; sendmmsg(2) reports
      // that error on the next call, which the loop makes immediately.
      done += static_cast<size_t>(r);
      continue;
    }
    const int err = r < 0 ? errno : EAGAIN;
    if (err == EINTR) {
      if (g_tool_stop) break;
      continue;
    }
    st.by_errno[err]++;
    if (err == ECONNREFUSED) {
      // An earlier packet's ICMP error, not this packet's: retry now. Empty
      // the error queue too, or poll() would keep reporting POLLERR.
      st.retries++;
      drain_error_queue(fd);
      if (g_tool_stop) break;
      continue;
    }
    if (err != EAGAIN && err != ENOBUFS) {
      st.errors++;
      st.fatal_errno = err;
      *fatal = true;
      break;
    }
    if (gso && err == ENOBUFS) {
      done += 1;
      continue;
    }
    st.retries++;
    if (g_tool_stop || tool_mono_ns() >= end_ns) break;
    if (err == EAGAIN) {
      // Socket buffer full: wake as soon as it drains (or after 1 ms).
      pollfd p{fd, POLLOUT, 0};
      poll(&p, 1, 1);
    } else {
      // Device queue full: the socket still polls writable, so just wait a
      // little for the qdisc to drain.
      const timespec ts{0, 50000};
      nanosleep(&ts, nullptr);
    }
  }
  return done;
}

// Datagrams per message: 1, or with --gso as many as fit one UDP_SEGMENT send.
size_t per_message(const Config& c) {
  if (c.gso == 0) return 1;
  return std::max<size_t>(1, std::min(c.gso, kMaxGsoBytes / c.size));
}

}  // namespace

void run(int fd, const Config& c, Stats& st, StreamSource* source) {
  std::vector<uint8_t> bufs(c.batch * c.size);
  const size_t per_msg = per_message(c);
  const size_t max_msgs = (c.batch + per_msg - 1) / per_msg;
  std::vector<iovec> iov(max_msgs);
  std::vector<mmsghdr> msgs(max_msgs);
  std::vector<uint8_t> control(max_msgs * CMSG_SPACE(sizeof(uint16_t)));
  // --timestamp: each datagram's running hash, kept from fill to stamp.
  std::vector<uint64_t> partial(c.timestamp ? c.batch : 0);
  std::vector<uint64_t> seqs(c.batch);  // each datagram's payload sequence
  size_t batch_n = 0;  // datagrams in the batch being sent
  const BeforeSend stamp = [&](size_t msg) {
    const uint64_t now = tool_clock_ns(CLOCK_REALTIME);
    const size_t end = std::min(batch_n, (msg + 1) * per_msg);
    for (size_t i = msg * per_msg; i < end; i++) payload_stamp(bufs.data() + i * c.size, c.size, partial[i], now);
  };
  // Message m carries datagrams [m * per_msg, ...) of the batch; the last one
  // of a batch may carry fewer (its iov length is set per batch).
  auto prepare = [&](size_t n) -> size_t {
    const size_t count = (n + per_msg - 1) / per_msg;
    for (size_t m = 0; m < count; m++) {
      const size_t first = m * per_msg;
      const size_t k = std::min(per_msg, n - first);
      iov[m] = {bufs.data() + first * c.size, k * c.size};
      msgs[m].msg_hdr = {};
      if (c.v6) {
        msgs[m].msg_hdr.msg_name = const_cast<sockaddr_in6*>(&c.dest6);
        msgs[m].msg_hdr.msg_namelen = sizeof c.dest6;
      } else {
        msgs[m].msg_hdr.msg_name = const_cast<sockaddr_in*>(&c.dest);
        msgs[m].msg_hdr.msg_namelen = sizeof c.dest;
      }
      msgs[m].msg_hdr.msg_iov = &iov[m];
      msgs[m].msg_hdr.msg_iovlen = 1;
      if (c.gso != 0) {
        uint8_t* space = control.data() + m * CMSG_SPACE(sizeof(uint16_t));
        msgs[m].msg_hdr.msg_control = space;
        msgs[m].msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
        cmsghdr* cm = CMSG_FIRSTHDR(&msgs[m].msg_hdr);
        cm->cmsg_level = SOL_UDP;
        cm->cmsg_type = UDP_SEGMENT;
        cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        const uint16_t seg = static_cast<uint16_t>(c.size);
        std::memcpy(CMSG_DATA(cm), &seg, sizeof seg);
      }
    }
    return count;
  };

  // Pacing: aim for a batch about every 200 us, so 1000 pps goes out one
  // packet per millisecond and 1 Mpps in batches of 64 every 64 us.
  const size_t batch = c.rate == 0 ? c.batch
                                   : std::clamp<size_t>(static_cast<size_t>(c.rate / 5000), 1,
                                                        c.batch);
  const double ns_per_pkt = c.rate == 0 ? 0 : 1e9 / static_cast<double>(c.rate);
  // Token-bucket depth: --catch-up-us of traffic (default 2 ms; at least two
  // batches). Busy hosts and VMs stall a sender for a millisecond or so now
  // and then (seen on the dev VM: ~20 stalls a second, losing 2 % of a
  // 10 kpps run with a 400 us bucket); the bucket makes those up with a
  // catch-up burst so the offered rate stays accurate, and gives up longer
  // stalls rather than bursting for them. The burst goes out at the
  // sender's full speed, so a deep bucket also offers the receiver bursts
  // that a steady source would not (the bench chooses a shallow one).
  const double bucket_ns = std::max(2.0 * static_cast<double>(batch) * ns_per_pkt,
                                    static_cast<double>(c.catch_up_us) * 1e3);

  st.start_ns = tool_mono_ns();
  const uint64_t end_ns =
      c.has_duration ? st.start_ns + static_cast<uint64_t>(c.duration * 1e9) : UINT64_MAX;
  double next_ns = static_cast<double>(st.start_ns);  // when the next batch is due
  bool fatal = false;

  while (!g_tool_stop && !fatal && st.sent < c.count) {
    const uint64_t now = tool_mono_ns();
    if (now >= end_ns) break;
    if (c.rate != 0) {
      if (static_cast<double>(now) < next_ns) {
        sleep_until(std::min(static_cast<uint64_t>(next_ns), end_ns));
        continue;
      }
      const double behind = static_cast<double>(now) - next_ns;
      if (behind > bucket_ns) next_ns += behind - bucket_ns;
    }
    const size_t n = static_cast<size_t>(std::min<uint64_t>(batch, c.count - st.sent));
    for (size_t i = 0; i < n; i++) {
      seqs[i] = st.sent + i;
      if (source != nullptr) {
        seqs[i] = source->next(bufs.data() + i * c.size, st.sent + i);
      } else if (c.timestamp) {
        partial[i] = payload_fill_timed(bufs.data() + i * c.size, c.size, c.stream, st.sent + i);
      } else {
        payload_fill(bufs.data() + i * c.size, c.size, c.stream, st.sent + i);
      }
    }
    batch_n = n;
    const size_t sent_msgs = send_all(fd, msgs.data(), prepare(n), end_ns, c.gso != 0, st, &fatal, c.timestamp ? &stamp : nullptr);
    const size_t k = std::min(n, sent_msgs * per_msg);
    if (k > 0) {
      if (st.sent == 0) st.first_seq = seqs[0];
      st.last_seq = seqs[k - 1];
    }
    st.sent += k;
    next_ns += static_cast<double>(k) * ns_per_pkt;
  }
  // A paced run lasts until its last batch's time slot is over, so
  // --rate 1000 --count 1000 takes one second and reports 1000 pps.
  if (c.rate != 0 && !g_tool_stop && !fatal) {
    const uint64_t until = std::min(static_cast<uint64_t>(next_ns), end_ns);
    while (!g_tool_stop && tool_mono_ns() < until) sleep_until(until);
  }
  st.end_ns = tool_mono_ns();
}

}  // namespace mcrgen
