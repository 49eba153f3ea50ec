// SPDX-License-Identifier: MIT
// asyncdev-bench model "blocking": a thread per stream, each blocking
// pread(2) on its own fd of /dev/asyncmem; --same-device: blocking read(2)
// of the producer-driven FIFO.
#include "model.h"

#include <cerrno>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

namespace bench {

void run_blocking(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat)
{
    const Options& o = c.o;
    auto fds = open_streams(o.mem, o.depth, O_RDONLY);
    Buffers bufs(o.depth, o.size);
    std::atomic<std::uint64_t> next{0}, io_errors{0}, bad{0};
    std::vector<std::vector<std::uint64_t>> per_thread(o.depth);
    std::vector<std::thread> threads;
    m.begin();
    for (std::uint64_t s = 0; s < o.depth; ++s)
        threads.emplace_back([&, s] {
            auto& samples = per_thread[s];
            samples.reserve(m.total() / o.depth + 16);
            std::byte* buf = bufs[s];
            for (;;) {
                const std::uint64_t k = next.fetch_add(1);
                if (k >= m.total() || m.finished())
                    return;
                const std::uint64_t t0 = tool::now_ns();
                const ssize_t n = ::pread(fds[s].fd(), buf, o.size,
                                          static_cast<off_t>(c.image.offset(k)));
                const std::uint64_t t1 = tool::now_ns();
                if (n < 0)
                    io_errors.fetch_add(1);
                else if (static_cast<std::uint64_t>(n) != o.size ||
                         std::memcmp(buf, c.image.slot(k), o.size) != 0)
                    bad.fetch_add(1);
                if (!m.complete(t1 - t0, t1, samples))
                    return;
            }
        });
    for (auto& t : threads)
        t.join();
    for (auto& v : per_thread)
        lat.insert(lat.end(), v.begin(), v.end());
    r.io_errors = io_errors;
    r.bad_data = bad;
    r.notes = std::to_string(o.depth) + " threads";
}

// --same-device: blocking read(2) of the producer-driven FIFO in this thread.
void producer_blocking(const Options& o, RecordSink& sink)
{
    asyncdev::Device d = open_node(o.fifo, O_RDONLY);
    std::vector<std::byte> buf(o.size);
    const ReadAlarm alarm(sink.give_up_seconds()); // a read cannot wait for ever
    sink.begin();
    while (!sink.done()) {
        const ssize_t n = ::read(d.fd(), buf.data(), buf.size());
        if (n > 0)
            sink.deliver(buf.data(), static_cast<std::size_t>(n), tool::now_ns());
        else if (n < 0 && errno == EINTR)
            sink.poll_stop();
        else
            sink.fail(n < 0 ? errno : EIO);
    }
}

} // namespace bench
