// SPDX-License-Identifier: MIT
// asyncdev::SignalNotifier: signal-driven I/O (O_ASYNC + F_SETSIG) on a Loop.
#pragma once

#include <asyncdev/function.h>
#include <asyncdev/loop.h>

#include <cstdint>
#include <memory>
#include <system_error>

namespace asyncdev {

/// Signal-driven readiness notification for any fd whose driver implements
/// fasync: pipes, sockets, ttys, /dev/asyncdev.
///
/// add() sets, on the fd, F_SETOWN_EX(F_OWNER_TID = loop.thread_id()),
/// F_SETSIG(signal()) and O_ASYNC. The kernel then queues one real-time
/// signal per readiness change, carrying si_fd and si_band; the Loop reads
/// it from its signalfd (the signal is blocked in the loop thread, and
/// because it is directed at that thread no other thread needs to block
/// it) and the notifier calls the fd's callback with the poll bits of
/// si_band, on the loop thread.
///
/// Queue overflow: when RLIMIT_SIGPENDING is reached the kernel drops the
/// real-time signal and sends a plain SIGIO without si_fd instead. On SIGIO
/// the notifier poll()s every registered fd and calls the callbacks of the
/// ready ones, so no readiness is lost (overflows() counts these rescans).
/// SIGIO is therefore also watched (and blocked in the loop thread).
/// Another library's SIGIO handler installed before keeps running: the
/// Loop chains to it (see "Signal dispositions" in loop.h); it also sees
/// these overflow SIGIOs. Several notifiers, in one Loop or in Loops of
/// different threads, may exist at once and be destroyed in any order.
///
/// Like all signal-driven I/O this is edge-style: a callback should consume
/// until EAGAIN. Spurious calls are possible (after a rescan, or a stale
/// signal for an fd number that was removed and reused).
///
/// A callback may remove() any fd or destroy the notifier, during a rescan
/// too; no callback of the notifier runs after its destruction. If a
/// callback throws, the exception leaves Loop::run_once() and the fds that
/// were ready but not yet reported are reported by a later batch.
///
/// fork(): in a child, remove() and the destructor change nothing on the
/// fds (their flags and owner are shared with the parent); add() throws
/// std::logic_error. See Loop.
///
/// Restoration: remove() and the destructor undo what add() did and only
/// that: they clear O_ASYNC if add() set it (other file status flags, which
/// every dup of the fd shares, stay as they are now, e.g. an O_NONBLOCK set
/// after add()), and put back the previous owner (F_GETOWN_EX) and F_SETSIG
/// signal only if they are still the ones add() set. The Loop restores
/// the loop thread's signal mask when its last watch of a signal goes, and
/// the signal's previous disposition when the last watch in the process
/// goes (see Loop::watch_signal).
class SignalNotifier {
public:
    /// Receives the ready poll(2) bits (POLLIN, POLLOUT, POLLHUP, POLLERR ...),
    /// already filtered to the events asked for plus POLLHUP/POLLERR.
    using Callback = Function<void(short revents)>;

    /// signo: the real-time signal to use; 0 means SIGRTMIN + 1.
    /// Must be constructed on the loop thread.
    /// Throws std::system_error (EINVAL "SignalNotifier: not a real-time
    /// signal", or from Loop::watch_signal).
    explicit SignalNotifier(Loop& loop, int signo = 0);
    /// Non-throwing setup: on failure sets `ec` and returns null. Misuse
    /// (another thread, a forked child) still throws std::logic_error.
    static std::unique_ptr<SignalNotifier> create(Loop& loop, int signo, std::error_code& ec);
    ~SignalNotifier();
    SignalNotifier(const SignalNotifier&) = delete;
    SignalNotifier& operator=(const SignalNotifier&) = delete;

    /// Starts notifications for `fd` (not owned; must stay open until
    /// remove() or destruction) with interest `events` (POLLIN and/or
    /// POLLOUT). The notifier owns `cb` until remove(). If the fd is
    /// already ready, the callback runs in a later loop batch (signals are
    /// only raised on changes). Throws std::system_error naming the fcntl
    /// that failed (the fd is then left as it was), or EEXIST if `fd` is
    /// already registered.
    void add(int fd, short events, Callback cb);
    /// Stops notifications for `fd` and restores its flags; no-op if unknown.
    void remove(int fd) noexcept;

    int signal() const noexcept;
    /// Number of SIGIO fallbacks (rescans) handled so far.
    std::uint64_t overflows() const noexcept;

private:
    struct State;
    std::shared_ptr<State> state_;
    Loop::Watch rt_watch_;
    Loop::Watch sigio_watch_;
};

} // namespace asyncdev
