// SPDX-License-Identifier: MIT
#include <asyncdev/device.h>
#include <asyncdev/error.h>

#include <cerrno>
#include <stdexcept>

#include <sys/ioctl.h>

namespace asyncdev {

namespace {

// One ioctl, named for the error message; `arg` may be null for _IO ones.
bool do_ioctl(int fd, unsigned long req, const char* name, void* arg, std::error_code* ec)
{
    int rc;
    do
        rc = ::ioctl(fd, req, arg);
    while (rc < 0 && errno == EINTR);
    if (rc >= 0) {
        if (ec)
            ec->clear();
        return true;
    }
    if (!ec)
        throw_errno(std::string("ioctl(") + name + ")");
    *ec = std::error_code(errno, std::system_category());
    return false;
}

#define IOCTL(fd, req, arg, ec) do_ioctl(fd, req, #req, arg, ec)

Info to_info(const asyncdev_info& i)
{
    return {i.abi_version, static_cast<NodeKind>(i.node), i.capacity, i.record_size};
}

Config to_config(const asyncdev_config& c)
{
    return {std::chrono::nanoseconds(c.latency_ns), std::chrono::nanoseconds(c.jitter_ns),
            c.channels, c.produce_hz};
}

asyncdev_config from_config(const Config& c)
{
    asyncdev_config u{};
    u.latency_ns = static_cast<__u64>(c.latency.count());
    u.jitter_ns = static_cast<__u64>(c.jitter.count());
    u.channels = c.channels;
    u.produce_hz = c.produce_hz;
    return u;
}

Fault to_fault(const asyncdev_fault& f)
{
    return {static_cast<FaultMode>(f.mode), static_cast<int>(f.error), f.count};
}

asyncdev_fault from_fault(const Fault& f)
{
    asyncdev_fault u{};
    u.mode = static_cast<__u32>(f.mode);
    u.error = static_cast<__u32>(f.error);
    u.count = f.count;
    return u;
}

Info get_info(int fd, std::error_code* ec)
{
    asyncdev_info u{};
    return IOCTL(fd, ASYNCDEV_IOC_GET_INFO, &u, ec) ? to_info(u) : Info{};
}

Config get_config(int fd, std::error_code* ec)
{
    asyncdev_config u{};
    return IOCTL(fd, ASYNCDEV_IOC_GET_CONFIG, &u, ec) ? to_config(u) : Config{};
}

Stats get_stats(int fd, std::error_code* ec)
{
    Stats s{};
    return IOCTL(fd, ASYNCDEV_IOC_GET_STATS, &s, ec) ? s : Stats{};
}

Fault get_fault(int fd, std::error_code* ec)
{
    asyncdev_fault u{};
    return IOCTL(fd, ASYNCDEV_IOC_GET_FAULT, &u, ec) ? to_fault(u) : Fault{};
}

void set_config(int fd, const Config& c, std::error_code* ec)
{
    asyncdev_config u = from_config(c);
    IOCTL(fd, ASYNCDEV_IOC_SET_CONFIG, &u, ec);
}

void set_fault(int fd, const Fault& f, std::error_code* ec)
{
    asyncdev_fault u = from_fault(f);
    IOCTL(fd, ASYNCDEV_IOC_SET_FAULT, &u, ec);
}

// A precondition failed: throw, or report it through `ec`.
bool precondition(bool ok, const char* what, std::error_code* ec)
{
    if (ok)
        return true;
    if (!ec)
        throw std::invalid_argument(what);
    *ec = std::make_error_code(std::errc::invalid_argument);
    return false;
}

bool single_dir(Direction d)
{
    return d == Direction::read || d == Direction::write;
}

asyncdev_trigger from_trigger(const Trigger& t)
{
    return {static_cast<__u32>(t.dirs), t.ppm, t.every};
}

Trigger to_trigger(const asyncdev_trigger& t)
{
    return {static_cast<Direction>(t.dirs), t.every, t.ppm};
}

Latency get_latency(int fd, Direction dir, std::error_code* ec)
{
    if (!precondition(single_dir(dir), "Device::latency: direction must be read or write", ec))
        return {};
    asyncdev_latency u{};
    u.dir = static_cast<__u32>(dir);
    if (!IOCTL(fd, ASYNCDEV_IOC_GET_LATENCY, &u, ec))
        return {};
    return {static_cast<LatencyDist>(u.dist), std::chrono::nanoseconds(u.base_ns),
            std::chrono::nanoseconds(u.spread_ns), u.tail_ppm, u.tail_mult};
}

void set_latency(int fd, Direction dir, const Latency& l, std::error_code* ec)
{
    if (!precondition(l.base.count() >= 0 && l.spread.count() >= 0,
                      "Device::set_latency: negative duration", ec))
        return;
    asyncdev_latency u{};
    u.dir = static_cast<__u32>(dir);
    u.dist = static_cast<__u32>(l.dist);
    u.base_ns = static_cast<__u64>(l.base.count());
    u.spread_ns = static_cast<__u64>(l.spread.count());
    u.tail_ppm = l.tail_ppm;
    u.tail_mult = l.tail_mult;
    IOCTL(fd, ASYNCDEV_IOC_SET_LATENCY, &u, ec);
}

std::uint64_t get_seed(int fd, std::error_code* ec)
{
    asyncdev_seed u{};
    return IOCTL(fd, ASYNCDEV_IOC_GET_SEED, &u, ec) ? u.seed : 0;
}

void set_seed(int fd, std::uint64_t seed, std::error_code* ec)
{
    asyncdev_seed u{};
    u.seed = seed;
    IOCTL(fd, ASYNCDEV_IOC_SET_SEED, &u, ec);
}

Stall get_stall(int fd, std::error_code* ec)
{
    asyncdev_stall u{};
    return IOCTL(fd, ASYNCDEV_IOC_GET_STALL, &u, ec) ? Stall{to_trigger(u.when)} : Stall{};
}

void set_stall(int fd, const Stall& s, std::error_code* ec)
{
    asyncdev_stall u{};
    u.when = from_trigger(s.when);
    IOCTL(fd, ASYNCDEV_IOC_SET_STALL, &u, ec);
}

ShortTransfer get_short(int fd, std::error_code* ec)
{
    asyncdev_short u{};
    if (!IOCTL(fd, ASYNCDEV_IOC_GET_SHORT, &u, ec))
        return {};
    return {to_trigger(u.when), u.bytes, u.permille};
}

void set_short(int fd, const ShortTransfer& s, std::error_code* ec)
{
    asyncdev_short u{};
    u.when = from_trigger(s.when);
    u.bytes = s.bytes;
    u.permille = s.permille;
    IOCTL(fd, ASYNCDEV_IOC_SET_SHORT, &u, ec);
}

// The list may grow between the count and the copy: retry until it fits.
BadBlocks get_bad_blocks(int fd, std::error_code* ec)
{
    std::vector<__u64> buf;
    for (;;) {
        asyncdev_badblocks_list u{};
        u.ranges = reinterpret_cast<std::uintptr_t>(buf.data());
        u.max = static_cast<__u32>(buf.size() / 2);
        if (!IOCTL(fd, ASYNCDEV_IOC_GET_BADBLOCKS, &u, ec))
            return {};
        if (u.count <= u.max) {
            BadBlocks b;
            b.writes = static_cast<BadWrites>(u.writes);
            for (std::uint32_t i = 0; i < u.count; i++)
                b.ranges.push_back({buf[2 * i], buf[2 * i + 1]});
            return b;
        }
        buf.assign(2 * static_cast<std::size_t>(u.count), 0);
    }
}

void bad_op(int fd, std::uint32_t op, std::uint32_t writes, BadRange r, std::error_code* ec)
{
    asyncdev_badblocks u{};
    u.op = op;
    u.writes = writes;
    u.start = r.start;
    u.end = r.end;
    IOCTL(fd, ASYNCDEV_IOC_BADBLOCKS, &u, ec);
}

} // namespace

Device::Device(const std::filesystem::path& path, int flags)
{
    std::error_code ec;
    *this = open(path, flags, ec);
    if (ec)
        throw_system_error(ec.value(), "open(" + path.string() + ")");
}

Device Device::open(const std::filesystem::path& path, int flags, std::error_code& ec) noexcept
{
    int fd;
    do
        fd = ::open(path.c_str(), flags | O_CLOEXEC, 0666); // mode: O_CREAT, umask applies
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        ec = std::error_code(errno, std::system_category());
        return Device();
    }
    ec.clear();
    return Device(UniqueFd(fd));
}

