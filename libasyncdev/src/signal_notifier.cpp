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

/// An fd's settings before add(), to be put back by remove().
struct SavedFlags {
    int fl;              // F_GETFL
    f_owner_ex owner;    // F_GETOWN_EX
    int sig;             // F_GETSIG
};

constexpr short always = POLLERR | POLLHUP | POLLNVAL;

// Undoes what add() did, and only that: file status flags are shared by
// every dup of the fd and the user may have changed them (O_NONBLOCK ...),
// or the owner or signal, since. O_ASYNC is cleared if add() set it; the
// signal and owner are put back if they are still the ones add() set.
void undo_add(int fd, const SavedFlags& s, int our_signo, pid_t our_tid) noexcept
{
    if (!(s.fl & O_ASYNC)) {
        const int fl = ::fcntl(fd, F_GETFL);
        if (fl >= 0 && (fl & O_ASYNC))
            (void)::fcntl(fd, F_SETFL, fl & ~O_ASYNC);
    }
    if (::fcntl(fd, F_GETSIG) == our_signo)
        (void)::fcntl(fd, F_SETSIG, s.sig);
    f_owner_ex cur{};
    if (::fcntl(fd, F_GETOWN_EX, &cur) == 0 && cur.type == F_OWNER_TID && cur.pid == our_tid) {
        f_owner_ex owner = s.owner;
        (void)::fcntl(fd, F_SETOWN_EX, &owner);
    }
}

} // namespace

// Shared with the watches' callbacks, which hold it (through a weak_ptr
// locked for the duration of the call) so that the notifier may be
// destroyed by any callback it runs, in the middle of a rescan too.
struct SignalNotifier::State : std::enable_shared_from_this<State> {
    struct Entry {
        short events;
        SavedFlags saved;
        Callback cb;
    };
    State(Loop& l, int s) : loop(l), signo(s) {}

    Loop& loop;
    int signo;
    std::uint64_t overflows = 0;
    std::map<int, std::shared_ptr<Entry>> fds;

    void restore(int fd, const SavedFlags& saved) const noexcept
    {
        // In a forked child the file status flags and the owner belong to
        // open file descriptions shared with the parent: leave them.
        if (!loop.forked())
            undo_add(fd, saved, signo, loop.thread_id());
    }

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

    // Poll `which` (all registered fds if empty) and notify the ready
    // ones. The caller holds a reference to this State. If a callback
    // throws, the fds not yet reported are rescanned in a later batch.
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
        for (std::size_t i = 0; i < pfds.size(); ++i) {
            if (!pfds[i].revents)
                continue;
            try {
                notify(pfds[i].fd, pfds[i].revents);
            } catch (...) {
                std::vector<int> rest;
                for (std::size_t j = i + 1; j < pfds.size(); ++j)
                    if (pfds[j].revents)
                        rest.push_back(pfds[j].fd);
                if (!rest.empty())
                    post_rescan(std::move(rest));
                throw;
            }
        }
    }

    void post_rescan(std::vector<int> which)
    {
        loop.post([weak = weak_from_this(), which = std::move(which)] {
            if (auto s = weak.lock())
                s->rescan(which);
        });
    }
};

SignalNotifier::SignalNotifier(Loop& loop, int signo)
    : state_(std::make_shared<State>(loop, signo ? signo : SIGRTMIN + 1))
{
    if (state_->signo < SIGRTMIN || state_->signo > SIGRTMAX)
        throw_system_error(EINVAL, "SignalNotifier: not a real-time signal");
    std::weak_ptr<State> weak = state_;
    rt_watch_ = loop.watch_signal(state_->signo, [weak](const signalfd_siginfo& si) {
        // si_band carries the poll bits (POLLIN|POLLRDNORM..., POLLOUT...).
        if (auto st = weak.lock())
            st->notify(si.ssi_fd, static_cast<short>(si.ssi_band));
    });
    sigio_watch_ = loop.watch_signal(SIGIO, [weak](const signalfd_siginfo&) {
        // The real-time queue overflowed (or someone sent a plain SIGIO):
        // which fds are ready is unknown, so look at all of them.
        if (auto st = weak.lock()) {
            ++st->overflows;
            st->rescan({});
        }
    });
}

std::unique_ptr<SignalNotifier> SignalNotifier::create(Loop& loop, int signo,
                                                       std::error_code& ec)
{
    ec.clear();
    try {
        return std::make_unique<SignalNotifier>(loop, signo);
    } catch (const std::system_error& e) {
        ec = e.code();
    } catch (const std::bad_alloc&) {
        ec = std::make_error_code(std::errc::not_enough_memory);
    }
    return nullptr;
}

SignalNotifier::~SignalNotifier()
{
    for (auto& [fd, e] : state_->fds)
        state_->restore(fd, e->saved);
    state_->fds.clear();
    // The watches then restore the signal mask (declared after state_,
    // destroyed before it).
}

void SignalNotifier::add(int fd, short events, Callback cb)
{
    State& st = *state_;
    st.loop.check_loop_thread("SignalNotifier::add");
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
        st.restore(fd, saved);
        throw_system_error(err, failed);
    }
    st.fds.emplace(fd, std::make_shared<State::Entry>(State::Entry{events, saved, std::move(cb)}));

    // Readiness that predates O_ASYNC raises no signal: check once, later.
    st.post_rescan({fd});
}

void SignalNotifier::remove(int fd) noexcept
{
    auto it = state_->fds.find(fd);
    if (it == state_->fds.end())
        return;
    state_->restore(fd, it->second->saved);
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
