// SPDX-License-Identifier: MIT
// asyncdev-bench: the loop of the asynchronous models (posix-aio, libaio,
// uring) on /dev/asyncmem, for any backend of the IoBackend contract.
#pragma once

#include "bench.h"
#include "meter.h"

#include <cstring>
#include <functional>
#include <span>

#include <fcntl.h>

namespace bench {

// One request per stream in flight; a completion verifies and issues the
// stream's next request; everything prepared in a loop batch goes to the
// kernel in one submit().
template <class B>
void run_async(Ctx& c, Meter& m, Result& r, std::vector<std::uint64_t>& lat, asyncdev::Loop& loop,
               B& io)
{
    const Options& o = c.o;
    auto fds = open_streams(o.mem, o.depth, O_RDONLY);
    Buffers bufs(o.depth, o.size);
    struct Stream {
        std::uint64_t k = 0, t0 = 0;
    };
    std::vector<Stream> streams(o.depth);
    std::uint64_t issued = 0, in_flight = 0;
    bool more = true;
    std::function<void(std::size_t)> issue = [&](std::size_t s) {
        Stream& st = streams[s];
        st.k = issued++;
        ++in_flight;
        st.t0 = tool::now_ns();
        io.read(fds[s].fd(), std::span<std::byte>(bufs[s], o.size), c.image.offset(st.k),
                [&, s](ssize_t res) {
                    --in_flight;
                    Stream& st = streams[s];
                    const std::uint64_t t1 = tool::now_ns();
                    if (res < 0)
                        ++r.io_errors;
                    else if (static_cast<std::uint64_t>(res) != o.size ||
                             std::memcmp(bufs[s], c.image.slot(st.k), o.size) != 0)
                        ++r.bad_data;
                    more = m.complete(t1 - st.t0, t1, lat) && more;
                    if (more && issued < m.total())
                        issue(s);
                });
    };
    m.begin();
    for (std::size_t s = 0; s < o.depth && issued < m.total(); ++s)
        issue(s);
    io.submit();
    while (in_flight) {
        loop.run_once(std::chrono::milliseconds(1000));
        io.submit();
        m.poll_stop();
    }
}

} // namespace bench
