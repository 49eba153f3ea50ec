// SPDX-License-Identifier: MIT
// asyncdev::AioContext: native Linux AIO (libaio, io_submit) backend.
#pragma once

#include <asyncdev/io_engine.h>
#include <asyncdev/loop.h>

#include <memory>
#include <system_error>

namespace asyncdev {

/// An io_setup() context of `depth` slots whose completions are signalled
/// through an eventfd (io_set_eventfd on every iocb) watched by the Loop.
/// Follows the IoEngine contract (see io_engine.h): batched io_submit of
/// everything prepared, a userspace backlog beyond `depth`, io_cancel, and
/// an orderly drain in the destructor (io_cancel everything, io_getevents
/// until the kernel has returned every iocb, then io_destroy).
///
/// Note: only files with real asynchronous read_iter/write_iter (O_DIRECT
/// files, /dev/asyncdev, /dev/asyncmem) complete asynchronously; on others
/// (buffered files, pipes, sockets) io_submit performs the I/O
/// synchronously and may block. Cancellation needs driver support
/// (kiocb_set_cancel_fn, as /dev/asyncdev has); elsewhere cancel() leaves
/// the request to complete normally.
///
/// Constructed and used on the loop thread; the Loop must outlive it.
/// In a forked child the context is invalid: the destructor then cancels
/// and waits for nothing (see Loop, fork()).
class AioContext final : public IoEngine {
public:
    /// Throws std::system_error "io_setup: ..." / "eventfd: ...".
    explicit AioContext(Loop& loop, unsigned depth = 128);
    /// Non-throwing setup: on failure sets `ec` (e.g. EAGAIN from io_setup
    /// beyond /proc/sys/fs/aio-max-nr) and returns null. Misuse (another
    /// thread, a forked child) still throws std::logic_error.
    static std::unique_ptr<AioContext> create(Loop& loop, unsigned depth, std::error_code& ec);
    ~AioContext() override;
    AioContext(const AioContext&) = delete;
    AioContext& operator=(const AioContext&) = delete;

    RequestId read(int fd, std::span<std::byte> buf, std::uint64_t offset,
                   Completion done) override;
    RequestId write(int fd, std::span<const std::byte> buf, std::uint64_t offset,
                    Completion done) override;
    RequestId readv(int fd, std::span<const iovec> iov, std::uint64_t offset,
                    Completion done) override;
    RequestId writev(int fd, std::span<const iovec> iov, std::uint64_t offset,
                     Completion done) override;
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
