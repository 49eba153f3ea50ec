// SPDX-License-Identifier: MIT
#include <asyncdev/error.h>
#include <asyncdev/loop.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <pthread.h>
#include <sys/syscall.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

namespace asyncdev {

namespace {
constexpr std::uint64_t wake_id = 1;
constexpr std::uint64_t signal_id = 2;
constexpr int max_events = 64;

// Loop thread per watched signal, for forward_handler. Global because
// dispositions are process-wide.
std::atomic<pid_t> forward_tid[_NSIG];

// Runs only in a thread that does not block the signal (the loop thread
// does), e.g. glibc's SIGEV_THREAD threads, which unblock everything. It
// re-queues the signal to the loop thread instead of letting the default
// action kill the process. Async-signal-safe: one syscall.
void forward_handler(int signo, siginfo_t* info, void*)
{
    const int saved_errno = errno;
    const pid_t tid = forward_tid[signo].load(std::memory_order_relaxed);
    if (tid > 0) {
        siginfo_t copy = *info;
        if (copy.si_code >= 0)
            copy.si_code = SI_QUEUE; // the kernel refuses to forge kernel codes
        (void)::syscall(SYS_rt_tgsigqueueinfo, ::getpid(), tid, signo, &copy);
    }
    errno = saved_errno;
}
} // namespace

struct Loop::FdEntry {
    int fd;
    FdCallback cb;
};

struct Loop::SignalEntry {
    SignalCallback cb;
};

Loop::Loop()
    : tid_(::gettid()), epfd_(::epoll_create1(EPOLL_CLOEXEC)),
      wakefd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))
{
    if (!epfd_)
        throw_errno("epoll_create1");
    if (!wakefd_)
        throw_errno("eventfd");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = wake_id;
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, wakefd_.get(), &ev) < 0)
        throw_errno("epoll_ctl(EPOLL_CTL_ADD)");
}

Loop::~Loop()
{
    if (!fds_.empty()) {
        // Their owners would later touch this freed Loop: stop here instead.
        std::fprintf(stderr, "asyncdev::Loop::~Loop: %zu fd watch(es) still registered: every "
                             "Watch, Timer and I/O backend must be destroyed before its Loop\n",
                     fds_.size());
        std::abort();
    }
    // Put back the mask of signals whose watches were leaked.
    while (!signals_.empty()) {
        auto& st = signals_.begin()->second;
        if (st.watches.empty())
            signals_.erase(signals_.begin());
        else
            remove(st.watches.front().first);
    }
}

bool Loop::in_loop_thread() const noexcept
{
    return ::gettid() == tid_;
}

void Loop::check_loop_thread(const char* call) const
{
    if (!in_loop_thread())
        throw std::logic_error(std::string(call) +
                               ": not on the loop thread (the thread that constructed the Loop)");
}

// ---- Watch ----

Loop::Watch::Watch(Watch&& o) noexcept
    : loop_(std::exchange(o.loop_, nullptr)), id_(std::exchange(o.id_, 0))
{
}

Loop::Watch& Loop::Watch::operator=(Watch&& o) noexcept
{
    if (this != &o) {
        reset();
        loop_ = std::exchange(o.loop_, nullptr);
        id_ = std::exchange(o.id_, 0);
    }
    return *this;
}

void Loop::Watch::reset() noexcept
{
    if (Loop* l = std::exchange(loop_, nullptr))
        l->remove(id_);
}

void Loop::Watch::modify(std::uint32_t events)
{
    if (!loop_)
        throw std::logic_error("Loop::Watch::modify: empty Watch");
    loop_->modify(id_, events);
}

// ---- fds ----

Loop::Watch Loop::watch_fd(int fd, std::uint32_t events, FdCallback cb)
{
    check_loop_thread("Loop::watch_fd");
    const std::uint64_t id = next_id_++;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
        throw_errno("epoll_ctl(EPOLL_CTL_ADD)");
    fds_.emplace(id, std::make_shared<FdEntry>(FdEntry{fd, std::move(cb)}));
    return Watch(this, id);
}

void Loop::modify(std::uint64_t id, std::uint32_t events)
{
    auto it = fds_.find(id);
    if (it == fds_.end())
        throw std::logic_error("Loop::Watch::modify on a signal watch");
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_MOD, it->second->fd, &ev) < 0)
        throw_errno("epoll_ctl(EPOLL_CTL_MOD)");
}

