/*
 * c_relay: the benchmark's "best simple program" anchor (bench/methods/c-relay.ts).
 * A plain C userspace multicast relay written the textbook way, so MCR's
 * figures can be read against what a careful engineer writes in an
 * afternoon. Not part of MCR: nothing else links or runs it.
 *
 * Two receive designs, one send design:
 *   --mode ring  AF_PACKET SOCK_RAW socket on the input, TPACKET_V3 receive
 *                ring (blocks of frames filled by the kernel, handed over
 *                whole), a classic BPF filter so only the group's UDP port
 *                lands in the ring; poll() waits for a block.
 *   --mode mmsg  a UDP socket bound to group:port, joined on the input
 *                interface, recvmmsg() in batches (MSG_WAITFORONE).
 *   Sending: one UDP socket per output (bound to the output's address,
 *   IP_MULTICAST_IF on it, connected to the output group:port), and per
 *   batch one sendmmsg() per output carrying every payload of the batch.
 *
 * IPv6 (issue 16): a --group with a colon makes the input IPv6 (and an
 * --out whose GROUP has one, that output; ADDR then is IPv6 too): the ring binds to
 * ETH_P_IPV6 and its filter and parser take an IPv6 header whose next
 * header is UDP (the bench's stream has no extension headers; a datagram
 * with them is not relayed), the mmsg socket joins with IPV6_JOIN_GROUP,
 * and the output sockets set IPV6_MULTICAST_IF to the output interface.
 *
 * Usage:
 *   c_relay --mode ring|mmsg --in IFNAME --group G --port P
 *           --out IFNAME,ADDR,GROUP,PORT [--out ...]
 * Prints {"event":"ready"} on stderr once every socket is set up; on SIGUSR1
 * prints one JSON line of counters on stdout (the bench reads them between
 * trials), and on SIGINT or SIGTERM prints it once more and exits 0.
 * Counters: received (matching datagrams), sent, send_errors, batches, and
 * ring_drops (frames the kernel could not put in the full ring, ring mode).
 * Errors print "c_relay: <errno name>: <what>" on stderr and exit 1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_OUTPUTS 32
#define BATCH 64
#define MAX_PAYLOAD 65536
/* Ring: 64 blocks of 256 KiB, 2 KiB frames; a block is handed over when full or after BLOCK_TOV_MS. */
#define BLOCK_SIZE (1u << 18)
#define BLOCK_COUNT 64u
#define FRAME_SIZE 2048u
#define BLOCK_TOV_MS 1u
/* mmsg mode's receive buffer (the kernel doubles it for bookkeeping). */
#define RCVBUF_BYTES (4 << 20)

struct output {
  int fd;
  char ifname[IF_NAMESIZE];
};

/* The input group, of either family (set once from --group). */
struct group {
  int family; /* AF_INET or AF_INET6 */
  struct in_addr v4;
  struct in6_addr v6;
};

static volatile sig_atomic_t stopping = 0;
static volatile sig_atomic_t report_wanted = 0;
static const char *mode_name = "";
static unsigned long long reports;
static unsigned long long c_received, c_sent, c_send_errors, c_batches;
static int last_send_errno;

static void on_signal(int sig) {
  if (sig == SIGUSR1) report_wanted = 1;
  else stopping = 1;
}

static void die(const char *what) {
  int e = errno;
  const char *name = strerrorname_np(e);
  fprintf(stderr, "c_relay: %s: %s: %s\n", name != NULL ? name : "EUNKNOWN", what, strerror(e));
  exit(1);
}

static void usage(const char *why) {
  fprintf(stderr, "c_relay: EINVAL: %s\nusage: c_relay --mode ring|mmsg --in IFNAME --group G --port P --out IFNAME,ADDR,GROUP,PORT [--out ...]\n(G, ADDR, GROUP: IPv4 or IPv6)\n", why);
  exit(2);
}

static struct in_addr parse_addr(const char *s, const char *what) {
  struct in_addr a;
  if (inet_pton(AF_INET, s, &a) != 1) usage(what);
  return a;
}

static struct in6_addr parse_addr6(const char *s, const char *what) {
  struct in6_addr a;
  if (inet_pton(AF_INET6, s, &a) != 1) usage(what);
  return a;
}

static int is_v6(const char *s) { return strchr(s, ':') != NULL; }

static uint16_t parse_port(const char *s) {
  char *end = NULL;
  long v = strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < 1 || v > 65535) usage("port must be 1..65535");
  return (uint16_t)v;
}

