// SPDX-License-Identifier: MIT
#include <asyncdev/error.h>
#include <asyncdev/loop.h>

#include <algorithm>
#include <climits>
#include <cstring>
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

// ---- fork detection ----
// Incremented in every child by a pthread_atfork handler: a Loop built in
// generation g is in a forked child when the generation differs.
std::atomic<unsigned> fork_generation{0};

// ---- the process-wide signal registry ----
// Per signal: how many Loops watch it, the disposition from before the
// first of them, and the threads of those Loops (with how many Loops each
// and whether the thread had the signal blocked before the first). Guarded
// by sig_mu (also held across fork(), so that a child never inherits it
// locked). The handler reads only the atomics below, which are written
// before it is installed.
struct ThreadUse {
    pid_t tid;
    int loops;
    bool was_blocked;
};
struct SignalSlot {
    int users = 0;
    struct sigaction previous {};
    std::vector<ThreadUse> threads; // oldest first
};
std::mutex sig_mu;
SignalSlot& slot(int signo)
{
    // Never destroyed: a signal may arrive during static destruction.
    static SignalSlot* slots = new SignalSlot[_NSIG];
    return slots[signo];
}
std::atomic<pid_t> forward_tid[_NSIG];        // where SIG_DFL signals go
std::atomic<std::uintptr_t> prev_handler[_NSIG]; // previous sa_handler/sa_sigaction
std::atomic<int> prev_flags[_NSIG];           // previous sa_flags

// The calling thread's id, cached: the loop-thread check runs on every
// request, and gettid() is a system call (a quarter to a half of a
// benchmark's time on this library's hot path before the cache). The
// forking thread's copy is reset in the child, whose thread has a new id.
thread_local pid_t cached_tid = 0;
pid_t current_tid() noexcept
{
    if (!cached_tid)
        cached_tid = ::gettid();
    return cached_tid;
}

void atfork_prepare() { sig_mu.lock(); }
void atfork_parent() { sig_mu.unlock(); }
void atfork_child()
{
    sig_mu.unlock();
    cached_tid = 0;
    fork_generation.fetch_add(1, std::memory_order_relaxed);
}

unsigned current_fork_generation()
{
    static const int registered = ::pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    (void)registered;
    return fork_generation.load(std::memory_order_relaxed);
}

using InfoHandler = void (*)(int, siginfo_t*, void*);
using PlainHandler = void (*)(int);

// Calls the disposition recorded before the library's handler, if it was
// a handler; returns false for SIG_DFL. Async-signal-safe.
bool call_previous(int signo, siginfo_t* info, void* uc)
{
    const std::uintptr_t h = prev_handler[signo].load(std::memory_order_acquire);
    if (h == reinterpret_cast<std::uintptr_t>(SIG_DFL))
        return false;
    if (h == reinterpret_cast<std::uintptr_t>(SIG_IGN))
        return true;
    if (prev_flags[signo].load(std::memory_order_relaxed) & SA_SIGINFO)
        reinterpret_cast<InfoHandler>(h)(signo, info, uc);
    else
        reinterpret_cast<PlainHandler>(h)(signo);
    return true;
}

bool previous_is_handler(int signo)
{
    const std::uintptr_t h = prev_handler[signo].load(std::memory_order_acquire);
    return h != reinterpret_cast<std::uintptr_t>(SIG_DFL) &&
           h != reinterpret_cast<std::uintptr_t>(SIG_IGN);
}

// Runs only in a thread that does not block the signal (each loop thread
// blocks it), e.g. glibc's SIGEV_THREAD threads, which unblock everything.
// A previous handler is chained to; SIG_IGN is respected; otherwise the
// signal is re-queued to a loop thread instead of letting the default
// action kill the process. Async-signal-safe: atomics and one syscall.
void forward_handler(int signo, siginfo_t* info, void* uc)
{
    const int saved_errno = errno;
    if (!call_previous(signo, info, uc)) {
        const pid_t tid = forward_tid[signo].load(std::memory_order_relaxed);
        if (tid > 0) {
            siginfo_t copy = *info;
            if (copy.si_code >= 0)
                copy.si_code = SI_QUEUE; // the kernel refuses to forge kernel codes
            (void)::syscall(SYS_rt_tgsigqueueinfo, ::getpid(), tid, signo, &copy);
        }
    }
    errno = saved_errno;
}

bool is_ours(const struct sigaction& sa)
{
    return (sa.sa_flags & SA_SIGINFO) && sa.sa_sigaction == forward_handler;
}