void Loop::remove(std::uint64_t id) noexcept
{
    if (auto it = fds_.find(id); it != fds_.end()) {
        // EBADF/ENOENT if the fd was closed first: nothing left to remove.
        (void)::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, it->second->fd, nullptr);
        fds_.erase(it); // a running callback keeps its entry alive
        return;
    }
    auto sit = signal_ids_.find(id);
    if (sit == signal_ids_.end())
        return;
    const int signo = sit->second;
    signal_ids_.erase(sit);
    auto& st = signals_.at(signo);
    std::erase_if(st.watches, [id](const auto& w) { return w.first == id; });
    if (!st.watches.empty())
        return;
    const bool was_blocked = st.was_blocked;
    const struct sigaction old_action = st.old_action;
    signals_.erase(signo);
    update_signalfd();
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    if (!was_blocked) {
        // Consume what is still pending of it before unblocking, or the
        // default action (terminate, for SIGIO and real-time signals) runs.
        const timespec zero = {0, 0};
        while (::sigtimedwait(&one, nullptr, &zero) == signo) {
        }
    }
    ::sigaction(signo, &old_action, nullptr);
    forward_tid[signo].store(0, std::memory_order_relaxed);
    if (!was_blocked)
        pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
}

// ---- signals ----

Loop::Watch Loop::watch_signal(int signo, SignalCallback cb)
{
    check_loop_thread("Loop::watch_signal");
    sigset_t one, old;
    sigemptyset(&one);
    if (sigaddset(&one, signo) < 0)
        throw_errno("sigaddset");
    const std::uint64_t id = next_id_++;
    auto [it, fresh] = signals_.try_emplace(signo);
    if (fresh) {
        pthread_sigmask(SIG_BLOCK, &one, &old);
        it->second.was_blocked = sigismember(&old, signo) == 1;
        forward_tid[signo].store(tid_, std::memory_order_relaxed);
        struct sigaction sa{};
        sa.sa_sigaction = forward_handler;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigfillset(&sa.sa_mask);
        ::sigaction(signo, &sa, &it->second.old_action);
    }
    it->second.watches.emplace_back(id, std::make_shared<SignalEntry>(SignalEntry{std::move(cb)}));
    signal_ids_.emplace(id, signo);
    if (fresh) {
        try {
            update_signalfd();
        } catch (...) {
            remove(id);
            throw;
        }
    }
    return Watch(this, id);
}

void Loop::update_signalfd()
{
    sigset_t mask;
    sigemptyset(&mask);
    for (auto& [signo, st] : signals_)
        sigaddset(&mask, signo);
    if (!sigfd_) {
        if (signals_.empty())
            return;
        UniqueFd fd(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
        if (!fd)
            throw_errno("signalfd");
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = signal_id;
        if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd.get(), &ev) < 0)
            throw_errno("epoll_ctl(EPOLL_CTL_ADD)");
        sigfd_ = std::move(fd);
    } else if (signals_.empty()) {
        sigfd_.reset(); // closing removes it from the epoll set
    } else if (::signalfd(sigfd_.get(), &mask, 0) < 0) {
        throw_errno("signalfd");
    }
}

// Reads the signalfd until it is empty; every signal becomes a
// PendingSignal naming the watches to call, so that a throwing callback
// loses neither the other watches of its signal nor the signals read with it.
std::size_t Loop::dispatch_signals()
{
    std::size_t n = run_signal_backlog();
    signalfd_siginfo info[16];
    for (;;) {
        const ssize_t got = sigfd_ ? ::read(sigfd_.get(), info, sizeof info) : -1;
        if (got <= 0)
            return n; // EAGAIN: drained
        for (std::size_t i = 0; i < static_cast<std::size_t>(got) / sizeof info[0]; ++i) {
            auto it = signals_.find(static_cast<int>(info[i].ssi_signo));
            if (it == signals_.end())
                continue;
            PendingSignal p{info[i], {}, 0};
            for (const auto& w : it->second.watches)
                p.watches.push_back(w.first);
            signal_backlog_.push_back(std::move(p));
        }
        n += run_signal_backlog();
    }
}

std::size_t Loop::run_signal_backlog()
{
    std::size_t n = 0;
    while (!signal_backlog_.empty()) {
        PendingSignal& p = signal_backlog_.front();
        if (p.next == p.watches.size()) {
            signal_backlog_.pop_front();
            continue;
        }
        // Copies: the callback may re-enter run_once and pop `p`.
        const std::uint64_t id = p.watches[p.next++];
        const signalfd_siginfo info = p.info;
        auto it = signals_.find(static_cast<int>(info.ssi_signo));
        if (it == signals_.end())
            continue; // every watch of the signal is gone
        auto w = std::find_if(it->second.watches.begin(), it->second.watches.end(),
                              [id](const auto& e) { return e.first == id; });
        if (w == it->second.watches.end())
            continue; // removed by an earlier callback
        std::shared_ptr<SignalEntry> entry = w->second; // survives its own removal
        entry->cb(info);
        ++n;
    }
    return n;
}

// ---- posting and running ----

