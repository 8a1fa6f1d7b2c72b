#!/usr/bin/env bash
# ingress-compare.sh: measures the relay's two candidate ingress methods side
# by side in one lab and one run (DESIGN.md, "The hot path": multishot recv
# into a provided-buffer ring vs a TPACKET_V3 ring woken by a multishot poll).
# It builds native/bench/ingress_compare into a temp dir, makes two network
# namespaces joined by one veth pair (src 10.98.0.1/24 → rx 10.98.0.2/24),
# and for each repetition, payload size and offered rate runs every mode in
# turn: ingress_compare pinned to CPU 1 in rx, build/Release/mcrgen pinned to
# CPU 0 in src. The receiving thread's CPU time is only part of the cost:
# the kernel's receive softirq (where TPACKET copies frames into its ring and
# plain AF_PACKET clones and queues them) runs on CPU 0 inside mcrgen's send
# calls (veth, no RPS) or in ksoftirqd. So the script also takes mcrgen's CPU
# time (bash `time`, from wait4 rusage) and ksoftirqd/0+1's run time
# (/proc/PID/schedstat), all exact per-task clocks that other processes on the
# host cannot inflate, and reports the sum per frame ("rx path ns/frame").
# Mode "idle" runs the same traffic with no packet socket; subtracting its
# figure leaves what the socket and its method cost ("socket ns/frame").
# Everything it makes is deleted on exit (trap), each step is time-bounded,
# and it only ever kills PIDs it started. Needs root.
#
# Environment (defaults in brackets):
#   REPS [3]  DURATION [5] seconds of traffic per run  SIZES ["64 1400"]
#   RATES ["0 150000 10000"] offered pps, 0 = as fast as mcrgen can
#   MODES ["idle multishot multishot:64:1000 tpacket:1 tpacket:4"]:
#         multishot[:WAIT_NR:WAIT_US] (each io_uring_enter waits for WAIT_NR
#         CQEs or WAIT_US, the io_uring analogue of a block retire timeout),
#         tpacket:RETIRE_MS[:BLOCK_SIZE[:BLOCK_COUNT]],
#         idle = no socket, the baseline CPU cost of the receive path itself
#   RPS [0] 1 = steer rx softirq to CPU 1 (then see core_busy_sec in the JSON,
#         which other processes on CPU 1 do inflate)
#   OUT  also copy the per-run JSON lines to this file
#   TABLE_FROM  only print the table from such a file (no lab, no root)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPS=${REPS:-3}
DURATION=${DURATION:-5}
SIZES=${SIZES:-"64 1400"}
RATES=${RATES:-"0 150000 10000"}
MODES=${MODES:-"idle multishot multishot:64:1000 tpacket:1 tpacket:4"}
RPS=${RPS:-0}
GROUP=239.98.0.1
PORT=5098
MCRGEN=$ROOT/build/Release/mcrgen

# --- table: medians over repetitions (ns columns also show min–max) --------
# "socket ns/frame" subtracts the median rx-path figure of the idle runs at
# the same payload and rate: what the packet socket and its method add.
print_table() {
  jq -s -r '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def r0: round;
  def r1: . * 10 | round / 10;
  def spread(f): (map(f) | min | r0 | tostring) + "–" + (map(f) | max | r0 | tostring);
  (map(select(.rx.mode == "idle")) | group_by([.size, .rate])
   | map({key: "\(.[0].size)/\(.[0].rate)", value: (map(.path_ns) | median)}) | from_entries) as $base
  | "| mode | payload | offered pps | received pps | kernel drops (max) | cpu ns/frame (rx thread) | rx path ns/frame (all CPUs) | socket ns/frame (path − idle) | io_uring_enter / 1000 frames | runs |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    (group_by([.size, .rate, .name])
     | sort_by(.[0].size, (if .[0].rate == 0 then 0 else 1 / .[0].rate end), (if .[0].rx.mode == "idle" then 0 else 1 end), .[0].name)
     | .[]
     | (.[0].rx.mode == "idle") as $idle
     | ($base["\(.[0].size)/\(.[0].rate)"]) as $b
     | "| \(.[0].name) | \(.[0].size) | \(map(.gen.pps) | median | r0)\(if .[0].rate == 0 then " (max)" else "" end)"
       + if $idle then " | – | – | – | \(map(.path_ns) | median | r0) (\(spread(.path_ns))) | – | – | \(length) |"
         else " | \(map(.rx.pps) | median | r0) | \(map(.rx.kernel_drops) | median | r0)\(map(.rx.kernel_drops) | max | if . > 0 then " (\(.))" else "" end)"
           + " | \(map(.rx.cpu_ns_per_frame) | median | r0) (\(spread(.rx.cpu_ns_per_frame)))"
           + " | \(map(.path_ns) | median | r0) (\(spread(.path_ns)))"
           + " | \(if $b == null then "–" else (map(.path_ns) | median) - $b | r0 | tostring end)"
           + " | \(map(.rx.syscalls * 1000 / ([.rx.frames, 1] | max)) | median | r1) | \(length) |"
         end)
