// Helpers for the guest tests of libasyncdev (cmocka in C++, run as root
// in the guest with the module loaded).
#pragma once

#include <asyncdev/asyncdev.h>

#include <chrono>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <csetjmp>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

extern "C" {
#include <cmocka.h>
}

namespace guest {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// Runs the loop until pred() holds or `timeout` passes; returns pred().
template <class Pred>
bool run_until(asyncdev::Loop& loop, Pred pred, std::chrono::milliseconds timeout = 5s)
{
    const auto deadline = Clock::now() + timeout;
    while (!pred() && Clock::now() < deadline)
        loop.run_once(10ms);
    return pred();
}

inline asyncdev::Device open_node(const char* path, int flags = O_RDWR)
{
    std::error_code ec;
    asyncdev::Device d = asyncdev::Device::open(path, flags, ec);
    if (ec)
        fail_msg("open %s: %s", path, ec.message().c_str());
    return d;
}

/// Both nodes back to defaults: no latency, no producer, no faults, empty FIFO.
inline int reset_nodes(void**)
{
    for (const char* path : {asyncdev::fifo_path, asyncdev::mem_path}) {
        asyncdev::Device d = open_node(path);
        d.set_config(asyncdev::Config{});
        d.set_fault(asyncdev::Fault{});
        if (path == asyncdev::fifo_path)
            d.flush();
    }
    return 0;
}

inline std::vector<std::byte> pattern(std::size_t n, unsigned seed)
{
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = static_cast<std::byte>((i * 31 + seed) & 0xff);
    return v;
}

/// Writes `data` to the FIFO from another thread after `delay`.
inline std::thread write_later(int fd, std::vector<std::byte> data,
                               std::chrono::milliseconds delay = 50ms)
{
    return std::thread([fd, data = std::move(data), delay] {
        std::this_thread::sleep_for(delay);
        if (::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
            std::abort();
    });
}

} // namespace guest
