// SPDX-License-Identifier: MIT
// asyncdev-bench model "epoll": one thread, level-triggered epoll
// (Loop::watch_fd) over the stream fds of the fed FIFO, one read per event;
// --same-device: the same on one fd of the producer-driven FIFO.
#include "fed_fifo.h"
#include "model.h"

#include <cerrno>

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

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

// --same-device: level-triggered epoll on one O_NONBLOCK fd of the
// producer-driven FIFO, one read per event.
void producer_epoll(const Options& o, RecordSink& sink)
{
    asyncdev::Device d = open_node(o.fifo, O_RDONLY | O_NONBLOCK);
    std::vector<std::byte> buf(o.size);
    std::uint64_t events = 0, eagain = 0;
    sink.watch_counter("events", &events);
    sink.watch_counter("EAGAIN", &eagain);
    asyncdev::Loop loop;
    const asyncdev::Loop::Watch w = loop.watch_fd(d.fd(), EPOLLIN, [&](std::uint32_t) {
        ++events;
        if (sink.done())
            return;
        const ssize_t n = ::read(d.fd(), buf.data(), buf.size());
        if (n > 0)
            sink.deliver(buf.data(), static_cast<std::size_t>(n), tool::now_ns());
        else if (n < 0 && errno == EAGAIN)
            ++eagain;
        else if (n >= 0 || errno != EINTR)
            sink.fail(n < 0 ? errno : EIO);
    });
    sink.begin();
    while (!sink.done()) {
        loop.run_once(std::chrono::milliseconds(1000));
        sink.poll_stop();
    }
}

} // namespace bench
