// SignalNotifier: O_ASYNC/F_SETSIG readiness on pipes, sockets and ttys,
// and restoration of the fd flags and the signal mask.
#include "test_util.h"

#include <csignal>
#include <map>
#include <thread>

#include <poll.h>
#include <pty.h>
#include <termios.h>

using namespace test;

namespace {

struct FdState {
    int fl, sig;
    f_owner_ex owner;
};

FdState fd_state(int fd)
{
    FdState s{};
    s.fl = ::fcntl(fd, F_GETFL);
    s.sig = ::fcntl(fd, F_GETSIG);
    ::fcntl(fd, F_GETOWN_EX, &s.owner);
    return s;
}

bool is_blocked(int signo)
{
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, nullptr, &cur);
    return sigismember(&cur, signo) == 1;
}

} // namespace

static void test_pipe_readable_reports_pollin(void**)
{
    asyncdev::Loop loop;
    asyncdev::SignalNotifier n(loop);
    Pair p = make_pipe(O_NONBLOCK | O_CLOEXEC);
    short got = 0;
    std::string data;
    n.add(p.a.get(), POLLIN, [&](short revents) {
        got |= revents;
        char buf[64];
        ssize_t r;
        while ((r = ::read(p.a.get(), buf, sizeof buf)) > 0)
            data.append(buf, static_cast<std::size_t>(r));
    });
    loop.run_once(10ms); // initial check: nothing ready
    assert_int_equal(got, 0);
    assert_int_equal(::write(p.b.get(), "hello", 5), 5);
    assert_true(run_until(loop, [&] { return data == "hello"; }));
    assert_true(got & POLLIN);
    assert_int_equal(n.overflows(), 0);
}

static void test_write_from_other_thread_is_delivered_on_loop_thread(void**)
{
    asyncdev::Loop loop;
    asyncdev::SignalNotifier n(loop);
    Pair p = make_pipe(O_NONBLOCK | O_CLOEXEC);
    pid_t ran_on = 0;
    n.add(p.a.get(), POLLIN, [&](short) {
        char c;
        while (::read(p.a.get(), &c, 1) > 0) {
        }
        ran_on = ::gettid();
    });
    std::thread t([&] { (void)!::write(p.b.get(), "x", 1); });
    t.join();
    assert_true(run_until(loop, [&] { return ran_on != 0; }));
    assert_int_equal(ran_on, loop.thread_id());
}

static void test_socketpair_both_directions(void**)
{
    asyncdev::Loop loop;
    asyncdev::SignalNotifier n(loop);
    Pair s = make_socketpair();
    int a_in = 0, b_in = 0;
    auto drain = [](int fd, int& count) {
        return [fd, &count](short revents) {
            if (!(revents & POLLIN))
                return;
            char buf[16];
            while (::recv(fd, buf, sizeof buf, 0) > 0)
                ++count;
        };
    };
    n.add(s.a.get(), POLLIN, drain(s.a.get(), a_in));
    n.add(s.b.get(), POLLIN, drain(s.b.get(), b_in));
    assert_int_equal(::send(s.a.get(), "ping", 4, 0), 4);
    assert_true(run_until(loop, [&] { return b_in == 1; }));
    assert_int_equal(a_in, 0);
    assert_int_equal(::send(s.b.get(), "pong", 4, 0), 4);
    assert_true(run_until(loop, [&] { return a_in == 1; }));
}

static void test_tty_readable(void**)
{
    int master, slave;
    if (::openpty(&master, &slave, nullptr, nullptr, nullptr) < 0) {
        skip(); // no ptys in this environment
        return;
    }
    asyncdev::UniqueFd m(master), s(slave);
    termios tio;
    ::tcgetattr(slave, &tio);
    ::cfmakeraw(&tio);
    ::tcsetattr(slave, TCSANOW, &tio);
    ::fcntl(slave, F_SETFL, ::fcntl(slave, F_GETFL) | O_NONBLOCK);

    asyncdev::Loop loop;
    asyncdev::SignalNotifier n(loop);
    std::string data;
    n.add(slave, POLLIN, [&](short) {
        char buf[64];
        ssize_t r;
        while ((r = ::read(slave, buf, sizeof buf)) > 0)
            data.append(buf, static_cast<std::size_t>(r));
    });
    assert_int_equal(::write(master, "tty!", 4), 4);
    assert_true(run_until(loop, [&] { return data == "tty!"; }));
}

static void test_pipe_writable_after_drain_reports_pollout(void**)
{
    asyncdev::Loop loop;
    asyncdev::SignalNotifier n(loop);
    Pair p = make_pipe(O_NONBLOCK | O_CLOEXEC);
    char block[4096] = {};
    while (::write(p.b.get(), block, sizeof block) > 0) {
    }
    int writable = 0;
    n.add(p.b.get(), POLLOUT, [&](short revents) {
        if (revents & POLLOUT)
            ++writable;
    });
    loop.run_once(10ms);
    assert_int_equal(writable, 0); // full: not writable
    while (::read(p.a.get(), block, sizeof block) > 0) {
    }
    assert_true(run_until(loop, [&] { return writable > 0; }));
}

