// SPDX-License-Identifier: MIT
// asyncdev::Uring: io_uring (liburing) backend.
#pragma once

#include <asyncdev/io_engine.h>
#include <asyncdev/loop.h>

#include <chrono>
#include <memory>
#include <system_error>

namespace asyncdev {

/// An io_uring of `depth` submission entries whose completions are
/// signalled through an eventfd registered with io_uring_register_eventfd
/// and watched by the Loop. Follows the IoEngine contract (io_engine.h):
/// one io_uring_submit for everything prepared, at most `depth` requests in
/// the kernel (the rest wait in a userspace backlog), cancellation with
/// IORING_OP_ASYNC_CANCEL, and an orderly drain in the destructor (cancel
/// everything, wait for every CQE, then io_uring_queue_exit).
/// An io_uring_submit the kernel refuses (-EAGAIN, -EBUSY) leaves the SQEs
/// in the ring: they are pushed again after the next reap and from a 1 ms
/// Timer, so requests never wait for another submit() from the user.
/// Limit: cancel() returns true for a request in the kernel although, when
/// the submission ring is full at that moment (the kernel refusing submits
/// for a while), no IORING_OP_ASYNC_CANCEL could be queued: the request
/// then completes with its real result (the callback still runs once).
/// Reads and writes longer than 0x7ffff000 bytes (Linux's MAX_RW_COUNT;
/// io_uring's length is 32 bits) transfer at most that: a short transfer.
///
/// Unlike libaio, io_uring completes reads on pipes, sockets and an empty
/// /dev/asyncdev asynchronously (it polls internally), and such waits can
/// be cancelled.
///
/// Constructed and used on the loop thread; the Loop must outlive it.
class Uring final : public IoEngine {
public:
    /// Throws std::system_error "io_uring_queue_init: ..." etc. (EINVAL
    /// for a depth over the kernel's 32768 entries, ENOMEM when locked
    /// memory runs out, EPERM when io_uring is disabled by sysctl
    /// kernel.io_uring_disabled, ENOSYS without io_uring).
    explicit Uring(Loop& loop, unsigned depth = 128);
    /// Non-throwing setup, in the style of Device::open: on failure `ec`
    /// is set (the errno of the failing call, std::system_category) and
    /// the result is null; on success `ec` is cleared. Still throws
    /// std::logic_error off the loop thread (a precondition) and
    /// std::bad_alloc.
    static std::unique_ptr<Uring> create(Loop& loop, unsigned depth, std::error_code& ec);
    ~Uring() override;
    Uring(const Uring&) = delete;
    Uring& operator=(const Uring&) = delete;

    RequestId read(int fd, std::span<std::byte> buf, std::uint64_t offset,
                   Completion done) override;
    RequestId write(int fd, std::span<const std::byte> buf, std::uint64_t offset,
                    Completion done) override;
    RequestId readv(int fd, std::span<const iovec> iov, std::uint64_t offset,
                    Completion done) override;
    RequestId writev(int fd, std::span<const iovec> iov, std::uint64_t offset,
                     Completion done) override;
    /// read()/write() bounded by a linked timeout (IOSQE_IO_LINK +
    /// IORING_OP_LINK_TIMEOUT): unless the request completes within
    /// `timeout` (> 0, else std::invalid_argument) of entering the kernel
    /// (time spent in the userspace backlog does not count), the kernel
    /// cancels it and the callback gets -ETIMEDOUT; a request that
    /// completed anyway reports its real result. cancel() still gives
    /// -ECANCELED.
    RequestId read(int fd, std::span<std::byte> buf, std::uint64_t offset, Completion done,
                   std::chrono::nanoseconds timeout);
    RequestId write(int fd, std::span<const std::byte> buf, std::uint64_t offset,
                    Completion done, std::chrono::nanoseconds timeout);
    std::size_t submit() override;
    bool cancel(RequestId id) override;
    void abandon(RequestId id) noexcept override;
    std::size_t depth() const noexcept override;
    std::size_t in_flight() const noexcept override;
    std::size_t queued() const noexcept override;

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace asyncdev
