// The stop signals of the traffic tools (mcrgen, mcrsink): SIGINT and SIGTERM
// end a run cleanly, with its JSON report printed, instead of killing the
// process mid-run. One flag and one way of catching them, shared by both.
#pragma once

#include <csignal>

// Set by the handler; the tools' loops check it between batches and waits.
extern volatile sig_atomic_t g_tool_stop;

// Catches SIGINT and SIGTERM into g_tool_stop. No SA_RESTART: the signal must
// interrupt clock_nanosleep / poll / ppoll so the loop sees the flag promptly.
void tool_catch_stop_signals();

// Blocks SIGINT and SIGTERM and returns the mask to wait with (the previous
// mask without them), for ppoll: the signals then arrive only inside the
// wait, so one that lands between the flag check and the wait ends the wait
// instead of being noticed only after its timeout.
sigset_t tool_block_stop_signals();