static void test_ready_before_add_is_reported(void**)
{
    asyncdev::Loop loop;
    asyncdev::SignalNotifier n(loop);
    Pair p = make_pipe(O_NONBLOCK | O_CLOEXEC);
    assert_int_equal(::write(p.b.get(), "early", 5), 5);
    int calls = 0;
    n.add(p.a.get(), POLLIN, [&](short revents) { calls += (revents & POLLIN) ? 1 : 0; });
    assert_int_equal(calls, 0); // never from inside add()
    assert_true(run_until(loop, [&] { return calls == 1; }));
}

static void test_writer_close_is_notified_as_eof(void**)
{
    asyncdev::Loop loop;
    asyncdev::SignalNotifier n(loop);
    Pair p = make_pipe(O_NONBLOCK | O_CLOEXEC);
    bool eof = false;
    n.add(p.a.get(), POLLIN, [&](short) {
        char c;
        eof = ::read(p.a.get(), &c, 1) == 0;
    });
    loop.run_once(10ms);
    assert_false(eof);
    p.b.reset(); // pipe_release() raises POLL_IN for the readers
    assert_true(run_until(loop, [&] { return eof; }));
}

static void test_remove_and_destroy_restore_fd_flags(void**)
{
    Pair p = make_pipe(O_NONBLOCK | O_CLOEXEC);
    Pair q = make_pipe(O_NONBLOCK | O_CLOEXEC);
    // A previous owner/signal on q that must come back.
    f_owner_ex prev{F_OWNER_PID, ::getpid()};
    ::fcntl(q.a.get(), F_SETOWN_EX, &prev);
    ::fcntl(q.a.get(), F_SETSIG, SIGUSR2);
    const FdState before_p = fd_state(p.a.get());
    const FdState before_q = fd_state(q.a.get());
    const bool rt_blocked = is_blocked(SIGRTMIN + 1), io_blocked = is_blocked(SIGIO);
    {
        asyncdev::Loop loop;
        asyncdev::SignalNotifier n(loop);
        n.add(p.a.get(), POLLIN, [](short) {});
        n.add(q.a.get(), POLLIN, [](short) {});
        const FdState during = fd_state(p.a.get());
        assert_true(during.fl & O_ASYNC);
        assert_int_equal(during.sig, n.signal());
        assert_int_equal(during.owner.type, F_OWNER_TID);
        assert_int_equal(during.owner.pid, loop.thread_id());
        assert_true(is_blocked(n.signal()));
        assert_true(is_blocked(SIGIO));

        n.remove(p.a.get());
        const FdState after = fd_state(p.a.get());
        assert_int_equal(after.fl, before_p.fl);
        assert_int_equal(after.sig, before_p.sig);
        assert_int_equal(after.owner.type, before_p.owner.type);
        assert_int_equal(after.owner.pid, before_p.owner.pid);
        // Readiness changes now raise nothing (a stray SIGIO would be seen).
        (void)!::write(p.b.get(), "x", 1);
        loop.run_once(10ms);
    } // destructor restores q
    const FdState after_q = fd_state(q.a.get());
    assert_int_equal(after_q.fl, before_q.fl);
    assert_int_equal(after_q.sig, SIGUSR2);
    assert_int_equal(after_q.owner.type, F_OWNER_PID);
    assert_int_equal(after_q.owner.pid, ::getpid());
    assert_int_equal(is_blocked(SIGRTMIN + 1), rt_blocked);
    assert_int_equal(is_blocked(SIGIO), io_blocked);
}

static void test_add_twice_and_bad_fd_throw(void**)
{
    asyncdev::Loop loop;
    asyncdev::SignalNotifier n(loop);
    Pair p = make_pipe();
    n.add(p.a.get(), POLLIN, [](short) {});
    try {
        n.add(p.a.get(), POLLIN, [](short) {});
        fail_msg("no exception");
    } catch (const std::system_error& e) {
        assert_int_equal(e.code().value(), EEXIST);
    }
    try {
        n.add(999, POLLIN, [](short) {});
        fail_msg("no exception");
    } catch (const std::system_error& e) {
        assert_int_equal(e.code().value(), EBADF);
        assert_string_equal(e.what(), "fcntl(F_GETFL): Bad file descriptor");
    }
}