// post() and stop() touch the Loop (wakefd_) only while holding post_mu_:
// with the write after the unlock, the loop thread could take the
// callback (woken by an earlier post) or see stop_ (on another event) and
// the Loop be destroyed while this thread was still to write the eventfd
// of a freed Loop, or a reused fd number. ThreadSanitizer reported it
// (test_threads: test_destroy_loop_right_after_stop).
void Loop::post(Callback cb)
{
    std::lock_guard lock(post_mu_);
    posted_.push_back(std::move(cb));
    (void)::eventfd_write(wakefd_.get(), 1);
}

void Loop::stop() noexcept
{
    std::lock_guard lock(post_mu_);
    stop_.store(true, std::memory_order_release);
    (void)::eventfd_write(wakefd_.get(), 1);
}

std::size_t Loop::dispatch_posted()
{
    eventfd_t v;
    (void)::eventfd_read(wakefd_.get(), &v);
    std::vector<Callback> batch;
    {
        std::lock_guard lock(post_mu_);
        batch.swap(posted_);
    }
    std::size_t i = 0;
    try {
        for (; i < batch.size(); ++i)
            batch[i]();
    } catch (...) {
        // Keep the callbacks not yet run, in order, for the next batch.
        std::lock_guard lock(post_mu_);
        posted_.insert(posted_.begin(), std::make_move_iterator(batch.begin() + i + 1),
                       std::make_move_iterator(batch.end()));
        (void)::eventfd_write(wakefd_.get(), 1);
        throw;
    }
    return batch.size();
}

std::size_t Loop::wait_and_dispatch(int timeout_ms)
{
    check_loop_thread("Loop::run_once");
    if (ready_.empty() && signal_backlog_.empty()) {
        epoll_event events[max_events];
        const int n = ::epoll_wait(epfd_.get(), events, max_events, timeout_ms);
        if (n < 0) {
            if (errno == EINTR)
                return 0;
            throw_errno("epoll_wait");
        }
        for (int i = 0; i < n; ++i)
            ready_.emplace_back(std::uint64_t{events[i].data.u64}, std::uint32_t{events[i].events});
    }
    // What an earlier batch left undelivered comes first, in order. Each
    // event leaves ready_ before its callback runs: if the callback
    // throws, the rest stays for the next call.
    std::size_t ran = run_signal_backlog();
    while (!ready_.empty()) {
        const auto [id, events] = ready_.front();
        ready_.pop_front();
        if (id == wake_id) {
            ran += dispatch_posted();
        } else if (id == signal_id) {
            ran += dispatch_signals();
        } else if (auto it = fds_.find(id); it != fds_.end()) {
            std::shared_ptr<FdEntry> entry = it->second; // survives its own removal
            entry->cb(events);
            ++ran;
        }
    }
    return ran;
}

std::size_t Loop::run_once()
{
    return wait_and_dispatch(-1);
}

std::size_t Loop::run_once(std::chrono::milliseconds timeout)
{
    const auto ms = std::max<std::chrono::milliseconds::rep>(0, timeout.count());
    return wait_and_dispatch(static_cast<int>(std::min<decltype(ms)>(ms, INT32_MAX)));
}

void Loop::run()
{
    while (!stop_.load(std::memory_order_acquire))
        run_once();
    // stop_ may be seen before the stop() that set it has written the
    // eventfd and released post_mu_: wait for it, so that the caller may
    // destroy the Loop as soon as run() returns.
    std::lock_guard lock(post_mu_);
    stop_.store(false, std::memory_order_relaxed);
}

// ---- Timer ----

Timer::Timer(Loop& loop, Callback cb)
    : fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC))
{
    if (!fd_)
        throw_errno("timerfd_create");
    // The callback lives in the watch, which the loop keeps alive while it
    // runs: the Timer may be destroyed from inside its own callback.
    watch_ = loop.watch_fd(fd_.get(), EPOLLIN,
                           [fd = fd_.get(), cb = std::move(cb)](std::uint32_t) mutable {
                               std::uint64_t expirations = 0;
                               if (::read(fd, &expirations, sizeof expirations) ==
                                       sizeof expirations &&
                                   expirations > 0)
                                   cb(expirations);
                           });
}

namespace {
timespec to_timespec(std::chrono::nanoseconds d)
{
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(d);
    return {static_cast<time_t>(s.count()), static_cast<long>((d - s).count())};
}
} // namespace

void Timer::start(std::chrono::nanoseconds first, std::chrono::nanoseconds interval)
{
    itimerspec its{};
    its.it_value = to_timespec(std::max(first, std::chrono::nanoseconds(1)));
    its.it_interval = to_timespec(interval);
    if (::timerfd_settime(fd_.get(), 0, &its, nullptr) < 0)
        throw_errno("timerfd_settime");
}

void Timer::stop()
{
    itimerspec its{};
    if (::timerfd_settime(fd_.get(), 0, &its, nullptr) < 0)
        throw_errno("timerfd_settime");
}

} // namespace asyncdev
