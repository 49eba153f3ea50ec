// SPDX-License-Identifier: MIT
// asyncdev-bench model "epoll": one thread, level-triggered epoll
// (Loop::watch_fd) over the stream fds of the fed FIFO, one read per event.
#include "fed_fifo.h"
#include "model.h"

#include <sys/epoll.h>

namespace bench {

void run_epoll(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat)
{
    run_fed(c, m, r, lat, [&m](FifoReader& rd, std::vector<asyncdev::Device>& fds) {
        asyncdev::Loop loop;
        std::vector<asyncdev::Loop::Watch> watches;
        for (auto& d : fds)
            watches.push_back(loop.watch_fd(d.fd(), EPOLLIN, [&rd, fd = d.fd()](std::uint32_t) {
                if (rd.more())
                    rd.read_one(fd);
            }));
        while (rd.more()) {
            loop.run_once(std::chrono::milliseconds(1000));
            m.poll_stop();
        }
        return std::string();
    });
}

} // namespace bench
