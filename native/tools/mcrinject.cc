// mcrinject: sends hand-written raw Ethernet frames out of one interface, so
// tests can feed the relay's parser exactly the bytes they mean (VLAN tags,
// IP options, fragments, truncated or malformed headers) through a veth.
//
// Reads frames from stdin as hex, one frame per line: whitespace inside a line
// is ignored, empty lines are skipped and `#` starts a comment. All frames are
// parsed before the first is sent, so bad input sends nothing. --repeat N
// sends the whole list N times in order. Each frame goes out unchanged through
// an AF_PACKET SOCK_RAW socket bound to --interface (needs CAP_NET_RAW).
//
// Output: {"sent":N} on stdout. Bad arguments or input: one line, exit 2.
// Send errors: {"sent":N} with the frames sent so far, then one stderr line
// naming the errno, exit 1. ENOBUFS / EAGAIN (device queue full) are retried
// for up to a second first.
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include "tools/tool_args.h"

namespace {

constexpr const char* kTool = "mcrinject";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

[[noreturn]] void bad_input(size_t line_no, const std::string& message) {
  std::fprintf(stderr, "%s: stdin line %zu: %s\n", kTool, line_no, message.c_str());
  std::exit(2);
}

std::vector<std::vector<uint8_t>> read_frames() {
  std::vector<std::vector<uint8_t>> frames;
  std::string line;
  for (size_t line_no = 1; std::getline(std::cin, line); line_no++) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::vector<uint8_t> frame;
    int high = -1;  // first nibble of a byte in progress
    for (char c : line) {
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
      const int v = hex_value(c);
      if (v < 0) bad_input(line_no, std::string("not a hex digit: '") + c + "'");
      if (high < 0) {
        high = v;
      } else {
        frame.push_back(static_cast<uint8_t>(high << 4 | v));
        high = -1;
      }
    }
    if (high >= 0) bad_input(line_no, "odd number of hex digits");
    if (frame.empty()) continue;
    if (frame.size() < ETH_HLEN) {
      bad_input(line_no, std::to_string(frame.size()) +
                             " bytes is shorter than an Ethernet header (14)");
    }
    frames.push_back(std::move(frame));
  }
  return frames;
}

}  // namespace

int main(int argc, char** argv) {
  const ToolArgs args(kTool, "Send raw Ethernet frames, one hex frame per stdin line.",
                      {
                          {"interface", "IF", "interface to send on (required)"},
                          {"repeat", "N", "send the whole list N times (default 1)"},
                      },
                      argc, argv);
  const std::string ifname = args.required_str("interface");
  const uint64_t repeat = args.uint("repeat", 1, 1000000000, 1);
  const unsigned ifindex = tool_ifindex(kTool, ifname);
  const auto frames = read_frames();

  // Protocol 0: the socket can send but never receives, so nothing queues up
  // on it while it runs (packet(7); ETH_P_ALL would copy every frame on the
  // interface into it).
  const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    tool_fail(kTool, errno, "socket(AF_PACKET, SOCK_RAW)", "needs CAP_NET_RAW (run as root)");
  }
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = static_cast<int>(ifindex);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&sll), sizeof sll) < 0) {
    tool_fail(kTool, errno, "bind AF_PACKET " + ifname);
  }

  uint64_t sent = 0;
  for (uint64_t r = 0; r < repeat; r++) {
    for (size_t i = 0; i < frames.size(); i++) {
      const auto& f = frames[i];
      int err = 0;
      // ENOBUFS / EAGAIN: the device queue is momentarily full; 20000 tries
      // 50 us apart give it about a second to drain.
      for (int attempt = 0; attempt < 20000; attempt++) {
        err = send(fd, f.data(), f.size(), 0) < 0 ? errno : 0;
        if (err != ENOBUFS && err != EAGAIN && err != EINTR) break;
        const timespec pause{0, 50000};
        nanosleep(&pause, nullptr);
      }
      if (err != 0) {
        std::printf("{\"sent\":%llu}\n", static_cast<unsigned long long>(sent));
        std::fflush(stdout);
        tool_fail(kTool, err, "send frame " + std::to_string(i + 1) + " on " + ifname,
                  err == EMSGSIZE ? "frame longer than the interface MTU + 14" : nullptr);
      }
      sent++;
    }
  }
  close(fd);
  std::printf("{\"sent\":%llu}\n", static_cast<unsigned long long>(sent));
  return 0;
}