/* The IPv6 output socket: bound to ADDR, IPV6_MULTICAST_IF = the output's index, connected to [GROUP]:PORT. */
static void open_output6(struct output *o, const char *addr, const char *group, const char *port) {
  unsigned ifindex = if_nametoindex(o->ifname);
  if (ifindex == 0) die("if_nametoindex(--out)");
  o->fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (o->fd < 0) die("socket(AF_INET6, SOCK_DGRAM)");
  struct sockaddr_in6 bind_to = {.sin6_family = AF_INET6, .sin6_addr = parse_addr6(addr, "bad output address (IPv6 group, so an IPv6 address)")};
  if (bind(o->fd, (struct sockaddr *)&bind_to, sizeof bind_to) < 0) die("bind(output address)");
  int idx = (int)ifindex;
  if (setsockopt(o->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx) < 0) die("setsockopt(IPV6_MULTICAST_IF)");
  int loop = 0;
  if (setsockopt(o->fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof loop) < 0) die("setsockopt(IPV6_MULTICAST_LOOP)");
  struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_addr = parse_addr6(group, "bad output group"), .sin6_port = htons(parse_port(port))};
  if (connect(o->fd, (struct sockaddr *)&to, sizeof to) < 0) die("connect(output group)");
}

/* One output: "IFNAME,ADDR,GROUP,PORT" → a UDP socket connected to GROUP:PORT leaving through IFNAME. */
static void open_output(struct output *o, char *spec) {
  char *ifname = strtok(spec, ",");
  char *addr = strtok(NULL, ",");
  char *group = strtok(NULL, ",");
  char *port = strtok(NULL, ",");
  if (ifname == NULL || addr == NULL || group == NULL || port == NULL) usage("--out wants IFNAME,ADDR,GROUP,PORT");
  if (strlen(ifname) >= IF_NAMESIZE) usage("output interface name too long");
  snprintf(o->ifname, sizeof o->ifname, "%s", ifname);
  if (is_v6(group)) {
    open_output6(o, addr, group, port);
    return;
  }
  struct in_addr local = parse_addr(addr, "bad output address");
  o->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (o->fd < 0) die("socket(AF_INET, SOCK_DGRAM)");
  struct sockaddr_in bind_to = {.sin_family = AF_INET, .sin_addr = local};
  if (bind(o->fd, (struct sockaddr *)&bind_to, sizeof bind_to) < 0) die("bind(output address)");
  if (setsockopt(o->fd, IPPROTO_IP, IP_MULTICAST_IF, &local, sizeof local) < 0) die("setsockopt(IP_MULTICAST_IF)");
  int loop = 0;
  if (setsockopt(o->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) < 0) die("setsockopt(IP_MULTICAST_LOOP)");
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = parse_addr(group, "bad output group"), .sin_port = htons(parse_port(port))};
  if (connect(o->fd, (struct sockaddr *)&to, sizeof to) < 0) die("connect(output group)");
}

