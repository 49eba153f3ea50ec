// SPDX-License-Identifier: MIT
// asyncdev::Uring: io_uring (liburing) backend.
#pragma once

#include <asyncdev/io_engine.h>
#include <asyncdev/loop.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
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
/// Registered files and buffers (io_uring_register_files/_buffers): the
/// kernel takes a reference to each file and pins each buffer's pages once,
/// instead of at every request. A registered file is named by its index,
/// a Uring::FixedFile, never by an int, so that an fd cannot be passed for
/// an index by accident; a read or write into a registered buffer names the
/// buffer's index (Uring::FixedBuffer) and a span lying inside it:
///
///     asyncdev::Uring io(loop);
///     std::vector<std::byte> mem(64 * 4096);
///     const iovec whole{mem.data(), mem.size()};
///     io.register_files(std::array{fd});             // slot 0 holds fd
///     io.register_buffers(std::span(&whole, 1));     // buffer 0 is mem
///     using F = asyncdev::Uring::FixedFile;
///     using B = asyncdev::Uring::FixedBuffer;
///     io.read(F{0}, B{0}, std::span(mem).subspan(4096, 4096), off, cb);
///     io.readv(F{0}, iovecs, off, cb, 50ms);         // with a linked timeout
///     io.submit();
///     // in a coroutine (task.h): the same arguments before the span
///     co_await asyncdev::async_read(io, F{0}, B{0}, span, off);
///
/// One set of each at a time (as in the kernel). Preconditions, checked in
/// every build (std::logic_error and its subclasses, nothing submitted):
/// a FixedFile or FixedBuffer index below registered_files() /
/// registered_buffers() (std::out_of_range), a span inside its registered
/// buffer (std::invalid_argument), no second registration of the same
/// kind (std::logic_error), and no unregistration while a request that
/// uses it exists: unregister_files() and unregister_buffers() refuse
/// (std::logic_error, naming how many requests) from the request's
/// preparation until its callback is about to run (it may unregister) or
/// it is abandoned; the registration is then untouched. Kernel errors
/// throw std::system_error naming the call ("io_uring_register_buffers:
/// Cannot allocate memory"), or set the std::error_code of the overloads
/// that take one. Registered buffers are charged to RLIMIT_MEMLOCK unless
/// the process had CAP_IPC_LOCK when the Uring was created (ENOMEM beyond
/// it). Destroying the Uring (io_uring_queue_exit) drops the registrations
/// with the ring; in a forked child it leaves the parent's alone.
///
/// Constructed and used on the loop thread; the Loop must outlive it.
class Uring final : public IoEngine {
public:
    /// Index of a slot of the registered files (IOSQE_FIXED_FILE).
    struct FixedFile {
        constexpr explicit FixedFile(unsigned i) noexcept : index(i) {}
        unsigned index;
        friend constexpr bool operator==(FixedFile, FixedFile) = default;
    };
    /// Index of one of the registered buffers (the buf_index of
    /// IORING_OP_READ_FIXED / IORING_OP_WRITE_FIXED).
    struct FixedBuffer {
        constexpr explicit FixedBuffer(unsigned i) noexcept : index(i) {}
        unsigned index;
        friend constexpr bool operator==(FixedBuffer, FixedBuffer) = default;
    };

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
    /// -ECANCELED. The FixedFile / FixedBuffer forms below take a timeout
    /// as their last parameter.
    RequestId read(int fd, std::span<std::byte> buf, std::uint64_t offset, Completion done,
                   std::chrono::nanoseconds timeout);
    RequestId write(int fd, std::span<const std::byte> buf, std::uint64_t offset,
                    Completion done, std::chrono::nanoseconds timeout);

