// SPDX-License-Identifier: MIT
// asyncdev-bench model "libaio": io_submit on /dev/asyncmem, completions
// through an eventfd (AioContext).
#include "async.h"
#include "async_fifo.h"
#include "model.h"

namespace bench {

void run_libaio(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat)
{
    asyncdev::Loop loop;
    asyncdev::AioContext io(loop, static_cast<unsigned>(c.o.depth));
    run_async(c, m, r, lat, loop, io);
}

// --same-device: io_submit, queued in the driver until data comes, one read in flight on the
// producer-driven FIFO (opened blocking).
void producer_libaio(const Options& o, RecordSink& sink)
{
    asyncdev::Device d = open_node(o.fifo, O_RDONLY);
    std::vector<std::byte> buf(o.size); // outlives io
    asyncdev::Loop loop;
    asyncdev::AioContext io(loop, 1);
    producer_async(sink, loop, io, d.fd(), buf);
}

} // namespace bench