/* Sends n payloads to every output, one sendmmsg per output (looping over partial sends). */
static void send_all(struct output *outs, int nout, struct iovec *iov, unsigned n) {
  static struct mmsghdr msgs[BATCH];
  for (unsigned i = 0; i < n; i++) {
    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  for (int k = 0; k < nout; k++) {
    unsigned done = 0;
    while (done < n) {
      int r = sendmmsg(outs[k].fd, msgs + done, n - done, 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        /* A datagram the kernel refused (ENOBUFS, ...) is lost, as in any UDP relay: count it, skip it. */
        last_send_errno = errno;
        c_send_errors++;
        done++;
        continue;
      }
      done += (unsigned)r;
      c_sent += (unsigned)r;
    }
  }
  c_batches++;
}

/* Returns the UDP payload of an Ethernet frame if it is [G]:P IPv6 UDP with no extension header, else NULL. */
static const uint8_t *match_frame6(const uint8_t *frame, uint32_t caplen, const struct in6_addr *group, uint16_t port, uint32_t *len) {
  const uint32_t hl = (uint32_t)sizeof(struct ip6_hdr);
  if (caplen < ETH_HLEN + hl + sizeof(struct udphdr)) return NULL;
  const struct ethhdr *eth = (const struct ethhdr *)frame;
  if (eth->h_proto != htons(ETH_P_IPV6)) return NULL;
  const struct ip6_hdr *ip6 = (const struct ip6_hdr *)(frame + ETH_HLEN);
  if ((ip6->ip6_vfc >> 4) != 6 || ip6->ip6_nxt != IPPROTO_UDP || memcmp(&ip6->ip6_dst, group, sizeof *group) != 0) return NULL;
  const struct udphdr *udp = (const struct udphdr *)(frame + ETH_HLEN + hl);
  if (udp->dest != htons(port)) return NULL;
  uint32_t ulen = ntohs(udp->len);
  if (ulen < sizeof *udp || ETH_HLEN + hl + ulen > caplen) return NULL;
  *len = ulen - (uint32_t)sizeof *udp;
  return (const uint8_t *)(udp + 1);
}

/* Returns the UDP payload of an Ethernet frame if it is G:P unfragmented IPv4 UDP, else NULL. */
static const uint8_t *match_frame(const uint8_t *frame, uint32_t caplen, struct in_addr group, uint16_t port, uint32_t *len) {
  if (caplen < ETH_HLEN + sizeof(struct iphdr)) return NULL;
  const struct ethhdr *eth = (const struct ethhdr *)frame;
  if (eth->h_proto != htons(ETH_P_IP)) return NULL;
  const struct iphdr *ip = (const struct iphdr *)(frame + ETH_HLEN);
  uint32_t ihl = (uint32_t)ip->ihl * 4;
  if (ip->version != 4 || ihl < 20 || ip->protocol != IPPROTO_UDP || ip->daddr != group.s_addr) return NULL;
  if ((ntohs(ip->frag_off) & 0x3fff) != 0) return NULL;
  if (caplen < ETH_HLEN + ihl + sizeof(struct udphdr)) return NULL;
  const struct udphdr *udp = (const struct udphdr *)(frame + ETH_HLEN + ihl);
  if (udp->dest != htons(port)) return NULL;
  uint32_t ulen = ntohs(udp->len);
  if (ulen < sizeof *udp || ETH_HLEN + ihl + ulen > caplen) return NULL;
  *len = ulen - (uint32_t)sizeof *udp;
  return (const uint8_t *)(udp + 1);
}

/* Classic BPF: accept IPv4 UDP to group:port that is not a fragment, drop everything else (tcpdump's shape). */
static void attach_filter(int fd, struct in_addr group, uint16_t port) {
  /* Jump offsets count instructions to skip; every "no" lands on the last one (index 12, ret 0). */
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),                        /* 0: ethertype */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 10),          /* 1 */
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 30),                        /* 2: IPv4 destination */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(group.s_addr), 0, 8), /* 3 */
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),                        /* 4: protocol */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 6),        /* 5 */
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20),                        /* 6: flags + fragment offset */
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 4, 0),            /* 7: a later fragment has no UDP header */
      BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14),                       /* 8: X = IP header length */
      BPF_STMT(BPF_LD | BPF_H | BPF_IND, 16),                        /* 9: UDP destination port */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 1),               /* 10 */
      BPF_STMT(BPF_RET | BPF_K, 0xffff),                             /* 11: accept */
      BPF_STMT(BPF_RET | BPF_K, 0),                                  /* 12: drop */
  };
  struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) die("setsockopt(SO_ATTACH_FILTER)");
}

/* The IPv6 filter: next header UDP (no extension headers), destination [group], UDP destination port. */
static void attach_filter6(int fd, const struct in6_addr *group, uint16_t port) {
  uint32_t w[4];
  memcpy(w, group, sizeof w);
  /* Every "no" lands on the last instruction (index 15, ret 0). */
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),                     /* 0: ethertype */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, 13),     /* 1 */
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 20),                     /* 2: next header */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 11),    /* 3 */
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 38),                     /* 4: destination, word 0 */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(w[0]), 0, 9),     /* 5 */
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 42),                     /* 6: word 1 */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(w[1]), 0, 7),     /* 7 */
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 46),                     /* 8: word 2 */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(w[2]), 0, 5),     /* 9 */
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 50),                     /* 10: word 3 */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(w[3]), 0, 3),     /* 11 */
      BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 56),                     /* 12: UDP destination port (14 + 40 + 2) */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 1),            /* 13 */
      BPF_STMT(BPF_RET | BPF_K, 0xffff),                          /* 14: accept */
      BPF_STMT(BPF_RET | BPF_K, 0),                               /* 15: drop */
  };
  struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) die("setsockopt(SO_ATTACH_FILTER)");
}

static unsigned long long ring_drops;
static int ring_fd = -1;

