// SPDX-License-Identifier: MIT
// asyncdev::Loop: the epoll event loop every completion is delivered on.
#pragma once

#include <asyncdev/fd.h>
#include <asyncdev/function.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include <csignal>

#include <sys/signalfd.h>
#include <sys/types.h>

namespace asyncdev {

/// One epoll instance multiplexing fd readiness, signals (one signalfd),
/// timers (timerfd, see Timer) and cross-thread posts (one eventfd).
///
/// Threading: a Loop belongs to the thread that constructs it (the "loop
/// thread"); thread_id() is that thread's TID, the one SignalNotifier
/// directs signals to. run(), run_once(), watch_fd(), watch_signal(), the
/// Watch and Timer members and every I/O backend must be used on that
/// thread only. post() and stop() may be called from any thread.
/// Checked in every build type (NDEBUG too): run(), run_once(),
/// watch_fd(), watch_signal() and the backends' read/write/submit and
/// SignalNotifier::add() throw std::logic_error naming the call when made
/// on another thread.
///
/// Callbacks: every callback of the library runs on the loop thread from
/// inside run()/run_once(), never in signal context and never from inside
/// the call that registered it. An exception thrown by a callback propagates
/// out of run()/run_once(); the loop stays usable, and nothing already
/// taken from the kernel in that batch is lost: the events, signals and
/// posted callbacks whose callbacks had not run yet are delivered by the
/// next run()/run_once() (which then dispatches them without waiting).
///
/// Lifetime: the Loop must outlive every Watch, Timer, SignalNotifier and
/// I/O backend that uses it; destroying it while an fd watch (which every
/// Timer and I/O backend holds) is still registered prints a message and
/// aborts, in every build type, instead of leaving them a dangling Loop. Callbacks still posted when it is destroyed
/// are destroyed without being run. Once the loop thread has run a posted
/// callback, or run() has returned because of a stop(), the posting or
/// stopping thread no longer touches the Loop: it may be destroyed then,
/// even if that thread has not yet returned from post() or stop().
class Loop {
public:
    using Callback = Function<void()>;
    /// Receives the ready epoll events (EPOLLIN, EPOLLOUT, EPOLLERR, ...).
    using FdCallback = Function<void(std::uint32_t events)>;
    /// Receives the signal's siginfo as read from the signalfd.
    using SignalCallback = Function<void(const signalfd_siginfo& info)>;

    /// RAII registration of an fd or signal callback; destroying or reset()
    /// unregisters it, after which the callback is never called again
    /// (a Watch may be reset from inside its own callback).
    class Watch {
    public:
        Watch() noexcept = default;
        Watch(Watch&& o) noexcept;
        Watch& operator=(Watch&& o) noexcept;
        ~Watch() { reset(); }
        void reset() noexcept;
        explicit operator bool() const noexcept { return loop_ != nullptr; }
        /// Changes the epoll events of an fd watch (EPOLL_CTL_MOD).
        /// Throws std::logic_error on an empty or signal watch.
        void modify(std::uint32_t events);

    private:
        friend class Loop;
        Watch(Loop* loop, std::uint64_t id) noexcept : loop_(loop), id_(id) {}
        Loop* loop_ = nullptr;
        std::uint64_t id_ = 0;
    };

    Loop();
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    /// Dispatches events until stop() is called; then clears the stop request.
    void run();
    /// Waits for events (forever) and dispatches one batch; returns the
    /// number of callbacks run.
    std::size_t run_once();
    /// As run_once() but waits at most `timeout` (0 = poll, rounded up to ms).
    std::size_t run_once(std::chrono::milliseconds timeout);
    /// Makes run() return after its current batch. Thread-safe.
    void stop() noexcept;

    /// Queues `cb` to run on the loop thread in a later batch. Thread-safe;
    /// the Loop owns `cb` from now on.
    void post(Callback cb);

    /// Calls `cb` whenever `fd` is ready for `events` (EPOLLIN, EPOLLOUT,
    /// optionally EPOLLET/EPOLLONESHOT ...). One watch per fd; the fd stays
    /// owned by the caller and must stay open while watched.
    /// Throws std::system_error "epoll_ctl(EPOLL_CTL_ADD): ...".
    [[nodiscard]] Watch watch_fd(int fd, std::uint32_t events, FdCallback cb);