Info Device::info() const { return get_info(fd(), nullptr); }
Info Device::info(std::error_code& ec) const noexcept { return get_info(fd(), &ec); }
Config Device::config() const { return get_config(fd(), nullptr); }
Config Device::config(std::error_code& ec) const noexcept { return get_config(fd(), &ec); }
void Device::set_config(const Config& c) { asyncdev::set_config(fd(), c, nullptr); }
void Device::set_config(const Config& c, std::error_code& ec) noexcept { asyncdev::set_config(fd(), c, &ec); }
Stats Device::stats() const { return get_stats(fd(), nullptr); }
Stats Device::stats(std::error_code& ec) const noexcept { return get_stats(fd(), &ec); }
void Device::reset_stats() { IOCTL(fd(), ASYNCDEV_IOC_RESET_STATS, nullptr, nullptr); }
void Device::reset_stats(std::error_code& ec) noexcept { IOCTL(fd(), ASYNCDEV_IOC_RESET_STATS, nullptr, &ec); }
void Device::flush() { IOCTL(fd(), ASYNCDEV_IOC_FLUSH, nullptr, nullptr); }
void Device::flush(std::error_code& ec) noexcept { IOCTL(fd(), ASYNCDEV_IOC_FLUSH, nullptr, &ec); }
Fault Device::fault() const { return get_fault(fd(), nullptr); }
Fault Device::fault(std::error_code& ec) const noexcept { return get_fault(fd(), &ec); }
void Device::set_fault(const Fault& f) { asyncdev::set_fault(fd(), f, nullptr); }
void Device::set_fault(const Fault& f, std::error_code& ec) noexcept { asyncdev::set_fault(fd(), f, &ec); }

