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
#include <system_error>
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
/// directs signals to. run(), run_once(), poll(), run_until_idle(),
/// watch_fd(), watch_signal(), watch_work(), the Watch and Timer members
/// and every I/O backend must be used on that thread only. post() and
/// stop() may be called from any thread.
/// Checked in every build type (NDEBUG too): run(), run_once(), poll(),
/// run_until_idle(), watch_fd(), watch_signal(), watch_work() and the
/// backends' read/write/submit and SignalNotifier::add() throw
/// std::logic_error naming the call when made on another thread.
///
/// Signal handlers: stop_from_signal() and wakeup() are async-signal-safe
/// (one atomic store and one write(2) on the eventfd, no lock, no
/// allocation); nothing else of the library is. post() and stop() are not
/// (they take a mutex and post() allocates): never call them from a handler.
///
/// Callbacks: every callback of the library runs on the loop thread from
/// inside run()/run_once()/poll()/run_until_idle(), never in signal context
/// and never from inside the call that registered it. An exception thrown
/// by a callback propagates out of that call; the loop stays usable, and
/// nothing already taken from the kernel in that batch is lost: the events,
/// signals and posted callbacks whose callbacks had not run yet are
/// delivered by the next call (which then dispatches them without waiting;
/// native_handle() is made readable again for them).
///
/// Integration with another event loop: native_handle() is the epoll fd.
/// It polls readable (POLLIN/EPOLLIN) whenever run_once() would find
/// something to dispatch; the other loop watches it and calls poll() when
/// it is readable (examples/foreign_loop.cpp).
///
/// fork(): the child shares the parent's epoll instance, eventfds,
/// signalfd file, io_uring rings and the file status flags of every fd
/// (O_ASYNC of SignalNotifier); a libaio context is invalid in the child
/// and glibc's POSIX AIO helper threads do not exist there. So a Loop (and
/// everything built on it) is unusable in a child process: every call
/// listed above, post() and stop() included, throws std::logic_error
/// ("<call>: Loop used in a child process after fork() ...") there.
/// Destroying the Loop, its Watches, Timers, SignalNotifiers and the
/// AioContext/PosixAio backends in the child is allowed and touches
/// nothing the parent shares (no epoll_ctl, no fcntl, no cancellation):
/// their kernel-side state is simply left to the parent. There is no
/// notify_fork(): a child that needs an event loop builds a new Loop.
///
/// Signal dispositions are process-wide; the rules the library follows:
///  * The first watch of a signal in the process (any Loop) records the
///    current disposition and installs the library's SA_SIGINFO handler;
///    further watches, in this Loop or others, share it (a per-signal
///    count). When the last watch of the signal in the process goes,
///    whatever the order in which Loops and watches are destroyed, the
///    recorded disposition is put back, unless someone else has replaced
///    the library's handler in between (then theirs stays).
///  * Each Loop blocks the signal in its own thread while it watches it;
///    the thread's mask is put back when the last Loop of that thread
///    watching it lets go (unless it was blocked before the first).
///  * The library's handler only runs in a thread that does not block the
///    signal. If the recorded disposition was a handler, it calls that
///    handler (chaining) and nothing else; if it was SIG_IGN, it does
///    nothing; if SIG_DFL, it re-queues the signal to the loop thread of
///    one watching Loop (rt_tgsigqueueinfo) instead of letting the default
///    action run.
///  * A signal a Loop reads from its signalfd (it was directed at, or
///    pending for, a thread blocking it) goes to every watch of the signal
///    in that Loop, and also, if the recorded disposition was a handler, to
///    that handler, called on the loop thread from run_once() (not in
///    signal context; its ucontext argument is null) before the watches.
///    So another library's SIGIO handler keeps running while a
///    SignalNotifier exists (it also sees the notifier's rare overflow
///    SIGIOs, as spurious wakeups).
///  * Destroy every Loop (or at least every signal watch) before unloading
///    the library (dlclose): the handler's code goes with it.
///
/// Lifetime: the Loop must outlive every Watch, Timer, SignalNotifier and
/// I/O backend that uses it; destroying it while an fd watch (which every
/// Timer and I/O backend holds) is still registered prints a message and
/// aborts, in every build type, instead of leaving them a dangling Loop.
/// Callbacks still posted when it is destroyed are destroyed without being
/// run. Once the loop thread has run a posted callback, or run() has
/// returned because of a stop(), the posting or stopping thread no longer
/// touches the Loop: it may be destroyed then, even if that thread has not
/// yet returned from post() or stop(). A signal handler that may call
/// stop_from_signal() or wakeup() must be gone before the Loop is.
class Loop {
public:
    using Callback = Function<void()>;
    /// Receives the ready epoll events (EPOLLIN, EPOLLOUT, EPOLLERR, ...).
    using FdCallback = Function<void(std::uint32_t events)>;
    /// Receives the signal's siginfo as read from the signalfd.
    using SignalCallback = Function<void(const signalfd_siginfo& info)>;
    /// Says whether a source of work has something pending (run_until_idle).
    using WorkProbe = Function<bool()>;

