// SPDX-License-Identifier: MIT
// asyncdev-bench model "nonblock": one thread busy-polls O_NONBLOCK read(2)
// over the stream fds of the fed FIFO; --same-device: spins on one
// O_NONBLOCK fd of the producer-driven FIFO.
#include "fed_fifo.h"
#include "model.h"

#include <cerrno>

#include <fcntl.h>
#include <unistd.h>

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

// --same-device: spin on an O_NONBLOCK read(2) of the producer-driven FIFO.
void producer_nonblock(const Options& o, RecordSink& sink)
{
    asyncdev::Device d = open_node(o.fifo, O_RDONLY | O_NONBLOCK);
    std::vector<std::byte> buf(o.size);
    std::uint64_t eagain = 0;
    sink.watch_counter("EAGAIN", &eagain);
    sink.begin();
    while (!sink.done()) {
        const ssize_t n = ::read(d.fd(), buf.data(), buf.size());
        if (n > 0) {
            sink.deliver(buf.data(), static_cast<std::size_t>(n), tool::now_ns());
        } else if (n < 0 && errno == EAGAIN) {
            if ((++eagain & 1023) == 0)
                sink.poll_stop();
        } else if (n >= 0 || errno != EINTR) {
            sink.fail(n < 0 ? errno : EIO);
        }
    }
}

} // namespace bench
