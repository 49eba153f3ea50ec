// SPDX-License-Identifier: MIT
// asyncdev-bench model "libaio": io_submit on /dev/asyncmem, completions
// through an eventfd (AioContext).
#include "async.h"
#include "model.h"

namespace bench {

void run_libaio(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat)
{
    asyncdev::Loop loop;
    asyncdev::AioContext io(loop, static_cast<unsigned>(c.o.depth));
    run_async(c, m, r, lat, loop, io);
}

} // namespace bench