    /// RAII registration of an fd, signal or work callback; destroying or
    /// reset() unregisters it, after which the callback is never called
    /// again (a Watch may be reset from inside its own callback).
    class Watch {
    public:
        Watch() noexcept = default;
        Watch(Watch&& o) noexcept;
        Watch& operator=(Watch&& o) noexcept;
        ~Watch() { reset(); }
        void reset() noexcept;
        explicit operator bool() const noexcept { return loop_ != nullptr; }
        /// Changes the epoll events of an fd watch (EPOLL_CTL_MOD).
        /// Throws std::logic_error on an empty, signal or work watch.
        void modify(std::uint32_t events);

    private:
        friend class Loop;
        Watch(Loop* loop, std::uint64_t id) noexcept : loop_(loop), id_(id) {}
        Loop* loop_ = nullptr;
        std::uint64_t id_ = 0;
    };

    /// Throws std::system_error "epoll_create1: ..." / "eventfd: ...".
    Loop();
    /// Non-throwing setup: on failure sets `ec` and returns null.
    static std::unique_ptr<Loop> create(std::error_code& ec) noexcept;
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    /// Dispatches events until stop() is called; then clears the stop request.
    void run();
    /// Dispatches events until nothing is pending, or until stop() (whose
    /// request it then clears). Returns the number of callbacks run.
    /// "Pending" means, and only means: posted callbacks not yet run,
    /// events or signals taken from the kernel and not yet delivered, and
    /// every registered work probe (watch_work()) answering true. The
    /// library's probes: an armed Timer (one-shot until its callback ran,
    /// periodic until stop()), and each I/O backend with requests submitted
    /// and not yet completed (in the kernel or waiting for a free slot;
    /// requests prepared but not submitted do not count). fd and signal
    /// watches (SignalNotifier included) do not count: they wait for
    /// outside events that may never come. What is ready when it is called
    /// is dispatched even if nothing is pending.
    std::size_t run_until_idle();
    /// True while something is pending in the sense of run_until_idle();
    /// a foreign loop driving this one through native_handle() uses it to
    /// know when it may stop. Loop thread only (calls the work probes).
    bool pending();
    /// Waits for events (forever) and dispatches one batch; returns the
    /// number of callbacks run.
    std::size_t run_once();
    /// As run_once() but waits at most `timeout`, any std::chrono duration:
    /// rounded up to whole milliseconds (epoll's unit), <= 0 polls. Longer
    /// waits than epoll takes at once (~24.8 days) are split; a timeout
    /// beyond nanoseconds::max() (~292 years, e.g. hours::max()) waits
    /// forever, like run_once().
    template <class Rep, class Period>
    std::size_t run_once(std::chrono::duration<Rep, Period> timeout)
    {
        const std::chrono::duration<long double, std::nano> ns = timeout;
        if (!(ns.count() > 0)) // NaN too
            return run_once_for(std::chrono::nanoseconds::zero(), false);
        if (ns.count() >= static_cast<long double>(std::chrono::nanoseconds::max().count()))
            return run_once_for(std::chrono::nanoseconds::zero(), true);
        auto n = std::chrono::duration_cast<std::chrono::nanoseconds>(ns);
        if (n < ns)
            ++n; // rounds up
        return run_once_for(n, false);
    }
    /// Dispatches what is ready now, without waiting: run_once(0ms).
    std::size_t poll() { return run_once_for(std::chrono::nanoseconds::zero(), false); }
    /// Makes run() or run_until_idle() return after its current batch.
    /// Thread-safe, not async-signal-safe (see stop_from_signal()).
    void stop();
    /// stop() for signal handlers: async-signal-safe (an atomic store and a
    /// write(2)). Unlike stop() it does not synchronise with the loop
    /// thread: the Loop must outlive any handler that may call it.
    void stop_from_signal() noexcept;
    /// Makes a run_once() waiting now (or the next one) return, running no
    /// callback of its own. Async-signal-safe and thread-safe, like
    /// stop_from_signal(): the classic use is a handler setting a flag
    /// (a lock-free std::atomic if the handler may run on another thread)
    /// and calling wakeup().
    void wakeup() noexcept;

    /// Queues `cb` to run on the loop thread in a later batch. Thread-safe;
    /// the Loop owns `cb` from now on. Not async-signal-safe.
    void post(Callback cb);

    /// The epoll fd: readable while run_once() would dispatch something.
    /// Owned by the Loop; poll, select or epoll it for reading in another
    /// loop, never read it or add/remove fds to it yourself.
    int native_handle() const noexcept { return epfd_.get(); }

