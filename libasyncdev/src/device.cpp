// SPDX-License-Identifier: MIT
#include <asyncdev/device.h>
#include <asyncdev/error.h>

#include <cerrno>

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

} // namespace asyncdev