    /// Calls `cb` for every delivery of `signo` (several watches per signal
    /// are allowed; all are called). The first watch of a signal blocks it
    /// in the loop thread, adds it to the signalfd and installs an
    /// SA_SIGINFO handler that, should the signal land in another thread
    /// that does not block it, re-queues it to the loop thread
    /// (rt_tgsigqueueinfo) instead of letting the default action run.
    /// Removing the last watch consumes what is still pending of the signal
    /// and restores the previous disposition and mask.
    /// REQUIREMENT: block process-directed signals (kill, sigqueue, POSIX
    /// AIO SIGEV_SIGNAL) in every thread (create threads after the watch,
    /// or block them there): the forwarding handler is a safety net whose
    /// forwarded copy loses a kernel si_code and counts twice against
    /// RLIMIT_SIGPENDING. Signals directed at the loop thread
    /// (SignalNotifier's F_SETOWN_EX) need no such care. One Loop per
    /// signal at a time: dispositions are process-wide.
    [[nodiscard]] Watch watch_signal(int signo, SignalCallback cb);

    pid_t thread_id() const noexcept { return tid_; }
    bool in_loop_thread() const noexcept;
    /// Throws std::logic_error("<call>: not on the loop thread ...") unless
    /// in_loop_thread(). For components built on a Loop.
    void check_loop_thread(const char* call) const;

private:
    struct FdEntry;
    struct SignalEntry;
    struct SignalState {
        std::vector<std::pair<std::uint64_t, std::shared_ptr<SignalEntry>>> watches;
        bool was_blocked = false;        // blocked in the loop thread before us
        struct sigaction old_action {};  // disposition before us
    };

    void remove(std::uint64_t id) noexcept;
    void modify(std::uint64_t id, std::uint32_t events);
    void update_signalfd();
    std::size_t dispatch_posted();
    std::size_t dispatch_signals();
    std::size_t run_signal_backlog();
    std::size_t wait_and_dispatch(int timeout_ms);

    pid_t tid_;
    UniqueFd epfd_;
    UniqueFd wakefd_;
    UniqueFd sigfd_;
    std::atomic<bool> stop_{false};
    std::uint64_t next_id_ = 16; // ids below are internal (wakeup, signalfd)

    // Guards posted_ and orders post()/stop() (which hold it for all they
    // do to the Loop, wakeup write included) before the loop thread acts
    // on them; see Loop::run().
    std::mutex post_mu_;
    std::vector<Callback> posted_;

    // Taken from the kernel but not yet dispatched, because a callback
    // threw (or a callback re-entered run_once): delivered first by the
    // next run_once. Stale entries (watch gone) are skipped by id, and ids
    // are never reused.
    struct PendingSignal {
        signalfd_siginfo info;
        std::vector<std::uint64_t> watches; // to call, in order
        std::size_t next = 0;               // first one not yet called
    };
    std::deque<std::pair<std::uint64_t, std::uint32_t>> ready_; // id, events
    std::deque<PendingSignal> signal_backlog_;

    std::unordered_map<std::uint64_t, std::shared_ptr<FdEntry>> fds_;
    std::unordered_map<std::uint64_t, int> signal_ids_; // watch id -> signo
    std::map<int, SignalState> signals_;
};

/// A timerfd (CLOCK_MONOTONIC) registered with a Loop. The callback gets
/// the number of expirations since the last call. Stopped on destruction,
/// which may happen inside its own callback. Movable.
class Timer {
public:
    using Callback = Function<void(std::uint64_t expirations)>;
    /// The Timer owns `cb` until destroyed. Starts disarmed.
    Timer(Loop& loop, Callback cb);
    /// Arms the timer: first expiry after `first` (> 0), then every
    /// `interval` if non-zero. Re-arming replaces the previous setting.
    void start(std::chrono::nanoseconds first,
               std::chrono::nanoseconds interval = std::chrono::nanoseconds::zero());
    void stop();

private:
    UniqueFd fd_;
    Loop::Watch watch_; // declared last: unregistered before fd_ closes
};

} // namespace asyncdev
