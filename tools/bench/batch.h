// SPDX-License-Identifier: MIT
// asyncdev-bench --batch.
#pragma once

#include "bench.h"

namespace bench {

/// Times o.batch reads on o.mem one after another and as one batch through
/// each asynchronous API (best of 3 runs); prints the comparison. Exits
/// with a message on an I/O error or wrong data. Returns the exit status.
int run_batch(Options& o);

} // namespace bench
