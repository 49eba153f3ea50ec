// SPDX-License-Identifier: MIT
// asyncdev-bench --same-device: the loop of the asynchronous models
// (posix-aio, libaio, uring) on the producer-driven FIFO, for any backend
// of the IoBackend contract. One read in flight: a FIFO is one stream, and
// one request keeps the records in order.
#pragma once

#include "producer.h"

#include <cerrno>
#include <chrono>
#include <functional>
#include <span>

namespace bench {

/// Reads `fd` (the FIFO, opened blocking: the driver queues the read until
/// data comes) into `buf` through `io` until sink.done(), resubmitting from
/// each completion; then waits up to 5 s for the read in flight. `buf`
/// must outlive `io` (whose destructor may wait for the kernel to finish
/// with it).
template <class B>
void producer_async(RecordSink& sink, asyncdev::Loop& loop, B& io, int fd,
                    std::span<std::byte> buf)
{
    bool in_flight = false;
    std::function<void()> issue = [&] {
        in_flight = true;
        io.read(fd, buf, 0, [&](ssize_t res) {
            in_flight = false;
            const std::uint64_t now = tool::now_ns();
            if (res > 0)
                sink.deliver(buf.data(), static_cast<std::size_t>(res), now);
            else if (res != -EINTR && res != -EAGAIN && !sink.done())
                sink.fail(res < 0 ? static_cast<int>(-res) : EIO);
            if (!sink.done())
                issue();
        });
    };
    sink.begin();
    issue();
    io.submit();
    while (!sink.done()) {
        loop.run_once(std::chrono::milliseconds(1000));
        io.submit();
        sink.poll_stop();
    }
    // The producer still runs: the read in flight completes.
    const std::uint64_t deadline = tool::now_ns() + 5000000000ull;
    while (in_flight && tool::now_ns() < deadline)
        loop.run_once(std::chrono::milliseconds(100));
}

} // namespace bench