// A Loop of thread `tid` (the calling thread) starts watching `signo`.
void acquire_signal(int signo, pid_t tid)
{
    std::lock_guard lock(sig_mu);
    SignalSlot& s = slot(signo);
    if (s.users == 0) {
        struct sigaction old {};
        if (::sigaction(signo, nullptr, &old) < 0)
            throw_errno("sigaction");
        prev_flags[signo].store(old.sa_flags, std::memory_order_relaxed);
        prev_handler[signo].store(old.sa_flags & SA_SIGINFO
                                      ? reinterpret_cast<std::uintptr_t>(old.sa_sigaction)
                                      : reinterpret_cast<std::uintptr_t>(old.sa_handler),
                                  std::memory_order_release);
        struct sigaction sa {};
        sa.sa_sigaction = forward_handler;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigfillset(&sa.sa_mask);
        if (::sigaction(signo, &sa, nullptr) < 0)
            throw_errno("sigaction");
        s.previous = old;
    }
    ++s.users;
    auto t = std::find_if(s.threads.begin(), s.threads.end(),
                          [tid](const ThreadUse& u) { return u.tid == tid; });
    if (t != s.threads.end()) {
        ++t->loops;
    } else {
        sigset_t one, old;
        sigemptyset(&one);
        sigaddset(&one, signo);
        pthread_sigmask(SIG_BLOCK, &one, &old);
        s.threads.push_back({tid, 1, sigismember(&old, signo) == 1});
    }
    forward_tid[signo].store(s.threads.front().tid, std::memory_order_relaxed);
}

// A Loop of thread `tid` (the calling thread) stops watching `signo`. The
// thread's mask is put back when its last Loop goes; before unblocking,
// the last watch in the process takes what is still pending of the
// signal, or the default action (terminate, for SIGIO and real-time
// signals) would run (while other Loops watch it, the library's handler
// stays and forwards it instead). The last one also puts the previous
// disposition back, unless someone replaced the library's handler since.
void release_signal(int signo, pid_t tid) noexcept
{
    std::lock_guard lock(sig_mu);
    SignalSlot& s = slot(signo);
    bool unblock = false;
    auto t = std::find_if(s.threads.begin(), s.threads.end(),
                          [tid](const ThreadUse& u) { return u.tid == tid; });
    if (t != s.threads.end() && --t->loops == 0) {
        unblock = !t->was_blocked;
        s.threads.erase(t);
    }
    forward_tid[signo].store(s.threads.empty() ? 0 : s.threads.front().tid,
                             std::memory_order_relaxed);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    if (--s.users == 0) {
        if (unblock) {
            const timespec zero = {0, 0};
            while (::sigtimedwait(&one, nullptr, &zero) == signo) {
            }
        }
        struct sigaction cur {};
        if (::sigaction(signo, nullptr, &cur) == 0 && is_ours(cur))
            (void)::sigaction(signo, &s.previous, nullptr);
    }
    if (unblock)
        pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
}

// The siginfo a handler would have received, rebuilt from the signalfd's.
siginfo_t to_siginfo(const signalfd_siginfo& si)
{
    siginfo_t info;
    std::memset(&info, 0, sizeof info);
    info.si_signo = static_cast<int>(si.ssi_signo);
    info.si_errno = si.ssi_errno;
    info.si_code = si.ssi_code;
    const int signo = info.si_signo;
    const bool fault = signo == SIGSEGV || signo == SIGBUS || signo == SIGILL ||
                       signo == SIGFPE || signo == SIGTRAP;
    if (signo == SIGCHLD) {
        info.si_pid = static_cast<pid_t>(si.ssi_pid);
        info.si_uid = si.ssi_uid;
        info.si_status = si.ssi_status;
    } else if (fault) {
        info.si_addr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(si.ssi_addr));
    } else if (si.ssi_code > 0) { // fasync (SIGIO / F_SETSIG): POLL_IN ...
        info.si_band = si.ssi_band;
        info.si_fd = si.ssi_fd;
    } else {
        info.si_pid = static_cast<pid_t>(si.ssi_pid);
        info.si_uid = si.ssi_uid;
        info.si_value.sival_ptr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(si.ssi_ptr));
    }
    return info;
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
    : tid_(current_tid()), fork_generation_(current_fork_generation()),
      epfd_(::epoll_create1(EPOLL_CLOEXEC)),
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

std::unique_ptr<Loop> Loop::create(std::error_code& ec) noexcept
{
    ec.clear();
    try {
        return std::make_unique<Loop>();
    } catch (const std::system_error& e) {
        ec = e.code();
    } catch (...) { // std::bad_alloc
        ec = std::make_error_code(std::errc::not_enough_memory);
    }
    return nullptr;
}