static void test_callback_may_remove_its_fd(void**)
{
    asyncdev::Loop loop;
    asyncdev::SignalNotifier n(loop);
    Pair p = make_pipe(O_NONBLOCK | O_CLOEXEC);
    int calls = 0;
    n.add(p.a.get(), POLLIN, [&](short) {
        ++calls;
        n.remove(p.a.get());
    });
    (void)!::write(p.b.get(), "a", 1);
    assert_true(run_until(loop, [&] { return calls == 1; }));
    (void)!::write(p.b.get(), "b", 1);
    loop.run_once(20ms);
    assert_int_equal(calls, 1);
    assert_int_equal(fd_state(p.a.get()).fl & O_ASYNC, 0);
}

// Issue 13, defect 5: remove() clears only what add() set. Flags, owner
// and signal the user changed after add() (file status flags are shared by
// dup'd fds) stay as the user left them.
static void test_remove_keeps_what_the_user_changed_after_add(void**)
{
    asyncdev::Loop loop;
    asyncdev::SignalNotifier n(loop);
    Pair p = make_pipe(O_CLOEXEC); // blocking
    Pair q = make_pipe(O_CLOEXEC);
    const FdState before_q = fd_state(q.a.get());
    n.add(p.a.get(), POLLIN, [](short) {});
    n.add(q.a.get(), POLLIN, [](short) {});
    const int fl = ::fcntl(p.a.get(), F_GETFL);
    assert_int_equal(::fcntl(p.a.get(), F_SETFL, fl | O_NONBLOCK), 0);
    f_owner_ex mine{F_OWNER_PID, ::getpid()};
    assert_int_equal(::fcntl(p.a.get(), F_SETOWN_EX, &mine), 0);
    assert_int_equal(::fcntl(p.a.get(), F_SETSIG, SIGUSR2), 0);
    n.remove(p.a.get());
    const FdState after = fd_state(p.a.get());
    assert_true(after.fl & O_NONBLOCK);
    assert_int_equal(after.fl & O_ASYNC, 0);
    assert_int_equal(after.owner.type, F_OWNER_PID);
    assert_int_equal(after.owner.pid, ::getpid());
    assert_int_equal(after.sig, SIGUSR2);
    // Unchanged since add(): owner and signal are put back as they were.
    assert_int_equal(::fcntl(q.a.get(), F_SETFL, ::fcntl(q.a.get(), F_GETFL) | O_NONBLOCK), 0);
    n.remove(q.a.get());
    const FdState after_q = fd_state(q.a.get());
    assert_int_equal(after_q.fl, before_q.fl | O_NONBLOCK);
    assert_int_equal(after_q.sig, before_q.sig);
    assert_int_equal(after_q.owner.type, before_q.owner.type);
    assert_int_equal(after_q.owner.pid, before_q.owner.pid);
}

// Issue 13, defect 2: three fds ready in one signalfd batch, the first
// callback throws: the other two still run, in the next run_once.
static void test_throwing_callback_keeps_other_fds_notifications(void**)
{
    asyncdev::Loop loop;
    asyncdev::SignalNotifier n(loop);
    std::vector<Pair> ps;
    int calls[3] = {0, 0, 0};
    bool thrown = false;
    for (int i = 0; i < 3; ++i) {
        ps.push_back(make_pipe(O_NONBLOCK | O_CLOEXEC));
        const int fd = ps.back().a.get();
        n.add(fd, POLLIN, [&, fd, i](short) {
            char buf[8];
            while (::read(fd, buf, sizeof buf) > 0) {
            }
            ++calls[i];
            if (!std::exchange(thrown, true))
                throw std::runtime_error("first");
        });
    }
    loop.run_once(0ms); // the initial checks: nothing ready
    for (auto& p : ps)
        assert_int_equal(::write(p.b.get(), "x", 1), 1); // three RT signals
    bool caught = false;
    try {
        loop.run_once(0ms);
    } catch (const std::runtime_error&) {
        caught = true;
    }
    assert_true(caught);
    loop.run_once(0ms);
    loop.run_once(0ms);
    for (int c : calls)
        assert_int_equal(c, 1);
}

int main()
{
    test::filter_from_env();
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_pipe_readable_reports_pollin),
        cmocka_unit_test(test_write_from_other_thread_is_delivered_on_loop_thread),
        cmocka_unit_test(test_socketpair_both_directions),
        cmocka_unit_test(test_tty_readable),
        cmocka_unit_test(test_pipe_writable_after_drain_reports_pollout),
        cmocka_unit_test(test_ready_before_add_is_reported),
        cmocka_unit_test(test_writer_close_is_notified_as_eof),
        cmocka_unit_test(test_remove_and_destroy_restore_fd_flags),
        cmocka_unit_test(test_add_twice_and_bad_fd_throw),
        cmocka_unit_test(test_callback_may_remove_its_fd),
        cmocka_unit_test(test_remove_keeps_what_the_user_changed_after_add),
        cmocka_unit_test(test_throwing_callback_keeps_other_fds_notifications),
    };
    return cmocka_run_group_tests_name("signal_notifier", tests, nullptr, nullptr);
}
