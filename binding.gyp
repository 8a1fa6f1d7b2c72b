# Native build: the addon (core + N-API boundary), the traffic tools and the
# C++ unit tests, and c_relay (plain C, the bench's userspace anchor: bench/methods/c-relay.ts). Everything links Debian's liburing (liburing-dev).
{
  "target_defaults": {
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
    "cflags_cc": ["-std=c++20", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers", "-fno-strict-aliasing"],
    "include_dirs": ["native"],
    "libraries": ["-luring"]
  },
  "targets": [
    {
      "target_name": "mcr_native",
      "sources": [
        "native/core/frame_parser.cc",
        "native/core/rule_table.cc", "native/core/wildcard_rules.cc",
        "native/core/buffer_pool.cc",
        "native/core/provided_buffer_ring.cc",
        "native/core/packet_ring.cc",
        "native/core/egress_socket.cc",
        "native/core/egress_socket6.cc",
        "native/core/packet_socket.cc",
        "native/core/log_ring.cc",
        "native/core/relay_loop.cc",
        "native/core/submitter.cc",
        "native/core/loop_rules.cc",
        "native/core/send_queue.cc",
        "native/core/frame_forwarder.cc",
        "native/core/gso_batcher.cc",
        "native/core/ingress_source.cc",
        "native/core/ring_ingress.cc",
        "native/core/multishot_ingress.cc",
        "native/core/send_batch.cc",
        "native/core/fd_channel.cc",
        "native/core/peer_credentials.cc",
        "native/core/process_control.cc",
        "native/core/heartbeat.cc",
        "native/core/netlink_parser.cc",
        "native/core/netlink_monitor.cc",
        "native/core/interface_drops.cc",
        "native/core/stream_monitor.cc",
        "native/core/unix_datagram.cc",
        "native/core/file_lock.cc",
        "native/core/io_uring_probe.cc",
        "native/core/thread_times.cc",
        "native/core/loop_thread.cc",
        "native/addon/addon.cc",
        "native/addon/loop_wrap.cc",
        "native/addon/napi_errors.cc",
        "native/addon/rule_convert.cc",
        "native/addon/process_api.cc",
        "native/addon/interface_monitor_wrap.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"]
    },
    {
      "target_name": "mcrgen",
      "type": "executable",
      "sources": ["native/tools/mcrgen.cc", "native/tools/mcrgen_config.cc", "native/tools/mcrgen_socket.cc",
                  "native/tools/mcrgen_sender.cc", "native/tools/mcrgen_report.cc", "native/tools/payload.cc",
                  "native/tools/stream_source.cc", "native/tools/tool_args.cc", "native/tools/tool_signals.cc",
                  "native/tools/tool_socket.cc"]
    },
    {
      "target_name": "mcrsink",
      "type": "executable",
      "sources": ["native/tools/mcrsink.cc", "native/tools/mcrsink_config.cc", "native/tools/mcrsink_socket.cc",
                  "native/tools/mcrsink_receiver.cc", "native/tools/mcrsink_tally.cc", "native/tools/mcrsink_report.cc",
                  "native/tools/payload.cc", "native/tools/latency_histogram.cc", "native/tools/tool_args.cc",
                  "native/tools/tool_signals.cc", "native/tools/tool_socket.cc"]
    },
    {
      "target_name": "mcrinject",
      "type": "executable",
      "sources": ["native/tools/mcrinject.cc", "native/tools/tool_args.cc"]
    },
    {
      "target_name": "deny_syscall",
      "type": "executable",
      "sources": ["native/tools/deny_syscall.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra"]
    },
    {
      "target_name": "c_relay",
      "type": "executable",
      "sources": ["native/tools/c_relay.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra"]
    },
    {
      "target_name": "monitor_bench",
      "type": "executable",
      "sources": ["native/bench/monitor_bench.cc", "native/core/frame_parser.cc", "native/core/rule_table.cc", "native/core/wildcard_rules.cc",
                  "native/core/stream_monitor.cc"]
    },
    {
      "target_name": "lookup_bench",
      "type": "executable",
      "sources": ["native/bench/lookup_bench.cc", "native/core/rule_table.cc", "native/core/wildcard_rules.cc"]
    },
    {
      "target_name": "core_tests",
      "type": "executable",
      "sources": [
        "native/tests/test_main.cc",
        "native/tests/frame_parser_test.cc",
        "native/tests/rule_table_test.cc",
        "native/tests/wildcard_rules_test.cc",
        "native/tests/buffer_pool_test.cc",
        "native/tests/send_batch_test.cc",
        "native/tests/netlink_parser_test.cc",
        "native/tests/interface_drops_test.cc",
        "native/core/interface_drops.cc",
        "native/tests/log_ring_test.cc",
        "native/tests/loop_rules_test.cc",
        "native/tests/fd_channel_test.cc",
        "native/tests/stream_monitor_test.cc",
        "native/tests/poll_policy_test.cc",
        "native/tests/realtime_guard_test.cc",
        "native/tests/thread_times_test.cc",
        "native/core/thread_times.cc",
        "native/tests/ring_wait_test.cc",
        "native/tests/latency_histogram_test.cc",
        "native/tests/payload_test.cc",
        "native/tests/process_control_test.cc",
        "native/tests/submitter_test.cc",
        "native/core/submitter.cc",
        "native/core/process_control.cc",
        "native/tools/latency_histogram.cc",
        "native/tools/payload.cc",
        "native/core/stream_monitor.cc",
        "native/core/send_batch.cc",
        "native/core/frame_parser.cc",
        "native/core/netlink_parser.cc",
        "native/core/rule_table.cc", "native/core/wildcard_rules.cc",
        "native/core/buffer_pool.cc",
        "native/core/log_ring.cc",
        "native/core/fd_channel.cc",
        "native/core/loop_rules.cc"
      ]
    }
  ]
}
