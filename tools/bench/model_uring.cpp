// SPDX-License-Identifier: MIT
// asyncdev-bench model "uring": io_uring on /dev/asyncmem, completions
// through an eventfd (Uring).
#include "async.h"
#include "model.h"

namespace bench {

void run_uring(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat)
{
    asyncdev::Loop loop;
    asyncdev::Uring io(loop, static_cast<unsigned>(c.o.depth));
    run_async(c, m, r, lat, loop, io);
}

} // namespace bench