bool Loop::in_loop_thread() const noexcept
{
    return current_tid() == tid_;
}

bool Loop::forked() const noexcept
{
    return fork_generation.load(std::memory_order_relaxed) != fork_generation_;
}

void Loop::check_not_forked(const char* call) const
{
    if (forked())
        throw std::logic_error(std::string(call) +
                               ": Loop used in a child process after fork() (its epoll, "
                               "eventfds and backends are the parent's); build a new Loop");
}

void Loop::check_loop_thread(const char* call) const
{
    check_not_forked(call);
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
    check_loop_thread("Loop::Watch::modify");
    auto it = fds_.find(id);
    if (it == fds_.end())
        throw std::logic_error("Loop::Watch::modify: not an fd watch");
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
        // In a forked child the epoll instance is the parent's: leave it.
        if (!forked())
            (void)::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, it->second->fd, nullptr);
        fds_.erase(it); // a running callback keeps its entry alive
        return;
    }
    if (work_.erase(id))
        return;
    auto sit = signal_ids_.find(id);
    if (sit == signal_ids_.end())
        return;
    const int signo = sit->second;
    signal_ids_.erase(sit);
    auto& st = signals_.at(signo);
    std::erase_if(st.watches, [id](const auto& w) { return w.first == id; });
    if (!st.watches.empty())
        return;
    signals_.erase(signo);
    try {
        update_signalfd();
    } catch (...) {
        // signalfd() cannot fail when narrowing an existing mask.
    }
    release_signal(signo, tid_);
}

// ---- signals ----