' "$1"
}

die() {
  echo "ingress-compare: $*" >&2
  exit 1
}

if [[ -n ${TABLE_FROM:-} ]]; then
  print_table "$TABLE_FROM"
  exit 0
fi

[[ $EUID -eq 0 ]] || die "needs root (network namespaces, AF_PACKET)"
[[ -x $MCRGEN ]] || die "$MCRGEN is missing: build the native tools first (npm run build)"
command -v jq >/dev/null || die "jq is required"
command -v taskset >/dev/null || die "taskset is required"
(( $(nproc) >= 2 )) || die "needs 2 CPUs (generator on 0, receiver on 1)"

NS_SRC=mcric-$$-src
NS_RX=mcric-$$-rx
IF_SRC=src0
IF_RX=rx0
TMP=$(mktemp -d /tmp/mcr-ingress-compare.XXXXXX)
STARTED=()
CLEANED=0

cleanup() {
  local rc=${1:-$?}
  (( CLEANED )) && return
  CLEANED=1
  trap - EXIT INT TERM
  local pid
  for pid in "${STARTED[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  ip netns del "$NS_SRC" 2>/dev/null || true
  ip netns del "$NS_RX" 2>/dev/null || true
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'cleanup 130' INT
trap 'cleanup 143' TERM

# --- build ------------------------------------------------------------------
BIN=$TMP/ingress_compare
g++ -std=c++20 -O2 -Wall -I"$ROOT/native" "$ROOT"/native/bench/*.cc \
  "$ROOT/native/core/packet_socket.cc" "$ROOT/native/core/provided_buffer_ring.cc" \
  "$ROOT/native/core/buffer_pool.cc" "$ROOT/native/core/frame_parser.cc" \
  -luring -o "$BIN" || die "build of ingress_compare failed"

# --- lab --------------------------------------------------------------------
ip netns add "$NS_SRC"
ip netns add "$NS_RX"
# Created inside the namespaces, so deleting them removes the pair.
ip -n "$NS_SRC" link add "$IF_SRC" type veth peer name "$IF_RX" netns "$NS_RX"
for ns in "$NS_SRC" "$NS_RX"; do
  # No IPv6 neighbour/MLD chatter in the counts.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
ip -n "$NS_SRC" addr add 10.98.0.1/24 dev "$IF_SRC"
ip -n "$NS_RX" addr add 10.98.0.2/24 dev "$IF_RX"
ip -n "$NS_SRC" link set "$IF_SRC" up
ip -n "$NS_RX" link set "$IF_RX" up
ip -n "$NS_SRC" route add 224.0.0.0/4 dev "$IF_SRC"
if (( RPS )); then
  ip netns exec "$NS_RX" sh -c "echo 2 > /sys/class/net/$IF_RX/queues/rx-0/rps_cpus" ||
    die "cannot set RPS on $IF_RX (CONFIG_RPS?)"
fi

# Run time (ns) of the ksoftirqd threads of CPUs 0 and 1.
SOFTIRQD_PIDS=$(pgrep -x 'ksoftirqd/[01]' || true)
softirqd_ns() {
  local pid sum=0 ns
  for pid in $SOFTIRQD_PIDS; do
    read -r ns _ <"/proc/$pid/schedstat" || ns=0
    sum=$(( sum + ns ))
  done
  echo "$sum"
}

# Drop a PID we have waited for from the list cleanup would kill.
forget() {
  local keep=() pid
  for pid in "${STARTED[@]}"; do
    [[ $pid == "$1" ]] || keep+=("$pid")
  done
  STARTED=("${keep[@]}")
}

# Children user+system seconds from a saved `times` output (line 2: "XmY.YYYs XmY.YYYs").
children_cpu_sec() {
  awk 'NR == 2 {
    t = 0
    for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] }
    printf "%.3f", t
  }' "$1"
}

# --- one run ----------------------------------------------------------------
# run_one MODE SIZE RATE REP: appends one JSON line to $TMP/runs.jsonl
run_one() {
  local spec=$1 size=$2 rate=$3 rep=$4
  local mode=${spec%%:*} args=() label=$spec
  if [[ $mode == tpacket ]]; then
    IFS=: read -r _ retire bsize bcount <<<"$spec"
    args=(--retire-ms "${retire:-1}")
    [[ -n ${bsize:-} ]] && args+=(--block-size "$bsize")
    [[ -n ${bcount:-} ]] && args+=(--block-count "$bcount")
    label="tpacket retire ${retire:-1} ms"
    [[ -n ${bsize:-} ]] && label+=" block ${bsize}"
  elif [[ $mode == multishot ]]; then
    IFS=: read -r _ wait_nr wait_us <<<"$spec"
    if [[ -n ${wait_nr:-} ]]; then
      args=(--wait-nr "$wait_nr" --wait-us "${wait_us:-1000}")
      label="multishot wait ${wait_nr}/${wait_us:-1000} µs"
    fi
  elif [[ $mode == idle ]]; then
    label="idle (no socket)"
  else
    die "unknown mode $spec"
  fi
  local rx_out=$TMP/rx.out rx_err=$TMP/rx.err gen_out=$TMP/gen.out
  : >"$rx_out"
  : >"$rx_err"
  local rx_seconds
  rx_seconds=$(awk -v d="$DURATION" 'BEGIN { print d + 1.5 }')
  ip netns exec "$NS_RX" taskset -c 1 "$BIN" --interface "$IF_RX" --mode "$mode" \
    --seconds "$rx_seconds" "${args[@]}" >"$rx_out" 2>"$rx_err" &
  local rx_pid=$!
  STARTED+=("$rx_pid")
  # Wait (bounded) for the receiver to report that its socket is live.
  local i
  for (( i = 0; i < 100; i++ )); do
    grep -q 'ready' "$rx_err" && break
    kill -0 "$rx_pid" 2>/dev/null || break
    sleep 0.05
  done
  grep -q 'ready' "$rx_err" || { cat "$rx_err" >&2; die "ingress_compare did not start ($label)"; }
  local sirq0 sirq1 gen_ok=1 gen_pid
  sirq0=$(softirqd_ns)
  # mcrgen's CPU time is the change in this shell's children times (wait4
  # rusage, so exact): mcrgen itself plus the softirq receive work that ran
  # inside its send calls. It runs in the background so that `wait` (unlike a
  # foreground command) lets the INT/TERM trap run at once.
  times >"$TMP/times0"
  timeout --signal=TERM $(( DURATION + 10 )) \
    ip netns exec "$NS_SRC" taskset -c 0 "$MCRGEN" --dest "$GROUP" --port "$PORT" \
    --interface "$IF_SRC" --size "$size" --rate "$rate" --duration "$DURATION" >"$gen_out" 2>"$TMP/gen.err" &
  gen_pid=$!
  STARTED+=("$gen_pid")
  wait "$gen_pid" || gen_ok=0
  times >"$TMP/times1"
  forget "$gen_pid"
  (( gen_ok )) || die "mcrgen failed ($label, size $size, rate $rate): $(cat "$gen_out" "$TMP/gen.err")"
  # The receiver ends by itself DURATION + 1.5 s after it was ready.
  for (( i = 0; i < 200; i++ )); do
    kill -0 "$rx_pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$rx_pid" 2>/dev/null; then
    kill -TERM "$rx_pid" 2>/dev/null || true
  fi
  wait "$rx_pid" || { cat "$rx_err" >&2; die "ingress_compare failed ($label)"; }
  forget "$rx_pid"
  sirq1=$(softirqd_ns)
  local gen_cpu
  gen_cpu=$(children_cpu_sec "$TMP/times1")
  gen_cpu=$(awk -v a="$gen_cpu" -v b="$(children_cpu_sec "$TMP/times0")" 'BEGIN { printf "%.3f", a - b }')
  jq -c -n --arg name "$label" --argjson size "$size" --argjson rate "$rate" --argjson rep "$rep" \
    --argjson gen_cpu "$gen_cpu" --argjson sirq "$(( sirq1 - sirq0 ))" \
    --slurpfile rx "$rx_out" --slurpfile gen "$gen_out" \
    '{name: $name, size: $size, rate: $rate, rep: $rep, rx: $rx[0], gen: $gen[0],
      gen_cpu_sec: $gen_cpu, softirqd_sec: ($sirq / 1e9)}
     | .frames = (if .rx.mode == "idle" then .gen.sent else .rx.frames end)
     | .path_ns = ((.gen_cpu_sec + .softirqd_sec + .rx.cpu_sec) * 1e9 / ([.frames, 1] | max))' >>"$TMP/runs.jsonl"
  jq -r '"  \(.name) size \(.size) rate \(if .rate == 0 then "max" else .rate end) rep \(.rep): " +
         "offered \(.gen.pps | floor) rx \(.rx.pps) drops \(.rx.kernel_drops) " +
         "cpu \(.rx.cpu_ns_per_frame) ns path \(.path_ns | round) ns (gen \(.gen_cpu_sec) s, ksoftirqd \(.softirqd_sec * 1000 | round) ms) " +
         "enter/1k \((.rx.syscalls * 1000 / ([.rx.frames, 1] | max)) * 10 | round / 10)"' \
    <<<"$(tail -n 1 "$TMP/runs.jsonl")" >&2
}

echo "ingress-compare: kernel $(uname -r), $(nproc) CPUs, RPS=$RPS, ${DURATION}s per run, $REPS reps" >&2
for (( rep = 1; rep <= REPS; rep++ )); do
  for size in $SIZES; do
    for rate in $RATES; do
      for spec in $MODES; do
        run_one "$spec" "$size" "$rate" "$rep"
      done
    done
  done
done

[[ -n ${OUT:-} ]] && cp "$TMP/runs.jsonl" "$OUT"

print_table "$TMP/runs.jsonl"