    /// io_uring_register_files: slot i (FixedFile{i}) refers to the file
    /// open on fds[i] now, or is empty for -1 (a request on an empty slot
    /// gets -EBADF). The ring holds its own reference to each file: closing
    /// fds[i] afterwards does not affect the slot. Throws std::logic_error
    /// if files are already registered, std::invalid_argument for an empty
    /// `fds`, std::system_error "io_uring_register_files: ..." (EBADF,
    /// EMFILE beyond RLIMIT_NOFILE, ...).
    void register_files(std::span<const int> fds);
    /// The same; kernel errors set `ec` instead (cleared on success).
    void register_files(std::span<const int> fds, std::error_code& ec);
    /// io_uring_register_files_update of one slot: it refers to `fd`'s file
    /// from now on (-1: empty). Requests in the kernel keep the file they
    /// started with; prepared or queued ones use what the slot holds when
    /// they enter the kernel. std::out_of_range for a slot not below
    /// registered_files(), std::system_error
    /// "io_uring_register_files_update: ..." (EBADF, ...).
    void update_file(FixedFile slot, int fd);
    void update_file(FixedFile slot, int fd, std::error_code& ec);
    /// io_uring_unregister_files. std::logic_error if none are registered
    /// or a request using a FixedFile still exists (see above).
    void unregister_files();
    /// Registered file slots (0: none registered).
    std::size_t registered_files() const noexcept;

    /// io_uring_register_buffers: buffer i (FixedBuffer{i}) is bufs[i]. The
    /// kernel pins the pages (charged to RLIMIT_MEMLOCK, see above; at most
    /// 1 GiB per buffer); the memory must stay allocated while it is
    /// registered. Throws std::logic_error if buffers are already
    /// registered, std::invalid_argument for an empty `bufs`,
    /// std::system_error "io_uring_register_buffers: ..." (ENOMEM, EFAULT,
    /// EINVAL, ...).
    void register_buffers(std::span<const iovec> bufs);
    /// The same; kernel errors set `ec` instead (cleared on success).
    void register_buffers(std::span<const iovec> bufs, std::error_code& ec);
    /// io_uring_unregister_buffers. std::logic_error if none are
    /// registered or a request using a FixedBuffer still exists.
    void unregister_buffers();
    /// Registered buffers (0: none registered).
    std::size_t registered_buffers() const noexcept;

    /// read()/write() on a registered file: the same contract as the fd
    /// forms (length capped at 0x7ffff000, a short transfer beyond).
    ///
    /// Every form on a FixedFile and/or a FixedBuffer takes an optional
    /// linked timeout, with the contract of the fd forms above
    /// (-ETIMEDOUT unless it completes within `timeout` of entering the
    /// kernel); the default, 0, means none, and a negative timeout throws
    /// std::invalid_argument before anything is prepared.
    RequestId read(FixedFile file, std::span<std::byte> buf, std::uint64_t offset,
                   Completion done, std::chrono::nanoseconds timeout = {});
    RequestId write(FixedFile file, std::span<const std::byte> buf, std::uint64_t offset,
                    Completion done, std::chrono::nanoseconds timeout = {});
    /// IORING_OP_READ_FIXED / WRITE_FIXED: `buf` must lie inside registered
    /// buffer `reg` (std::invalid_argument otherwise, naming both ranges),
    /// on an fd or a registered file.
    RequestId read(int fd, FixedBuffer reg, std::span<std::byte> buf, std::uint64_t offset,
                   Completion done, std::chrono::nanoseconds timeout = {});
    RequestId write(int fd, FixedBuffer reg, std::span<const std::byte> buf,
                    std::uint64_t offset, Completion done, std::chrono::nanoseconds timeout = {});
    RequestId read(FixedFile file, FixedBuffer reg, std::span<std::byte> buf,
                   std::uint64_t offset, Completion done, std::chrono::nanoseconds timeout = {});
    RequestId write(FixedFile file, FixedBuffer reg, std::span<const std::byte> buf,
                    std::uint64_t offset, Completion done, std::chrono::nanoseconds timeout = {});
    /// IORING_OP_READV / WRITEV on a registered file (IOSQE_FIXED_FILE);
    /// the iovecs are copied, their memory must stay valid. There is no
    /// vectored form into registered buffers: the kernels supported (6.1,
    /// 6.12) have no vectored *_FIXED opcode (IORING_OP_READV_FIXED /
    /// WRITEV_FIXED are later additions, not used here).
    RequestId readv(FixedFile file, std::span<const iovec> iov, std::uint64_t offset,
                    Completion done, std::chrono::nanoseconds timeout = {});
    RequestId writev(FixedFile file, std::span<const iovec> iov, std::uint64_t offset,
                     Completion done, std::chrono::nanoseconds timeout = {});

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
