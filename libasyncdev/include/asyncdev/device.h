// SPDX-License-Identifier: MIT
// asyncdev::Device: an open asyncdev node and typed wrappers for its ioctls.
#pragma once

#include <asyncdev/fd.h>
#include <asyncdev/uapi/asyncdev.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <system_error>

#include <fcntl.h>

namespace asyncdev {

inline constexpr const char* fifo_path = "/dev/asyncdev"; ///< FIFO node
inline constexpr const char* mem_path = "/dev/asyncmem";  ///< seekable memory node

enum class NodeKind : std::uint32_t {
    fifo = ASYNCDEV_NODE_FIFO,
    mem = ASYNCDEV_NODE_MEM,
};

/// ASYNCDEV_IOC_GET_INFO: static facts about a node.
struct Info {
    std::uint32_t abi_version = 0;
    NodeKind node{};
    std::uint64_t capacity = 0; ///< FIFO capacity or memory size, bytes
    std::uint32_t record_size = 0;
};

/// ASYNCDEV_IOC_GET/SET_CONFIG: simulated device settings.
struct Config {
    std::chrono::nanoseconds latency{0};
    std::chrono::nanoseconds jitter{0};
    std::uint32_t channels = 1;
    std::uint32_t produce_hz = 0; ///< FIFO only; must be 0 on /dev/asyncmem
};

enum class FaultMode : std::uint32_t {
    off = ASYNCDEV_FAULT_OFF,
    next = ASYNCDEV_FAULT_NEXT,   ///< fail the next `count` requests
    every = ASYNCDEV_FAULT_EVERY, ///< fail every `count`-th request
};

/// ASYNCDEV_IOC_GET/SET_FAULT: fault injection.
struct Fault {
    FaultMode mode = FaultMode::off;
    int error = 0; ///< positive errno the failed requests complete with
    std::uint64_t count = 0;
};

/// ASYNCDEV_IOC_GET_STATS: the counters, exactly as the driver reports them.
using Stats = asyncdev_stats;

/// An open file on an asyncdev node (or any path: the ioctls then fail with
/// ENOTTY, which is how the errors are tested without the module).
///
/// Owns its descriptor (closed on destruction). fd() may be handed to the
/// I/O backends and to SignalNotifier; they do not take ownership, so the
/// Device must outlive their use of it.
///
/// Every ioctl wrapper comes in two forms: one throws std::system_error with
/// what() = "ioctl(ASYNCDEV_IOC_<NAME>): <strerror>", the other reports the
/// error through `ec` and never throws (on error the returned value is
/// default-constructed). Wrappers are thread-safe as far as the driver is.
class Device {
public:
    Device() noexcept = default;
    /// open(path, flags) (mode 0666 less the umask if flags create a file).
    /// Throws std::system_error "open(<path>): ...".
    explicit Device(const std::filesystem::path& path, int flags = O_RDWR | O_CLOEXEC);
    /// Takes ownership of an already open descriptor.
    explicit Device(UniqueFd fd) noexcept : fd_(std::move(fd)) {}
    /// Non-throwing open: on failure `ec` is set and the result is closed.
    static Device open(const std::filesystem::path& path, int flags, std::error_code& ec) noexcept;

    int fd() const noexcept { return fd_.get(); }
    bool is_open() const noexcept { return static_cast<bool>(fd_); }
    /// Gives the descriptor to the caller; the Device becomes closed.
    UniqueFd release() noexcept { return std::move(fd_); }
    void close() noexcept { fd_.reset(); }

    Info info() const;
    Info info(std::error_code& ec) const noexcept;

    Config config() const;
    Config config(std::error_code& ec) const noexcept;
    /// Needs CAP_SYS_ADMIN; EINVAL for out-of-range values.
    void set_config(const Config& cfg);
    void set_config(const Config& cfg, std::error_code& ec) noexcept;

    Stats stats() const;
    Stats stats(std::error_code& ec) const noexcept;
    /// Needs the file open for writing.
    void reset_stats();
    void reset_stats(std::error_code& ec) noexcept;

    /// Discards the FIFO contents (ENOTTY on /dev/asyncmem). Needs FMODE_WRITE.
    void flush();
    void flush(std::error_code& ec) noexcept;

    Fault fault() const;
    Fault fault(std::error_code& ec) const noexcept;
    /// Needs CAP_SYS_ADMIN.
    void set_fault(const Fault& f);
    void set_fault(const Fault& f, std::error_code& ec) noexcept;

private:
    UniqueFd fd_;
};

} // namespace asyncdev