Loop::Watch Loop::watch_signal(int signo, SignalCallback cb)
{
    check_loop_thread("Loop::watch_signal");
    sigset_t one;
    sigemptyset(&one);
    if (signo <= 0 || signo >= _NSIG || sigaddset(&one, signo) < 0)
        throw_system_error(EINVAL, "sigaddset");
    const std::uint64_t id = next_id_++;
    const bool fresh = !signals_.contains(signo);
    if (fresh) {
        acquire_signal(signo, tid_); // throws for SIGKILL, SIGSTOP; blocks it here
        signals_.try_emplace(signo);
    }
    auto& st = signals_.at(signo);
    st.watches.emplace_back(id, std::make_shared<SignalEntry>(SignalEntry{std::move(cb)}));
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

Loop::Watch Loop::watch_work(WorkProbe probe)
{
    check_loop_thread("Loop::watch_work");
    const std::uint64_t id = next_id_++;
    work_.emplace(id, std::make_shared<WorkProbe>(std::move(probe)));
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
            PendingSignal p{info[i], {}, 0, previous_is_handler(it->first)};
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
        if (p.chain) {
            // The disposition from before the library was a handler: it
            // gets the signal too, first (see "Signal dispositions").
            p.chain = false;
            siginfo_t si = to_siginfo(p.info);
            (void)call_previous(static_cast<int>(p.info.ssi_signo), &si, nullptr);
            ++n;
            continue;
        }
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
    check_not_forked("Loop::post");
    std::lock_guard lock(post_mu_);
    posted_.push_back(std::move(cb));
    (void)::eventfd_write(wakefd_.get(), 1);
}

void Loop::stop()
{
    check_not_forked("Loop::stop");
    std::lock_guard lock(post_mu_);
    stop_.store(true, std::memory_order_release);
    (void)::eventfd_write(wakefd_.get(), 1);
}

// Async-signal-safe: a lock-free atomic and write(2), nothing else.
void Loop::wakeup() noexcept
{
    const int saved_errno = errno;
    const std::uint64_t one = 1;
    (void)!::write(wakefd_.get(), &one, sizeof one);
    errno = saved_errno;
}

void Loop::stop_from_signal() noexcept
{
    static_assert(std::atomic<bool>::is_always_lock_free);
    stop_.store(true, std::memory_order_release);
    wakeup();
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
    try {
        return dispatch_ready();
    } catch (...) {
        // What stays for the next call is not visible to epoll: keep
        // native_handle() readable for a foreign loop polling it.
        if (!ready_.empty() || !signal_backlog_.empty())
            wakeup();
        throw;
    }
}

// What an earlier batch left undelivered comes first, in order. Each
// event leaves ready_ before its callback runs: if the callback throws,
// the rest stays for the next call.
std::size_t Loop::dispatch_ready()
{
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
    check_loop_thread("Loop::run_once");
    return wait_and_dispatch(-1);
}

std::size_t Loop::run_once_for(std::chrono::nanoseconds timeout, bool forever)
{
    using namespace std::chrono;
    check_loop_thread("Loop::run_once");
    if (forever)
        return wait_and_dispatch(-1);
    const auto start = steady_clock::now();
    if (timeout > steady_clock::time_point::max() - start)
        return wait_and_dispatch(-1); // beyond the clock's range: forever
    const auto deadline = start + timeout;
    for (;;) {
        const auto left = ceil<milliseconds>(deadline - steady_clock::now());
        const auto ms = std::clamp<milliseconds::rep>(left.count(), 0, INT_MAX);
        if (ms < INT_MAX || !ready_.empty() || !signal_backlog_.empty())
            return wait_and_dispatch(static_cast<int>(ms));
        // Longer than epoll_wait takes: wait in slices until something
        // arrives. Nothing dispatched and nothing read means a timeout.
        epoll_event ev;
        const int n = ::epoll_wait(epfd_.get(), &ev, 1, INT_MAX);
        if (n < 0 && errno != EINTR)
            throw_errno("epoll_wait");
        if (n != 0)
            return wait_and_dispatch(0); // a peek: dispatch it the usual way
    }
}

void Loop::run()
{
    check_loop_thread("Loop::run");
    while (!stop_.load(std::memory_order_acquire))
        wait_and_dispatch(-1);
    // stop_ may be seen before the stop() that set it has written the
    // eventfd and released post_mu_: wait for it, so that the caller may
    // destroy the Loop as soon as run() returns.
    std::lock_guard lock(post_mu_);
    stop_.store(false, std::memory_order_relaxed);
}

bool Loop::pending()
{
    check_loop_thread("Loop::pending");
    if (!ready_.empty() || !signal_backlog_.empty())
        return true;
    {
        std::lock_guard lock(post_mu_);
        if (!posted_.empty())
            return true;
    }
    std::vector<std::shared_ptr<WorkProbe>> probes;
    probes.reserve(work_.size());
    for (auto& [id, probe] : work_)
        probes.push_back(probe);
    for (auto& probe : probes)
        if ((*probe)())
            return true;
    return false;
}

std::size_t Loop::run_until_idle()
{
    check_loop_thread("Loop::run_until_idle");
    std::size_t ran = 0;
    while (!stop_.load(std::memory_order_acquire)) {
        const bool busy = pending();
        ran += wait_and_dispatch(busy ? -1 : 0);
        if (!busy && !pending())
            break;
    }
    std::lock_guard lock(post_mu_); // as in run()
    stop_.store(false, std::memory_order_relaxed);
    return ran;
}

// ---- Timer ----

struct Timer::Armed {
    bool armed = false;
    bool periodic = false;
};

Timer::Timer(Loop& loop, Callback cb)
    : loop_(&loop), fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)),
      armed_(std::make_shared<Armed>())
{
    if (!fd_)
        throw_errno("timerfd_create");
    work_ = loop.watch_work([armed = armed_] { return armed->armed; });
    // The callback lives in the watch, which the loop keeps alive while it
    // runs: the Timer may be destroyed from inside its own callback.
    watch_ = loop.watch_fd(fd_.get(), EPOLLIN,
                           [fd = fd_.get(), armed = armed_, cb = std::move(cb)](std::uint32_t) mutable {
                               std::uint64_t expirations = 0;
                               if (::read(fd, &expirations, sizeof expirations) ==
                                       sizeof expirations &&
                                   expirations > 0) {
                                   if (!armed->periodic)
                                       armed->armed = false;
                                   cb(expirations);
                               }
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
    loop_->check_loop_thread("Timer::start"); // the timerfd is shared after fork()
    itimerspec its{};
    its.it_value = to_timespec(std::max(first, std::chrono::nanoseconds(1)));
    its.it_interval = to_timespec(interval);
    if (::timerfd_settime(fd_.get(), 0, &its, nullptr) < 0)
        throw_errno("timerfd_settime");
    armed_->armed = true;
    armed_->periodic = interval > std::chrono::nanoseconds::zero();
}

void Timer::stop()
{
    loop_->check_loop_thread("Timer::stop");
    itimerspec its{};
    if (::timerfd_settime(fd_.get(), 0, &its, nullptr) < 0)
        throw_errno("timerfd_settime");
    armed_->armed = false;
    // An expiry already counted but not yet read stays unread: drop it.
    std::uint64_t expirations;
    (void)!::read(fd_.get(), &expirations, sizeof expirations);
}

} // namespace asyncdev
