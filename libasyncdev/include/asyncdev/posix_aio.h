// SPDX-License-Identifier: MIT
// asyncdev::PosixAio: POSIX AIO (struct aiocb, glibc) delivered into a Loop.
#pragma once

#include <asyncdev/io_engine.h>
#include <asyncdev/loop.h>

#include <chrono>
#include <memory>

namespace asyncdev {

/// POSIX asynchronous I/O (aio_read, aio_write, lio_listio, aio_cancel,
/// aio_suspend) with completions routed into a Loop. Satisfies the
/// IoBackend concept (io_engine.h); there is no vectored I/O in POSIX AIO.
///
/// The library owns every aiocb (one per request, stable in memory until
/// the C library has finished with it). Buffers follow the IoEngine
/// contract: the caller keeps them valid until the callback ran, abandon()
/// returned or the PosixAio is destroyed.
///
/// submit() issues one prepared request with aio_read/aio_write, several
/// with lio_listio(LIO_NOWAIT) (in chunks of at most `max_in_flight`).
///
/// Notification:
///  * Notify::signal: SIGEV_SIGNAL with `signo` (default SIGRTMIN + 2),
///    read from the Loop's signalfd. The signal is process-directed (glibc
///    sigqueue()s it to the process), so it must be blocked in every thread
///    of the process (see Loop::watch_signal); glibc's AIO helper threads
///    block it. A notification that the kernel cannot queue (RLIMIT_SIGPENDING
///    reached) is lost by glibc; use Notify::thread if that can happen.
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
class PosixAio {
public:
    enum class Notify { signal, thread };

    /// Constructed on the loop thread. signo 0 means SIGRTMIN + 2.
    explicit PosixAio(Loop& loop, Notify notify = Notify::signal, int signo = 0,
                      std::size_t max_in_flight = 256);
    ~PosixAio();
    PosixAio(const PosixAio&) = delete;
    PosixAio& operator=(const PosixAio&) = delete;

    RequestId read(int fd, std::span<std::byte> buf, std::uint64_t offset, Completion done);
    RequestId write(int fd, std::span<const std::byte> buf, std::uint64_t offset,
                    Completion done);
    std::size_t submit();
    bool cancel(RequestId id);
    void abandon(RequestId id) noexcept;

    /// aio_suspend: waits up to `timeout` for request `id` to finish. If it
    /// finished, its callback has run (on this, the loop thread) before
    /// wait() returns true. Returns true at once for an unknown id, false
    /// on timeout or for a request not yet submitted.
    bool wait(RequestId id, std::chrono::nanoseconds timeout);

    Notify notify() const noexcept;
    std::size_t in_flight() const noexcept;
    std::size_t queued() const noexcept;

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

static_assert(IoBackend<PosixAio>);

} // namespace asyncdev
