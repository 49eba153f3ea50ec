// SPDX-License-Identifier: MIT
// asyncdev::Device: an open asyncdev node and typed wrappers for its ioctls.
#pragma once

#include <asyncdev/fd.h>
#include <asyncdev/uapi/asyncdev.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <system_error>
#include <vector>

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

/// A direction of transfer, or a set of them (a bit mask, as the driver's).
enum class Direction : std::uint32_t {
    none = 0,                     ///< no direction: a Trigger that never fires
    read = ASYNCDEV_DIR_READ,
    write = ASYNCDEV_DIR_WRITE,
    both = ASYNCDEV_DIR_BOTH,
};

/// How service times are distributed (ASYNCDEV_LAT_*).
enum class LatencyDist : std::uint32_t {
    fixed = ASYNCDEV_LAT_FIXED,             ///< always `base`
    uniform = ASYNCDEV_LAT_UNIFORM,         ///< base + uniform [0, spread]
    exponential = ASYNCDEV_LAT_EXP,         ///< base + exponential of mean `spread`
};

/// ASYNCDEV_IOC_GET/SET_LATENCY: the service time distribution of one
/// direction. With probability tail_ppm / 10^6 a service time is multiplied
/// by tail_mult (a slow tail); every service time is capped at 10 s.
/// Limits: base and spread 0..10 s, spread 0 for fixed, tail_ppm 0..10^6,
/// tail_mult 1..1000 (EINVAL otherwise).
struct Latency {
    LatencyDist dist = LatencyDist::fixed;
    std::chrono::nanoseconds base{0};
    std::chrono::nanoseconds spread{0};
    std::uint32_t tail_ppm = 0;
    std::uint32_t tail_mult = 1;
};

/// Which requests a misbehaviour hits: those of the directions `dirs` that
/// are the every-th (every > 0) or win a draw of probability ppm / 10^6.
/// With dirs set, every or ppm must be non-zero.
struct Trigger {
    Direction dirs = Direction::none;
    std::uint64_t every = 0;
    std::uint32_t ppm = 0;
};

/// ASYNCDEV_IOC_GET/SET_STALL: requests that do not complete until
/// cancelled (-ECANCELED), their file closed (-EIO) or, for a blocking call,
/// a signal arrives. They move no data.
struct Stall {
    Trigger when;
};

/// ASYNCDEV_IOC_GET/SET_SHORT: transfers that move fewer bytes than asked:
/// at most `bytes`, or `permille` / 1000 of the request (at least 1 byte).
/// With `when` set, exactly one of them is non-zero.
struct ShortTransfer {
    Trigger when;
    std::uint64_t bytes = 0;
    std::uint32_t permille = 0;
};

/// What a write touching a bad range does (ASYNCDEV_BAD_WRITES_*).
enum class BadWrites : std::uint32_t {
    pass = ASYNCDEV_BAD_WRITES_PASS,   ///< succeeds, the range stays bad
    fail = ASYNCDEV_BAD_WRITES_FAIL,   ///< fails with EIO
    clear = ASYNCDEV_BAD_WRITES_CLEAR, ///< succeeds and heals what it wrote
};

/// Bytes [start, end] (inclusive) of /dev/asyncmem are bad.
struct BadRange {
    std::uint64_t start = 0;
    std::uint64_t end = 0;
};

/// ASYNCDEV_IOC_GET_BADBLOCKS: the bad ranges, sorted, and the write rule.
struct BadBlocks {
    std::vector<BadRange> ranges;
    BadWrites writes = BadWrites::pass;
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

    // Misbehaviour (see asyncdev/uapi/asyncdev.h). Every setter needs
    // CAP_SYS_ADMIN (EPERM) and reports out-of-range values as EINVAL.
    // Preconditions, checked in every build: a negative duration, or
    // latency() of Direction::both or none, throws std::invalid_argument
    // (the `ec` forms set std::errc::invalid_argument instead).

    /// The distribution of `dir` (read or write).
    Latency latency(Direction dir) const;
    Latency latency(Direction dir, std::error_code& ec) const noexcept;
    /// Sets the distribution of `dir` (read, write or both).
    void set_latency(Direction dir, const Latency& l);
    void set_latency(Direction dir, const Latency& l, std::error_code& ec) noexcept;

    /// The seed the node's PRNG last restarted from.
    std::uint64_t seed() const;
    std::uint64_t seed(std::error_code& ec) const noexcept;
    /// Restarts the PRNG (and the every-N counters): the same seed and the
    /// same requests give the same latencies, stalls and short transfers.
    void set_seed(std::uint64_t seed);
    void set_seed(std::uint64_t seed, std::error_code& ec) noexcept;

    Stall stall() const;
    Stall stall(std::error_code& ec) const noexcept;
    void set_stall(const Stall& s);
    void set_stall(const Stall& s, std::error_code& ec) noexcept;

    ShortTransfer short_transfer() const;
    ShortTransfer short_transfer(std::error_code& ec) const noexcept;
    void set_short_transfer(const ShortTransfer& s);
    void set_short_transfer(const ShortTransfer& s, std::error_code& ec) noexcept;

    /// /dev/asyncmem only (ENOTTY on the FIFO). All the ranges, however many.
    BadBlocks bad_blocks() const;
    BadBlocks bad_blocks(std::error_code& ec) const noexcept;
    /// Marks [start, end] bad (merging with neighbours); ENOSPC beyond
    /// ASYNCDEV_BAD_MAX_RANGES ranges, EINVAL if start > end or end is past
    /// the device.
    void add_bad_range(BadRange r);
    void add_bad_range(BadRange r, std::error_code& ec) noexcept;
    /// Marks [start, end] good again (ENOSPC if a split finds the list full).
    void clear_bad_range(BadRange r);
    void clear_bad_range(BadRange r, std::error_code& ec) noexcept;
    void clear_bad_ranges();
    void clear_bad_ranges(std::error_code& ec) noexcept;
    void set_bad_writes(BadWrites w);
    void set_bad_writes(BadWrites w, std::error_code& ec) noexcept;

private:
    UniqueFd fd_;
};

} // namespace asyncdev
