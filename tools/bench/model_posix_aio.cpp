// SPDX-License-Identifier: MIT
// asyncdev-bench model "posix-aio": aio_read/lio_listio on /dev/asyncmem
// through glibc's thread pool, completion by RT signal (PosixAio). Each
// stream has its own fd: glibc serves the requests of one fd one after
// another.
#include "async.h"
#include "async_fifo.h"
#include "model.h"

namespace bench {

void run_posix_aio(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat)
{
    asyncdev::Loop loop;
    asyncdev::PosixAio io(loop, asyncdev::PosixAio::Notify::signal, 0,
                          static_cast<std::size_t>(c.o.depth));
    run_async(c, m, r, lat, loop, io);
    r.notes = std::to_string(c.o.depth) + " fds, glibc threads";
}

// --same-device: aio_read, completed by glibc's helper thread, one read in flight on the
// producer-driven FIFO (opened blocking).
void producer_posix_aio(const Options& o, RecordSink& sink)
{
    asyncdev::Device d = open_node(o.fifo, O_RDONLY);
    std::vector<std::byte> buf(o.size); // outlives io
    asyncdev::Loop loop;
    asyncdev::PosixAio io(loop, asyncdev::PosixAio::Notify::signal, 0, 1);
    producer_async(sink, loop, io, d.fd(), buf);
}

} // namespace bench