Latency Device::latency(Direction d) const { return get_latency(fd(), d, nullptr); }
Latency Device::latency(Direction d, std::error_code& ec) const noexcept { return get_latency(fd(), d, &ec); }
void Device::set_latency(Direction d, const Latency& l) { asyncdev::set_latency(fd(), d, l, nullptr); }
void Device::set_latency(Direction d, const Latency& l, std::error_code& ec) noexcept
{
    asyncdev::set_latency(fd(), d, l, &ec);
}
std::uint64_t Device::seed() const { return get_seed(fd(), nullptr); }
std::uint64_t Device::seed(std::error_code& ec) const noexcept { return get_seed(fd(), &ec); }
void Device::set_seed(std::uint64_t s) { asyncdev::set_seed(fd(), s, nullptr); }
void Device::set_seed(std::uint64_t s, std::error_code& ec) noexcept { asyncdev::set_seed(fd(), s, &ec); }
Stall Device::stall() const { return get_stall(fd(), nullptr); }
Stall Device::stall(std::error_code& ec) const noexcept { return get_stall(fd(), &ec); }
void Device::set_stall(const Stall& s) { asyncdev::set_stall(fd(), s, nullptr); }
void Device::set_stall(const Stall& s, std::error_code& ec) noexcept { asyncdev::set_stall(fd(), s, &ec); }
ShortTransfer Device::short_transfer() const { return get_short(fd(), nullptr); }
ShortTransfer Device::short_transfer(std::error_code& ec) const noexcept { return get_short(fd(), &ec); }
void Device::set_short_transfer(const ShortTransfer& s) { set_short(fd(), s, nullptr); }
void Device::set_short_transfer(const ShortTransfer& s, std::error_code& ec) noexcept { set_short(fd(), s, &ec); }

// bad_blocks() allocates: the noexcept form reports a failed allocation as ENOMEM.
BadBlocks Device::bad_blocks() const { return get_bad_blocks(fd(), nullptr); }
BadBlocks Device::bad_blocks(std::error_code& ec) const noexcept
{
    try {
        return get_bad_blocks(fd(), &ec);
    } catch (const std::bad_alloc&) {
        ec = std::make_error_code(std::errc::not_enough_memory);
        return {};
    }
}
void Device::add_bad_range(BadRange r) { bad_op(fd(), ASYNCDEV_BAD_ADD, 0, r, nullptr); }
void Device::add_bad_range(BadRange r, std::error_code& ec) noexcept { bad_op(fd(), ASYNCDEV_BAD_ADD, 0, r, &ec); }
void Device::clear_bad_range(BadRange r) { bad_op(fd(), ASYNCDEV_BAD_CLEAR, 0, r, nullptr); }
void Device::clear_bad_range(BadRange r, std::error_code& ec) noexcept
{
    bad_op(fd(), ASYNCDEV_BAD_CLEAR, 0, r, &ec);
}
void Device::clear_bad_ranges() { bad_op(fd(), ASYNCDEV_BAD_CLEAR_ALL, 0, {}, nullptr); }
void Device::clear_bad_ranges(std::error_code& ec) noexcept { bad_op(fd(), ASYNCDEV_BAD_CLEAR_ALL, 0, {}, &ec); }
void Device::set_bad_writes(BadWrites w)
{
    bad_op(fd(), ASYNCDEV_BAD_SET_WRITES, static_cast<std::uint32_t>(w), {}, nullptr);
}
void Device::set_bad_writes(BadWrites w, std::error_code& ec) noexcept
{
    bad_op(fd(), ASYNCDEV_BAD_SET_WRITES, static_cast<std::uint32_t>(w), {}, &ec);
}

} // namespace asyncdev
