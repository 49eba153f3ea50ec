// SPDX-License-Identifier: MIT
// asyncdev::PosixAio: POSIX AIO (struct aiocb, glibc) delivered into a Loop.
#pragma once

#include <asyncdev/io_engine.h>
#include <asyncdev/loop.h>

#include <chrono>
#include <memory>
#include <system_error>

namespace asyncdev {

/// POSIX asynchronous I/O (aio_read, aio_write, aio_cancel, aio_suspend)
/// with completions routed into a Loop. An IoEngine (io_engine.h), so code
/// can switch between AioContext, Uring and PosixAio at run time.
///
/// The library owns every aiocb (one per request, stable in memory until
/// the C library has finished with it). Buffers follow the IoEngine
/// contract: the caller keeps them valid until the callback ran, abandon()
/// returned or the PosixAio is destroyed.
///
/// submit() hands each prepared request to glibc with its own aio_read or
/// aio_write (at most `max_in_flight` at once; the rest wait in the
/// backlog), so each request's enqueueing succeeds or fails on its own: a
/// request glibc refuses for lack of resources (EAGAIN) stays queued, in
/// order, and is retried when a completion frees resources (failed with
/// -EAGAIN if nothing is in flight to free any); any other refusal goes to
/// that request's callback only, as -errno. (lio_listio is not used: after
/// a partial failure it cannot tell which requests it enqueued when glibc
/// runs out of memory, leaving their error status untouched.)
///
/// Vectored I/O: POSIX AIO has none. readv()/writev() use one library
/// buffer of the total length (a writev's data gathered at submission, a
/// readv's bytes scattered on completion): one allocation and one copy per
/// request; the iovec total must fit in ssize_t (else -EINVAL).
///
/// Notification:
///  * Notify::signal: SIGEV_SIGNAL with `signo` (default SIGRTMIN + 2),
///    read from the Loop's signalfd. The signal is process-directed (glibc
///    sigqueue()s it to the process), so it must be blocked in every thread
///    of the process (see Loop::watch_signal); glibc's AIO helper threads
///    block it. A notification that the kernel cannot queue (RLIMIT_SIGPENDING
///    reached) is lost by glibc; use Notify::thread if that can happen.
///    Use a signal of its own per Loop: a process-directed signal is read
///    by whichever Loop watching it gets it first.
///  * Notify::thread: SIGEV_THREAD; glibc's notification thread forwards
///    the completion to the loop with Loop::post(). Nothing to block.
/// Either way the callback runs on the loop thread; a late notification
/// for an abandoned request is ignored.
///
/// Buffers: on regular files and block devices glibc reads and writes the
/// caller's buffer. On any other fd (pipe, socket, tty, FIFO, character
/// device such as /dev/asyncdev) an operation may block for ever once a
/// glibc helper thread has started it, and glibc cannot cancel it then; so
/// there the library hands glibc a buffer of its own (one allocation and
/// one copy per request: a write's data at submission, a read's bytes on
/// completion).
///
/// cancel() tells the truth: it returns true only when the request will
/// complete with -ECANCELED (still in the userspace backlog, or aio_cancel
/// answered AIO_CANCELED: glibc had not started it). It returns false when
/// glibc is already running it (AIO_NOTCANCELED: the callback will get the
/// real result), when it had already finished (AIO_ALLDONE), for an unknown
/// or completed id, and for every later call on the same request.
///
/// abandon() calls aio_cancel. If glibc still runs the request: on a
/// regular file or block device abandon() waits (aio_suspend) until it is
/// done; elsewhere it returns at once, the request stays in flight
/// (in_flight() counts it) on the library's buffer, and whatever it reads
/// later (it may consume data from a pipe or socket) is discarded.
///
/// Destruction calls aio_cancel for every request, then aio_suspend until
/// the C library is done with each aiocb, abandoned ones included: with a
/// read started on an empty pipe, the destructor waits until data, EOF or
/// an error ends it (close the other end, or write to it, first).
/// In a forked child (Loop::forked()) the destructor cancels and waits for
/// nothing (glibc's helper threads are the parent's) and frees the
/// requests; do not use POSIX AIO in that child afterwards.
class PosixAio final : public IoEngine {
public:
    enum class Notify { signal, thread };

    /// Constructed on the loop thread. signo 0 means SIGRTMIN + 2.
    /// Throws std::system_error (from Loop::watch_signal, eventfd).
    explicit PosixAio(Loop& loop, Notify notify = Notify::signal, int signo = 0,
                      std::size_t max_in_flight = 256);
    /// Non-throwing setup: on failure sets `ec` and returns null. Misuse
    /// (another thread, a forked child) still throws std::logic_error.
    static std::unique_ptr<PosixAio> create(Loop& loop, Notify notify, int signo,
                                            std::size_t max_in_flight, std::error_code& ec);
    ~PosixAio() override;
    PosixAio(const PosixAio&) = delete;
    PosixAio& operator=(const PosixAio&) = delete;

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

    /// aio_suspend: waits up to `timeout` for request `id` to finish. If it
    /// finished, its callback has run (on this, the loop thread) before
    /// wait() returns true. Returns true at once for an unknown id, false
    /// on timeout or for a request not yet submitted.
    bool wait(RequestId id, std::chrono::nanoseconds timeout);

    Notify notify() const noexcept;
    /// max_in_flight.
    std::size_t depth() const noexcept override;
    std::size_t in_flight() const noexcept override;
    std::size_t queued() const noexcept override;

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

static_assert(IoBackend<PosixAio>);

} // namespace asyncdev
