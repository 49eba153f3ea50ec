// SPDX-License-Identifier: MIT
// asyncdev-bench: the helpers of bench.h (signals, the data pattern, opening
// nodes, text).
#include "bench.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <system_error>

namespace bench {

// ---------------------------------------------------------------- signals

sigset_t stop_signals;
std::atomic<bool> interrupted{false};

bool check_interrupt()
{
    if (interrupted.load(std::memory_order_relaxed))
        return true;
    sigset_t pend;
    if (::sigpending(&pend) == 0 &&
        (sigismember(&pend, SIGINT) == 1 || sigismember(&pend, SIGTERM) == 1)) {
        interrupted.store(true);
        return true;
    }
    return false;
}

// ---------------------------------------------------------------- the data

namespace {

std::uint64_t mix64(std::uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

} // namespace

Image make_image(std::size_t size, std::size_t nslots)
{
    Image im;
    im.size = size;
    im.nslots = nslots;
    im.bytes.resize(size * nslots + 8);
    for (std::size_t o = 0; o < size * nslots; o += 8) {
        const std::uint64_t w = mix64(o);
        std::memcpy(im.bytes.data() + o, &w, 8);
    }
    im.bytes.resize(size * nslots);
    return im;
}

asyncdev::Device open_node(const char* path, int flags)
{
    std::error_code ec;
    asyncdev::Device d = asyncdev::Device::open(path, flags, ec);
    if (ec && tool::open_error(path, ec.value()) != ec.message())
        fail("open %s: %s", path, tool::open_error(path, ec.value()).c_str()); // module not loaded
    if (ec)
        throw std::system_error(ec, std::string("open ") + path);
    return d;
}

std::vector<asyncdev::Device> open_streams(const char* path, std::uint64_t n, int flags)
{
    std::vector<asyncdev::Device> v;
    for (std::uint64_t i = 0; i < n; ++i)
        v.push_back(open_node(path, flags));
    return v;
}

// ---------------------------------------------------------------- text

std::string fmt(const char* f, double v)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

std::string per_op(std::uint64_t n, std::uint64_t ops, const char* what)
{
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.2f %s/op", ops ? static_cast<double>(n) / ops : 0.0, what);
    return buf;
}

std::string clocksource()
{
    std::ifstream in("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    std::string cs;
    if (!(in >> cs))
        return "unknown";
    return cs;
}

bool cheap_clock(const std::string& cs)
{
    return cs == "tsc" || cs == "kvm-clock" || cs == "arch_sys_counter" || cs == "unknown";
}

std::string cpu_model()
{
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos)
                return line.substr(line.find_first_not_of(' ', colon + 1));
        }
    return "unknown";
}

} // namespace bench
