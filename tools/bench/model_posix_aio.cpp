// SPDX-License-Identifier: MIT
// asyncdev-bench model "posix-aio": aio_read/lio_listio on /dev/asyncmem
// through glibc's thread pool, completion by RT signal (PosixAio). Each
// stream has its own fd: glibc serves the requests of one fd one after
// another.
#include "async.h"
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

} // namespace bench
