// SPDX-License-Identifier: MIT
// asyncdev-bench model "nonblock": one thread busy-polls O_NONBLOCK read(2)
// over the stream fds of the fed FIFO.
#include "fed_fifo.h"
#include "model.h"

#include <cerrno>

namespace bench {

void run_nonblock(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat)
{
    run_fed(c, m, r, lat, [&m](FifoReader& rd, std::vector<asyncdev::Device>& fds) {
        while (rd.more()) {
            for (auto& d : fds)
                if (rd.read_one(d.fd()) == -EAGAIN && (rd.empty() & 1023) == 0)
                    m.poll_stop();
        }
        return std::string();
    });
}

} // namespace bench