/* PACKET_STATISTICS returns the counts since the last call and resets them: accumulate. */
static void read_ring_drops(void) {
  if (ring_fd < 0) return;
  struct tpacket_stats_v3 st;
  socklen_t sl = sizeof st;
  if (getsockopt(ring_fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0) ring_drops += st.tp_drops;
}

static void print_counters(void) {
  read_ring_drops();
  const char *en = last_send_errno != 0 ? strerrorname_np(last_send_errno) : NULL;
  printf("{\"report\":%llu,\"mode\":\"%s\",\"received\":%llu,\"sent\":%llu,\"send_errors\":%llu,\"last_send_error\":\"%s\",\"batches\":%llu,\"ring_drops\":%llu}\n",
         ++reports, mode_name, c_received, c_sent, c_send_errors, en != NULL ? en : "", c_batches, ring_drops);
  fflush(stdout);
}

/* Called where the loops wait: a SIGUSR1 interrupted the wait, or arrived while busy. */
static void maybe_report(void) {
  if (!report_wanted) return;
  report_wanted = 0;
  print_counters();
}

static void run_ring(const char *in_if, const struct group *group, uint16_t port, struct output *outs, int nout) {
  const uint16_t proto = group->family == AF_INET6 ? ETH_P_IPV6 : ETH_P_IP;
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(proto));
  if (fd < 0) die("socket(AF_PACKET, SOCK_RAW)");
  ring_fd = fd;
  /* Filter before bind, so nothing unfiltered reaches the ring in between. */
  if (group->family == AF_INET6) attach_filter6(fd, &group->v6, port);
  else attach_filter(fd, group->v4, port);
  int version = TPACKET_V3;
  if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) die("setsockopt(PACKET_VERSION, TPACKET_V3)");
  struct tpacket_req3 req = {
      .tp_block_size = BLOCK_SIZE,
      .tp_block_nr = BLOCK_COUNT,
      .tp_frame_size = FRAME_SIZE,
      .tp_frame_nr = (BLOCK_SIZE / FRAME_SIZE) * BLOCK_COUNT,
      .tp_retire_blk_tov = BLOCK_TOV_MS,
  };
  if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) die("setsockopt(PACKET_RX_RING)");
  size_t map_len = (size_t)BLOCK_SIZE * BLOCK_COUNT;
  uint8_t *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, fd, 0);
  if (map == MAP_FAILED) {
    map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) die("mmap(PACKET_RX_RING)");
  }
  unsigned ifindex = if_nametoindex(in_if);
  if (ifindex == 0) die("if_nametoindex(--in)");
  struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(proto), .sll_ifindex = (int)ifindex};
  if (bind(fd, (struct sockaddr *)&ll, sizeof ll) < 0) die("bind(AF_PACKET, --in)");
  fprintf(stderr, "{\"event\":\"ready\",\"mode\":\"ring\"}\n");

  struct iovec iov[BATCH];
  unsigned block = 0;
  while (!stopping) {
    maybe_report();
    struct tpacket_block_desc *desc = (struct tpacket_block_desc *)(map + (size_t)block * BLOCK_SIZE);
    if ((desc->hdr.bh1.block_status & TP_STATUS_USER) == 0) {
      struct pollfd p = {.fd = fd, .events = POLLIN | POLLERR};
      if (poll(&p, 1, 100) < 0 && errno != EINTR) die("poll(ring)");
      continue;
    }
    uint32_t count = desc->hdr.bh1.num_pkts;
    struct tpacket3_hdr *h = (struct tpacket3_hdr *)((uint8_t *)desc + desc->hdr.bh1.offset_to_first_pkt);
    unsigned n = 0;
    for (uint32_t i = 0; i < count; i++) {
      uint32_t len = 0;
      /* The sockaddr_ll after the header says which way the frame went: a packet socket also sees what leaves. */
      const struct sockaddr_ll *from = (const struct sockaddr_ll *)((const uint8_t *)h + TPACKET_ALIGN(sizeof *h));
      const uint8_t *frame = (const uint8_t *)h + h->tp_mac;
      const uint8_t *payload = from->sll_pkttype == PACKET_OUTGOING ? NULL
          : group->family == AF_INET6 ? match_frame6(frame, h->tp_snaplen, &group->v6, port, &len)
          : match_frame(frame, h->tp_snaplen, group->v4, port, &len);
      if (payload != NULL) {
        c_received++;
        iov[n].iov_base = (void *)payload;
        iov[n].iov_len = len;
        if (++n == BATCH) {
          send_all(outs, nout, iov, n);
          n = 0;
        }
      }
      h = (struct tpacket3_hdr *)((uint8_t *)h + h->tp_next_offset);
    }
    /* Payloads point into the block: send them before handing it back. */
    if (n > 0) send_all(outs, nout, iov, n);
    __atomic_store_n(&desc->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    block = (block + 1) % BLOCK_COUNT;
  }
}