    /// Calls `cb` whenever `fd` is ready for `events` (EPOLLIN, EPOLLOUT,
    /// optionally EPOLLET/EPOLLONESHOT ...). One watch per fd; the fd stays
    /// owned by the caller and must stay open while watched.
    /// Throws std::system_error "epoll_ctl(EPOLL_CTL_ADD): ...".
    [[nodiscard]] Watch watch_fd(int fd, std::uint32_t events, FdCallback cb);

    /// Calls `cb` for every delivery of `signo` (several watches per signal
    /// are allowed, in several Loops too; all of this Loop's are called).
    /// The first watch of a signal in this Loop blocks it in the loop
    /// thread and adds it to the signalfd; the process-wide disposition is
    /// handled as described above the class (chained, reference-counted,
    /// restored in any order). Removing the last watch of this Loop
    /// consumes what is still pending of the signal for its thread and
    /// restores the thread's mask.
    /// REQUIREMENT: block process-directed signals (kill, sigqueue, POSIX
    /// AIO SIGEV_SIGNAL) in every thread (create threads after the watch,
    /// or block them there): the forwarding handler is a safety net whose
    /// forwarded copy loses a kernel si_code and counts twice against
    /// RLIMIT_SIGPENDING, and it forwards to one watching Loop only.
    /// Signals directed at the loop thread (SignalNotifier's F_SETOWN_EX)
    /// need no such care. Throws std::system_error "sigaction: ..." for a
    /// signal that cannot be caught (SIGKILL, SIGSTOP) or does not exist.
    [[nodiscard]] Watch watch_signal(int signo, SignalCallback cb);

    /// Registers a probe run_until_idle() calls (on the loop thread,
    /// between batches) to learn whether work is pending; the probe must
    /// be cheap and must not call into the Loop. The I/O backends and
    /// Timer register theirs.
    [[nodiscard]] Watch watch_work(WorkProbe probe);

    pid_t thread_id() const noexcept { return tid_; }
    bool in_loop_thread() const noexcept;
    /// True in a child process forked after the Loop was constructed.
    bool forked() const noexcept;
    /// Throws std::logic_error("<call>: not on the loop thread ...") unless
    /// in_loop_thread(), or ("<call>: Loop used in a child process after
    /// fork() ...") if forked(). For components built on a Loop.
    void check_loop_thread(const char* call) const;

private:
    struct FdEntry;
    struct SignalEntry;
    struct SignalState {
        std::vector<std::pair<std::uint64_t, std::shared_ptr<SignalEntry>>> watches;
    };

    void remove(std::uint64_t id) noexcept;
    void modify(std::uint64_t id, std::uint32_t events);
    void update_signalfd();
    void check_not_forked(const char* call) const;
    std::size_t dispatch_posted();
    std::size_t dispatch_signals();
    std::size_t run_signal_backlog();
    std::size_t run_once_for(std::chrono::nanoseconds timeout, bool forever);
    std::size_t wait_and_dispatch(int timeout_ms);
    std::size_t dispatch_ready();

    pid_t tid_;
    unsigned fork_generation_; // see forked()
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
        bool chain = false;                 // previous handler still to call
    };
    std::deque<std::pair<std::uint64_t, std::uint32_t>> ready_; // id, events
    std::deque<PendingSignal> signal_backlog_;

    std::unordered_map<std::uint64_t, std::shared_ptr<FdEntry>> fds_;
    std::unordered_map<std::uint64_t, int> signal_ids_; // watch id -> signo
    std::map<int, SignalState> signals_;
    std::map<std::uint64_t, std::shared_ptr<WorkProbe>> work_;
};

/// A timerfd (CLOCK_MONOTONIC) registered with a Loop. The callback gets
/// the number of expirations since the last call. Stopped on destruction,
/// which may happen inside its own callback. Movable. While armed it is
/// pending work for Loop::run_until_idle() (a one-shot timer until its
/// callback has run, a periodic one until stop()).
class Timer {
public:
    using Callback = Function<void(std::uint64_t expirations)>;
    /// The Timer owns `cb` until destroyed. Starts disarmed.
    Timer(Loop& loop, Callback cb);
    /// Arms the timer: first expiry after `first` (> 0), then every
    /// `interval` if non-zero. Re-arming replaces the previous setting.
    /// start() and stop() throw std::logic_error off the loop thread or in
    /// a forked child (the timerfd is shared with the parent).
    void start(std::chrono::nanoseconds first,
               std::chrono::nanoseconds interval = std::chrono::nanoseconds::zero());
    void stop();

private:
    struct Armed;
    Loop* loop_;
    UniqueFd fd_;
    std::shared_ptr<Armed> armed_;
    Loop::Watch work_;
    Loop::Watch watch_; // declared last: unregistered before fd_ closes
};

} // namespace asyncdev
