// mcrsink's receive loop: recvmmsg(2) in batches of 64, each datagram's
// control messages read and the datagram handed to the tally, until
// --count, --duration, --idle after the first datagram, or a stop signal.
#pragma once

#include <csignal>

#include "tools/mcrsink_config.h"
#include "tools/mcrsink_tally.h"

namespace mcrsink {

// `wait_mask`: the signal mask to wait in (tool_block_stop_signals()).
void run(int fd, const Config& c, Totals& t, const sigset_t& wait_mask);

}  // namespace mcrsink