/* Binds the mmsg socket to the group and joins it on --in, either family. */
static void bind_and_join(int fd, const char *in_if, const struct group *group, uint16_t port) {
  unsigned ifindex = if_nametoindex(in_if);
  if (ifindex == 0) die("if_nametoindex(--in)");
  if (group->family == AF_INET6) {
    struct sockaddr_in6 addr = {.sin6_family = AF_INET6, .sin6_addr = group->v6, .sin6_port = htons(port)};
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind([group]:port)");
    struct ipv6_mreq mreq = {.ipv6mr_multiaddr = group->v6, .ipv6mr_interface = ifindex};
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof mreq) < 0) die("setsockopt(IPV6_JOIN_GROUP)");
    return;
  }
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr = group->v4, .sin_port = htons(port)};
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind(group:port)");
  struct ip_mreqn mreq = {.imr_multiaddr = group->v4, .imr_ifindex = (int)ifindex};
  if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0) die("setsockopt(IP_ADD_MEMBERSHIP)");
}

static void run_mmsg(const char *in_if, const struct group *group, uint16_t port, struct output *outs, int nout) {
  int fd = socket(group->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die(group->family == AF_INET6 ? "socket(AF_INET6, SOCK_DGRAM)" : "socket(AF_INET, SOCK_DGRAM)");
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) die("setsockopt(SO_REUSEADDR)");
  /* A careful relay gives its socket room for bursts (the ring mode has 16 MiB); FORCE passes rmem_max as root. */
  int rcvbuf = RCVBUF_BYTES;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0) die("setsockopt(SO_RCVBUF)");
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, in_if, (socklen_t)strlen(in_if)) < 0) die("setsockopt(SO_BINDTODEVICE, --in)");
  bind_and_join(fd, in_if, group, port);
  fprintf(stderr, "{\"event\":\"ready\",\"mode\":\"mmsg\"}\n");

  static uint8_t bufs[BATCH][2048];
  struct iovec rx_iov[BATCH];
  struct iovec tx_iov[BATCH];
  struct mmsghdr msgs[BATCH];
  for (unsigned i = 0; i < BATCH; i++) {
    rx_iov[i].iov_base = bufs[i];
    rx_iov[i].iov_len = sizeof bufs[i];
  }
  while (!stopping) {
    maybe_report();
    for (unsigned i = 0; i < BATCH; i++) {
      memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_iov = &rx_iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int r = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("recvmmsg");
    }
    for (int i = 0; i < r; i++) {
      tx_iov[i].iov_base = bufs[i];
      /* A datagram longer than a buffer arrives truncated (MSG_TRUNC); the bench's are at most 1472 B. */
      tx_iov[i].iov_len = msgs[i].msg_len < sizeof bufs[i] ? msgs[i].msg_len : sizeof bufs[i];
    }
    c_received += (unsigned)r;
    send_all(outs, nout, tx_iov, (unsigned)r);
  }
}

int main(int argc, char **argv) {
  const char *mode = NULL, *in_if = NULL, *group_s = NULL, *port_s = NULL;
  static struct output outs[MAX_OUTPUTS];
  int nout = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) usage("every option takes a value");
    const char *v = argv[++i];
    if (strcmp(a, "--mode") == 0) mode = v;
    else if (strcmp(a, "--in") == 0) in_if = v;
    else if (strcmp(a, "--group") == 0) group_s = v;
    else if (strcmp(a, "--port") == 0) port_s = v;
    else if (strcmp(a, "--out") == 0) {
      if (nout == MAX_OUTPUTS) usage("too many --out (at most 32)");
      open_output(&outs[nout++], strdup(v));
    } else usage("unknown option");
  }
  if (mode == NULL || in_if == NULL || group_s == NULL || port_s == NULL || nout == 0) usage("--mode, --in, --group, --port and --out are required");
  struct group group = {.family = is_v6(group_s) ? AF_INET6 : AF_INET};
  if (group.family == AF_INET6) group.v6 = parse_addr6(group_s, "bad --group");
  else group.v4 = parse_addr(group_s, "bad --group");
  uint16_t port = parse_port(port_s);

  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  /* No SA_RESTART: a signal must interrupt poll/recvmmsg so the loop sees `stopping`. */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  mode_name = mode;

  if (strcmp(mode, "ring") == 0) run_ring(in_if, &group, port, outs, nout);
  else if (strcmp(mode, "mmsg") == 0) run_mmsg(in_if, &group, port, outs, nout);
  else usage("--mode must be ring or mmsg");

  print_counters();
  return 0;
}
