// SPDX-License-Identifier: MIT
// The request interface shared by the asynchronous I/O backends.
#pragma once

#include <asyncdev/function.h>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

#include <sys/types.h>
#include <sys/uio.h>

namespace asyncdev {

/// Identifies a request within its backend; never reused; 0 is "none".
using RequestId = std::uint64_t;

/// Completion callback: res >= 0 bytes transferred, < 0 negated errno.
using Completion = Function<void(ssize_t res)>;

/// The contract every backend (AioContext, Uring, PosixAio) follows:
///
///  * read()/write()/readv()/writev() prepare a request and return its id.
///    Nothing reaches the kernel until submit(), which hands all prepared
///    requests over in as few system calls as possible. Requests beyond the
///    backend's depth wait in a userspace FIFO and are submitted
///    automatically as completions free slots.
///  * The backend owns the callback from the call on. It is invoked exactly
///    once, on the loop thread, from a loop callback (never from inside
///    read/write/submit/cancel/abandon), unless the request is abandoned or
///    the backend destroyed first, in which case it is destroyed uninvoked.
///  * Buffers are NOT copied or owned: the memory must stay valid and
///    untouched until the callback has been invoked, abandon() has returned
///    for the request, or the backend's destructor has returned. (iovec
///    arrays themselves are copied at preparation.)
///  * The fd is not owned and must stay open while a request uses it.
///  * cancel(id) asks for cancellation and returns true if the request was
///    still pending. Its callback still runs exactly once: with -ECANCELED
///    if the cancellation won (always so for requests still queued in
///    userspace), otherwise with the real result. false: unknown id or
///    already completed.
///  * abandon(id) cancels, drops the callback uninvoked and blocks until the
///    kernel no longer uses the request's buffer. It is what a coroutine
///    uses when it is destroyed mid-operation. (PosixAio returns at once
///    for requests on pipes, sockets and other fds that may block for
///    ever: the C library works on a buffer of its own there.)
///  * Destruction abandons every request: cancel what can be cancelled,
///    then wait for the kernel to finish the rest. It may happen inside one
///    of the backend's own callbacks (a coroutine that owns its backend
///    and returns when the completion resumes it): the backend touches
///    nothing of itself after a callback that destroyed it, and the
///    callbacks it had not run yet are destroyed uninvoked.
///  * Offsets are ignored by stream files (pipes, sockets, /dev/asyncdev).
template <class B>
concept IoBackend = requires(B& b, int fd, std::span<std::byte> rbuf,
                             std::span<const std::byte> wbuf, std::uint64_t off,
                             Completion cb, RequestId id) {
    { b.read(fd, rbuf, off, std::move(cb)) } -> std::same_as<RequestId>;
    { b.write(fd, wbuf, off, std::move(cb)) } -> std::same_as<RequestId>;
    { b.submit() } -> std::convertible_to<std::size_t>;
    { b.cancel(id) } -> std::same_as<bool>;
    b.abandon(id);
};

/// Runtime-polymorphic form of the contract above, implemented by
/// AioContext (libaio), Uring (io_uring) and PosixAio (POSIX AIO), so code
/// can switch backends at run time.
class IoEngine {
public:
    virtual ~IoEngine() = default;

    virtual RequestId read(int fd, std::span<std::byte> buf, std::uint64_t offset,
                           Completion done) = 0;
    virtual RequestId write(int fd, std::span<const std::byte> buf, std::uint64_t offset,
                            Completion done) = 0;
    /// preadv: `iov` is copied; the memory it points to is not.
    virtual RequestId readv(int fd, std::span<const iovec> iov, std::uint64_t offset,
                            Completion done) = 0;
    /// pwritev: `iov` is copied; the memory it points to is not.
    virtual RequestId writev(int fd, std::span<const iovec> iov, std::uint64_t offset,
                             Completion done) = 0;
    /// Submits the prepared requests; returns how many entered the kernel now.
    virtual std::size_t submit() = 0;
    virtual bool cancel(RequestId id) = 0;
    virtual void abandon(RequestId id) noexcept = 0;

    /// Maximum requests in the kernel at once.
    virtual std::size_t depth() const noexcept = 0;
    /// Requests in the kernel now.
    virtual std::size_t in_flight() const noexcept = 0;
    /// Requests prepared or waiting for a free slot.
    virtual std::size_t queued() const noexcept = 0;
};

static_assert(IoBackend<IoEngine>);

} // namespace asyncdev
