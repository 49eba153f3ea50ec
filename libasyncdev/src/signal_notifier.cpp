// SPDX-License-Identifier: MIT
#include <asyncdev/error.h>
#include <asyncdev/signal_notifier.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <map>
#include <vector>

#include <fcntl.h>
#include <poll.h>

namespace asyncdev {

namespace {

/// What add() changed on an fd, to be put back by remove().
struct SavedFlags {
    int fl;              // F_GETFL
    f_owner_ex owner;    // F_GETOWN_EX
    int sig;             // F_GETSIG
};

constexpr short always = POLLERR | POLLHUP | POLLNVAL;

void restore(int fd, const SavedFlags& s) noexcept
{
    (void)::fcntl(fd, F_SETFL, s.fl);
    (void)::fcntl(fd, F_SETSIG, s.sig);
    f_owner_ex owner = s.owner;
    (void)::fcntl(fd, F_SETOWN_EX, &owner);
}

} // namespace

struct SignalNotifier::State {
    struct Entry {
        short events;
        SavedFlags saved;
        Callback cb;
    };
    Loop& loop;
    int signo;
    std::uint64_t overflows = 0;
    std::map<int, std::shared_ptr<Entry>> fds;

    void notify(int fd, short revents)
    {
        auto it = fds.find(fd);
        if (it == fds.end())
            return; // stale signal for a removed fd
        std::shared_ptr<Entry> e = it->second; // survives remove() in the callback
        revents &= static_cast<short>(e->events | always);
        if (revents)
            e->cb(revents);
    }

    // Poll `which` (all registered fds if empty) and notify the ready ones.
    void rescan(const std::vector<int>& which)
    {
        std::vector<pollfd> pfds;
        for (auto& [fd, e] : fds)
            if (which.empty() || std::find(which.begin(), which.end(), fd) != which.end())
                pfds.push_back({fd, e->events, 0});
        int n;
        do
            n = ::poll(pfds.data(), pfds.size(), 0);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
            return;
        for (const pollfd& p : pfds)
            if (p.revents)
                notify(p.fd, p.revents);
    }
};

SignalNotifier::SignalNotifier(Loop& loop, int signo)
    : state_(std::make_shared<State>(State{loop, signo ? signo : SIGRTMIN + 1, 0, {}}))
{
    if (state_->signo < SIGRTMIN || state_->signo > SIGRTMAX)
        throw_system_error(EINVAL, "SignalNotifier: not a real-time signal");
    State* st = state_.get();
    rt_watch_ = loop.watch_signal(st->signo, [st](const signalfd_siginfo& si) {
        // si_band carries the poll bits (POLLIN|POLLRDNORM..., POLLOUT...).
        st->notify(si.ssi_fd, static_cast<short>(si.ssi_band));
    });
    sigio_watch_ = loop.watch_signal(SIGIO, [st](const signalfd_siginfo&) {
        // The real-time queue overflowed (or someone sent a plain SIGIO):
        // which fds are ready is unknown, so look at all of them.
        ++st->overflows;
        st->rescan({});
    });
}

SignalNotifier::~SignalNotifier()
{
    for (auto& [fd, e] : state_->fds)
        restore(fd, e->saved);
    state_->fds.clear();
    // The watches then restore the signal mask (declared after state_,
    // destroyed before it).
}

void SignalNotifier::add(int fd, short events, Callback cb)
{
    State& st = *state_;
    if (st.fds.contains(fd))
        throw_system_error(EEXIST, "SignalNotifier::add");
    SavedFlags saved{};
    saved.fl = ::fcntl(fd, F_GETFL);
    if (saved.fl < 0)
        throw_errno("fcntl(F_GETFL)");
    if (::fcntl(fd, F_GETOWN_EX, &saved.owner) < 0)
        throw_errno("fcntl(F_GETOWN_EX)");
    saved.sig = ::fcntl(fd, F_GETSIG);
    if (saved.sig < 0)
        throw_errno("fcntl(F_GETSIG)");

    f_owner_ex owner{F_OWNER_TID, st.loop.thread_id()};
    const char* failed = nullptr;
    if (::fcntl(fd, F_SETOWN_EX, &owner) < 0)
        failed = "fcntl(F_SETOWN_EX)";
    else if (::fcntl(fd, F_SETSIG, st.signo) < 0)
        failed = "fcntl(F_SETSIG)";
    else if (::fcntl(fd, F_SETFL, saved.fl | O_ASYNC) < 0)
        failed = "fcntl(F_SETFL, O_ASYNC)";
    if (failed) {
        const int err = errno;
        restore(fd, saved);
        throw_system_error(err, failed);
    }
    st.fds.emplace(fd, std::make_shared<State::Entry>(State::Entry{events, saved, std::move(cb)}));

    // Readiness that predates O_ASYNC raises no signal: check once, later.
    std::weak_ptr<State> weak = state_;
    st.loop.post([weak, fd] {
        if (auto s = weak.lock())
            s->rescan({fd});
    });
}

void SignalNotifier::remove(int fd) noexcept
{
    auto it = state_->fds.find(fd);
    if (it == state_->fds.end())
        return;
    restore(fd, it->second->saved);
    state_->fds.erase(it);
}

int SignalNotifier::signal() const noexcept
{
    return state_->signo;
}

std::uint64_t SignalNotifier::overflows() const noexcept
{
    return state_->overflows;
}

} // namespace asyncdev
